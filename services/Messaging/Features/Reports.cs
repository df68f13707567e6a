using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ReportRequest(string? Reason);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ResolveReportRequest(string? Resolution);

public sealed record ReportDto(
    Guid Id, Guid ConversationId, Guid MessageId, long MessageSeq, Guid ReportedBy, string Reason, string Status, DateTimeOffset ReportedAt,
    long Seq, Guid? ResolvedBy, DateTimeOffset? ResolvedAt, string? Resolution)
{
    public static ReportDto From(MessageReport r) =>
        new(r.Id, r.ConversationId, r.MessageId, r.MessageSeq, r.ReportedBy, r.Reason, r.Status, r.ReportedAt, r.Seq, r.ResolvedBy, r.ResolvedAt, r.Resolution);
}

/// <summary>
/// Reports: <c>POST /conversations/{id}/messages/{messageId}/reports</c> <c>{ reason }</c> (members) appends
/// <c>message.reported</c> and opens a <see cref="MessageReport"/>; <c>GET /moderation/reports?status=</c> is the review
/// queue of the conversations the caller moderates (owners and admins of groups and channels) or, for platform admins,
/// of all; <c>POST /moderation/reports/{id}/resolve</c> closes one.
/// </summary>
public static class Reports
{
    public const int MaxReasonLength = 500;
    public const int MaxModeratedConversations = 1000;

    public static Decision DecideReport(Membership? reporter, Guid reporterId, MessageView? message, Guid conversationId, string? reason, Guid reportId, DateTimeOffset now)
    {
        if (reporter is not { Active: true })
            return DomainError.ConversationNotFound;
        if (message is null || message.ConversationId != conversationId || message.Deleted)
            return DomainError.MessageNotFound;
        var cleaned = ConversationRules.CleanText(reason)?.Trim();
        if (string.IsNullOrEmpty(cleaned) || cleaned.Length > MaxReasonLength)
            return DomainError.Invalid($"reason is required: 1 to {MaxReasonLength} characters.");
        if (message.SenderId == reporterId)
            return DomainError.Invalid("You cannot report your own message.");
        return Decision.Of(new MessageReported(reportId, message.Id, reporterId, cleaned, now));
    }

    public static void MapReports(this RouteGroupBuilder conversations) =>
        conversations.MapPost("/{id:guid}/messages/{messageId:guid}/reports", Report).WithName("ReportMessage");

    public static RouteGroupBuilder MapReportQueue(this RouteGroupBuilder reports)
    {
        reports.MapGet("/", List).WithName("ListReports");
        reports.MapPost("/{reportId:guid}/resolve", Resolve).WithName("ResolveReport");
        return reports;
    }

    private static async Task<Results<Created<ReportDto>, Ok<ReportDto>, ProblemHttpResult>> Report(
        Guid id, Guid messageId, ReportRequest request, HttpContext http, ConversationWriter writer, IQuerySession session, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (ConversationRules.CleanText(request.Reason)?.Trim() is not { Length: > 0 and <= MaxReasonLength })
            return Http.Invalid($"reason is required: 1 to {MaxReasonLength} characters.");
        // One open report per member and message: reporting again answers the first.
        if (await session.MembershipAsync(id, userId, cancellationToken) is { Active: true }
            && await session.Query<MessageReport>().FirstOrDefaultAsync(r => r.MessageId == messageId && r.ReportedBy == userId && r.Status == MessageReport.Open, cancellationToken)
                is { } earlier && earlier.ConversationId == id)
            return TypedResults.Ok(ReportDto.From(earlier));
        var reportId = Guid.CreateVersion7();
        var result = await writer.WriteAsync(id, new Preload([userId], [messageId]), async context =>
            DecideReport(await context.Member(userId, cancellationToken), userId, await context.Message(messageId, cancellationToken), id, request.Reason, reportId,
                time.GetUtcNow()), cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var report = await session.LoadAsync<MessageReport>(reportId, cancellationToken);
        return TypedResults.Created($"/api/v1/moderation/reports/{reportId}", ReportDto.From(report!));
    }

    private static async Task<Results<Ok<Page<ReportDto>>, ProblemHttpResult>> List(
        string? status, Guid? after, int? limit, HttpContext http, IQuerySession session, Microsoft.Extensions.Options.IOptions<MessagingOptions> options,
        CancellationToken cancellationToken)
    {
        if (status is not null and not (MessageReport.Open or MessageReport.Resolved))
            return Http.Invalid("status is open or resolved (or left out: both).");
        var size = Http.PageSize(limit, options.Value);
        var from = after ?? Guid.Empty;
        var query = session.Query<MessageReport>().Where(r => r.Id > from);
        if (status is not null)
            query = query.Where(r => r.Status == status);
        if (!http.User.IsInRole("admin"))
        {
            var moderated = await ModeratedAsync(session, http.User.UserId(), cancellationToken);
            if (moderated.Count == 0)
                return TypedResults.Ok(new Page<ReportDto>([], null));
            var ids = moderated.ToArray();
            query = query.Where(r => r.ConversationId.IsOneOf(ids));
        }
        var page = await query.OrderBy(r => r.Id).Take(size + 1).ToListAsync(cancellationToken);
        var items = page.Take(size).Select(ReportDto.From).ToList();
        return TypedResults.Ok(new Page<ReportDto>(items, page.Count > size ? items[^1].Id.ToString() : null));
    }

    private static async Task<Results<Ok<ReportDto>, ProblemHttpResult>> Resolve(
        Guid reportId, ResolveReportRequest? request, HttpContext http, IDocumentSession session, TimeProvider time, CancellationToken cancellationToken)
    {
        var notFound = new DomainError(StatusCodes.Status404NotFound, "Report not found", "There is no such report, or you do not moderate its conversation.");
        if (await session.LoadAsync<MessageReport>(reportId, cancellationToken) is not { } report)
            return Http.Problem(notFound);
        var userId = http.User.UserId();
        if (!http.User.IsInRole("admin") && !(await ModeratedAsync(session, userId, cancellationToken)).Contains(report.ConversationId))
            return Http.Problem(notFound);
        var resolution = ConversationRules.CleanText(request?.Resolution)?.Trim();
        if (resolution is { Length: > MaxReasonLength })
            return Http.Invalid($"resolution holds at most {MaxReasonLength} characters.");
        if (report.Status == MessageReport.Resolved)
            return TypedResults.Ok(ReportDto.From(report));
        var resolved = report with
        {
            Status = MessageReport.Resolved,
            ResolvedBy = userId,
            ResolvedAt = time.GetUtcNow(),
            Resolution = string.IsNullOrEmpty(resolution) ? null : resolution,
        };
        session.Store(resolved);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(ReportDto.From(resolved));
    }

    /// <summary>The conversations the user moderates: owner or admin of a group or channel (a direct conversation has no moderators).</summary>
    private static async Task<HashSet<Guid>> ModeratedAsync(IQuerySession session, Guid userId, CancellationToken cancellationToken)
    {
        var roles = new[] { MemberRole.Admin, MemberRole.Owner };
        var memberships = await session.Query<Membership>()
            .Where(m => m.UserId == userId && m.Active && m.Role.IsOneOf(roles))
            .Select(m => m.ConversationId)
            .Take(MaxModeratedConversations)
            .ToListAsync(cancellationToken);
        if (memberships.Count == 0)
            return [];
        var ids = memberships.ToArray();
        var direct = await session.Query<ConversationView>().Where(c => c.Id.IsOneOf(ids) && c.Kind == ConversationKind.Direct).Select(c => c.Id)
            .ToListAsync(cancellationToken);
        return memberships.Except(direct).ToHashSet();
    }
}
