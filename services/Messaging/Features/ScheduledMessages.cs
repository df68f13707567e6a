using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record ScheduleMessageRequest(string? ClientMessageId, string? Text, Guid[]? Attachments, DateTimeOffset? SendAt);

public sealed record UpdateScheduledMessageRequest(string? Text, DateTimeOffset? SendAt);

/// <summary>
/// A message waiting to be sent: <see cref="State"/> <c>pending</c> until its time, then <c>sent</c> (<see cref="MessageId"/>)
/// or <c>failed</c> (<see cref="Error"/> says why: the sender could no longer post there).
/// </summary>
public sealed record ScheduledMessageDto(
    Guid Id, Guid ConversationId, string ClientMessageId, string Text, IReadOnlyList<Guid> Attachments, DateTimeOffset SendAt, string State,
    Guid? MessageId, string? Error, DateTimeOffset CreatedAt)
{
    public static ScheduledMessageDto From(ScheduledMessage m) =>
        new(m.Id, m.ConversationId, m.ClientMessageId, m.Text, m.Attachments, m.SendAt, m.State.ToString().ToLowerInvariant(), m.MessageId, m.Error, m.CreatedAt);
}

/// <summary>
/// Scheduled messages: stored until their time, then sent through the normal send path by whichever Messaging
/// instance claims them first (<see cref="ScheduledMessageSender"/>). The author edits or cancels one while it is pending;
/// each change locks its row, so a change and the send never cross.
/// </summary>
public static class ScheduledMessages
{
    public static void MapScheduledMessages(this RouteGroupBuilder group)
    {
        group.MapPost("/{id:guid}/scheduled-messages", Create).WithName("ScheduleMessage");
        group.MapGet("/{id:guid}/scheduled-messages", List).WithName("ListScheduledMessages");
        group.MapPatch("/{id:guid}/scheduled-messages/{scheduledId:guid}", Update).WithName("UpdateScheduledMessage");
        group.MapDelete("/{id:guid}/scheduled-messages/{scheduledId:guid}", Cancel).WithName("CancelScheduledMessage");
    }

    private static readonly DomainError NotFound = new(StatusCodes.Status404NotFound, "Scheduled message not found", "There is no such scheduled message of yours in this conversation.");

    /// <summary>Null when the time is acceptable: in the future and no further than the limit.</summary>
    public static DomainError? CheckSendAt(DateTimeOffset? sendAt, DateTimeOffset now, MessagingOptions options) =>
        sendAt is not { } at ? DomainError.Invalid("sendAt is required: an ISO 8601 time in the future.")
        : at <= now ? DomainError.Invalid("sendAt must be in the future.")
        : at > now + options.MaxScheduleAhead ? DomainError.Invalid($"sendAt is at most {options.MaxScheduleAhead.TotalDays:0} days away.")
        : null;

    private static async Task<Results<Created<ScheduledMessageDto>, ProblemHttpResult>> Create(
        Guid id, ScheduleMessageRequest request, HttpContext http, IDocumentSession session, IOptions<MessagingOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var now = time.GetUtcNow();
        if (SendMessage.Validate(new SendMessageRequest(request.ClientMessageId, request.Text, request.Attachments, null), options.Value, out var text) is { } invalid)
            return Http.Problem(invalid);
        if (CheckSendAt(request.SendAt, now, options.Value) is { } badTime)
            return Http.Problem(badTime);
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);

        // A retry of the same request answers the first one.
        if (await FindAsync(session, id, userId, request.ClientMessageId!, cancellationToken) is { } existing)
            return Created(existing);
        var pending = await session.Query<ScheduledMessage>().CountAsync(m => m.SenderId == userId && m.DueAt != null, cancellationToken);
        if (pending >= options.Value.MaxScheduledMessages)
            return Http.Problem(DomainError.Conflict($"You have {options.Value.MaxScheduledMessages} scheduled messages waiting: send or cancel some first."));

        var scheduled = new ScheduledMessage
        {
            Id = Guid.CreateVersion7(), ConversationId = id, SenderId = userId, ClientMessageId = request.ClientMessageId!, Text = text,
            Attachments = (request.Attachments ?? []).Distinct().ToList(), SendAt = request.SendAt!.Value.ToUniversalTime(),
            DueAt = request.SendAt!.Value.ToUniversalTime(), State = ScheduledState.Pending, CreatedAt = now,
        };
        session.Insert(scheduled);
        try
        {
            await session.SaveChangesAsync(cancellationToken);
        }
        catch (JasperFx.DocumentAlreadyExistsException)
        {
            // The same request twice at once: the unique index let one in.
            await using var again = session.DocumentStore.QuerySession();
            return Created((await FindAsync(again, id, userId, request.ClientMessageId!, cancellationToken))!);
        }
        return Created(scheduled);
    }

    private static Task<ScheduledMessage?> FindAsync(IQuerySession session, Guid conversationId, Guid userId, string clientMessageId, CancellationToken cancellationToken) =>
        session.Query<ScheduledMessage>()
            .Where(m => m.ConversationId == conversationId && m.SenderId == userId && m.ClientMessageId == clientMessageId)
            .FirstOrDefaultAsync(cancellationToken);

    private static Created<ScheduledMessageDto> Created(ScheduledMessage m) =>
        TypedResults.Created($"/api/v1/conversations/{m.ConversationId}/scheduled-messages/{m.Id}", ScheduledMessageDto.From(m));

    /// <summary>The caller's own scheduled messages of this conversation not yet sent (pending, or failed with the reason), soonest first; one already posted is not listed, even before the sender records it sent.</summary>
    private static async Task<Results<Ok<Page<ScheduledMessageDto>>, ProblemHttpResult>> List(
        Guid id, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await session.MembershipAsync(id, userId, cancellationToken) is null)
            return Http.Problem(DomainError.ConversationNotFound);
        var items = await session.Query<ScheduledMessage>()
            .Where(m => m.ConversationId == id && m.SenderId == userId && m.State != ScheduledState.Sent)
            .OrderBy(m => m.SendAt).Take(options.Value.MaxScheduledMessages + 100).ToListAsync(cancellationToken);
        // The sender posts a due message, then records it sent in its own transaction: in between, the message is in the
        // conversation and its row still says pending. One read of the posted messages' keys leaves those out, so a
        // client that sees the message arrive and lists again never finds it still waiting.
        var keys = items.Where(m => m.State == ScheduledState.Pending)
            .Select(m => ClientMessageKey.KeyOf(id, userId, m.ClientMessageId)).ToArray();
        var posted = keys.Length == 0
            ? []
            : (await session.LoadManyAsync<ClientMessageKey>(cancellationToken, keys)).Select(key => key.Id).ToHashSet();
        return TypedResults.Ok(new Page<ScheduledMessageDto>(items
            .Where(m => m.State != ScheduledState.Pending || !posted.Contains(ClientMessageKey.KeyOf(id, userId, m.ClientMessageId)))
            .Select(ScheduledMessageDto.From).ToList(), null));
    }

    private static async Task<Results<Ok<ScheduledMessageDto>, ProblemHttpResult>> Update(
        Guid id, Guid scheduledId, UpdateScheduledMessageRequest request, HttpContext http, IDocumentSession session, IOptions<MessagingOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        string? text = null;
        if (request.Text is not null)
        {
            var reason = SendMessage.Validate(new SendMessageRequest("-", request.Text, null, null), options.Value, out var normalized);
            // A scheduled message with attachments may have its text emptied.
            if (reason is not null && normalized.Length > 0)
                return Http.Problem(reason);
            text = normalized;
        }
        if (request.SendAt is not null && CheckSendAt(request.SendAt, now, options.Value) is { } badTime)
            return Http.Problem(badTime);
        if (text is null && request.SendAt is null)
            return Http.Invalid("Give text, sendAt or both.");

        await session.BeginTransactionAsync(cancellationToken);
        if (await LockAsync(session, id, scheduledId, http.User.UserId(), cancellationToken) is not { } scheduled)
            return Http.Problem(NotFound);
        if (scheduled.State != ScheduledState.Pending)
            return Http.Problem(DomainError.Conflict($"The scheduled message was already {scheduled.State.ToString().ToLowerInvariant()}: it cannot change any more."));
        if (text is { Length: 0 } && scheduled.Attachments.Count == 0)
            return Http.Invalid("A message needs text or an attachment.");
        var sendAt = request.SendAt?.ToUniversalTime() ?? scheduled.SendAt;
        scheduled = scheduled with { Text = text ?? scheduled.Text, SendAt = sendAt, DueAt = sendAt };
        session.Store(scheduled);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(ScheduledMessageDto.From(scheduled));
    }

    /// <summary>Cancels a pending message, or dismisses a failed one; a sent one is a message now (delete that instead).</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Cancel(
        Guid id, Guid scheduledId, HttpContext http, IDocumentSession session, CancellationToken cancellationToken)
    {
        await session.BeginTransactionAsync(cancellationToken);
        if (await LockAsync(session, id, scheduledId, http.User.UserId(), cancellationToken) is not { } scheduled)
            return Http.Problem(NotFound);
        if (scheduled.State == ScheduledState.Sent)
            return Http.Problem(DomainError.Conflict("The scheduled message was already sent: delete the message instead."));
        session.Delete(scheduled);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    // The row lock the sender also takes (it skips rows locked here, and a change waits for a send in progress).
    private static async Task<ScheduledMessage?> LockAsync(IDocumentSession session, Guid conversationId, Guid scheduledId, Guid userId, CancellationToken cancellationToken)
    {
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        await session.Database.EnsureStorageExistsAsync(typeof(ScheduledMessage), cancellationToken);
        var rows = await session.QueryAsync<ScheduledMessage>(
            $"select data from {schema}.mt_doc_scheduled_message where id = ? for update", cancellationToken, scheduledId);
        return rows.SingleOrDefault() is { } found && found.ConversationId == conversationId && found.SenderId == userId ? found : null;
    }
}

/// <summary>
/// Sends scheduled messages when they are due. Every instance runs it; each due row is claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>, held until the outcome is recorded, so two instances never send the same one, and the
/// send itself is keyed by the client message id, so a send whose outcome was not recorded (a crash in between) yields
/// the same single message when it is tried again.
/// </summary>
public sealed class ScheduledMessageSender(
    IDocumentStore store, ConversationWriter writer, IOptions<MessagingOptions> options, TimeProvider time, ILogger<ScheduledMessageSender> logger) : BackgroundService
{
    /// <summary>Rows claimed per transaction.</summary>
    public const int BatchSize = 50;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ScheduledSendInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SendDueAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Sending scheduled messages failed; retrying in {Interval}", options.Value.ScheduledSendInterval);
            }
        }
    }

    /// <summary>Sends what is due now; the number of scheduled messages this instance sent or marked failed.</summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        var done = 0;
        while (true)
        {
            var now = time.GetUtcNow();
            await using var session = store.LightweightSession();
            await session.Database.EnsureStorageExistsAsync(typeof(ScheduledMessage), cancellationToken);
            await session.BeginTransactionAsync(cancellationToken);
            var due = await session.QueryAsync<ScheduledMessage>(
                $"select data from {store.Options.DatabaseSchemaName}.mt_doc_scheduled_message where due_at <= ? order by due_at limit ? for update skip locked",
                cancellationToken, now, BatchSize);
            if (due.Count == 0)
                return done;
            foreach (var scheduled in due)
            {
                var request = new SendMessageRequest(scheduled.ClientMessageId, scheduled.Text, [.. scheduled.Attachments], null);
                var (error, message, _) = SendMessage.Validate(request, options.Value, out var text) is { } invalid
                    ? (invalid, null, [])
                    : await SendMessage.PostAsync(writer, scheduled.ConversationId, scheduled.SenderId, request, text, time, cancellationToken);
                if (error is { RetryAfter: { } wait })
                {
                    // Slow mode: the sender may post again shortly; the message goes then.
                    session.Store(scheduled with { DueAt = time.GetUtcNow() + wait });
                    continue;
                }
                session.Store(error is null
                    ? scheduled with { State = ScheduledState.Sent, DueAt = null, MessageId = message?.Id, Text = "", Attachments = [] }
                    : scheduled with { State = ScheduledState.Failed, DueAt = null, Error = error.Detail });
                done++;
                if (error is not null)
                    logger.LogInformation("Scheduled message {ScheduledId} failed: {Error}", scheduled.Id, error.Detail);
            }
            await session.SaveChangesAsync(cancellationToken);
        }
    }
}
