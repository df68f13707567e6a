using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

/// <summary>My privacy settings: <c>lastSeen</c> (everyone, contacts, nobody), <c>readReceipts</c>, <c>whoCanAdd</c> (everyone, contacts).</summary>
public sealed record PrivacyView(string LastSeen, bool ReadReceipts, string WhoCanAdd)
{
    public static PrivacyView From(PrivacySetting setting) => new(setting.LastSeen, setting.ReadReceipts, setting.WhoCanAdd);
}

/// <summary>A change of some settings; what is left out stays as it is.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PrivacyRequest(string? LastSeen, bool? ReadReceipts, string? WhoCanAdd);

/// <summary>
/// <c>GET/PUT /api/v1/users/me/privacy</c>. Identity keeps the settings and applies <c>whoCanAdd</c> itself (its
/// relations answer, which Messaging asks before adding anyone); <c>PrivacyChanged</c> carries all three to Presence
/// (<c>lastSeen</c>) and Messaging (<c>readReceipts</c>).
/// </summary>
public static class Privacy
{
    private static readonly string[] LastSeenValues = [PrivacySetting.Everyone, PrivacySetting.Contacts, PrivacySetting.Nobody];
    private static readonly string[] WhoCanAddValues = [PrivacySetting.Everyone, PrivacySetting.Contacts];

    public static RouteGroupBuilder MapPrivacy(this RouteGroupBuilder users)
    {
        users.MapGet("/me/privacy", GetAsync);
        users.MapPut("/me/privacy", PutAsync);
        return users;
    }

    private static async Task<Results<Ok<PrivacyView>, ProblemHttpResult>> GetAsync(ClaimsPrincipal principal, IdentityDb db, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        var setting = await db.PrivacySettings.AsNoTracking().SingleOrDefaultAsync(p => p.UserId == me, cancellationToken) ?? PrivacySetting.Default(me);
        return TypedResults.Ok(PrivacyView.From(setting));
    }

    private static async Task<Results<Ok<PrivacyView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        PrivacyRequest request, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        var errors = new Dictionary<string, string[]>();
        if (request.LastSeen is not null && !LastSeenValues.Contains(request.LastSeen))
            errors["lastSeen"] = [$"One of: {string.Join(", ", LastSeenValues)}."];
        if (request.WhoCanAdd is not null && !WhoCanAddValues.Contains(request.WhoCanAdd))
            errors["whoCanAdd"] = [$"One of: {string.Join(", ", WhoCanAddValues)}."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);
        if (!await db.Users.AnyAsync(u => u.Id == me && u.DisabledAt == null, cancellationToken))
            return Me.NoAccount();

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // One row per user, locked while it changes, so two changes at once publish in the order they were made.
        var setting = await db.PrivacySettings.FromSqlInterpolated(
            $"""SELECT * FROM identity.privacy_settings WHERE "UserId" = {me} FOR UPDATE""").SingleOrDefaultAsync(cancellationToken);
        if (setting is null)
        {
            setting = PrivacySetting.Default(me);
            db.PrivacySettings.Add(setting);
        }
        var before = PrivacyView.From(setting);
        setting.LastSeen = request.LastSeen ?? setting.LastSeen;
        setting.ReadReceipts = request.ReadReceipts ?? setting.ReadReceipts;
        setting.WhoCanAdd = request.WhoCanAdd ?? setting.WhoCanAdd;
        var after = PrivacyView.From(setting);
        if (after == before)
            return TypedResults.Ok(after);
        var now = time.GetUtcNow();
        setting.UpdatedAt = now;
        db.Add(new PrivacyChanged { UserId = me, LastSeen = after.LastSeen, ReadReceipts = after.ReadReceipts, WhoCanAdd = after.WhoCanAdd, ChangedAt = now }, now);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // The first change of two at once both inserted the row: ask again.
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: "Your settings changed meanwhile; try again.");
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(after);
    }
}
