using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ImportContactsRequest(string[]? Emails, string[]? Phones, string[]? Hashes);

public sealed record ContactMatch(Guid UserId, string Match);

public sealed record ImportContactsResponse(IReadOnlyList<ContactMatch> Matches);

/// <summary>
/// <c>POST /api/v1/contacts/import</c>: which of up to 1,000 emails, phone numbers or SHA-256 hashes of their
/// normalised forms are the verified addresses of active accounts. The answer lists matches only, each with the entry exactly as sent;
/// nothing is said about the rest. Matched users are added to the caller's contacts. Rate-limited per user.
/// </summary>
public static class ImportContacts
{
    public const string RateLimitPolicy = "contacts-import";

    public static RouteGroupBuilder MapImportContacts(this RouteGroupBuilder contacts)
    {
        contacts.MapPost("/import", HandleAsync).RequireRateLimiting(RateLimitPolicy);
        return contacts;
    }

    private static async Task<Results<Ok<ImportContactsResponse>, ValidationProblem, ProblemHttpResult>> HandleAsync(
        ImportContactsRequest request,
        ClaimsPrincipal principal,
        IdentityDb db,
        IOptions<IdentityServiceOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();

        var emails = request.Emails ?? [];
        var phones = request.Phones ?? [];
        var hashes = request.Hashes ?? [];
        var total = emails.Length + phones.Length + hashes.Length;
        if (total > IdentityServiceOptions.ContactImportOptions.MaxEntries)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [""] = [$"At most {IdentityServiceOptions.ContactImportOptions.MaxEntries} entries in one import; this one has {total}."],
            });

        // Each entry becomes the hash it would have if registered; one indexed query answers them all.
        var entries = new List<(string Input, string Hash)>(total);
        var errors = new Dictionary<string, string[]>();
        for (var i = 0; i < emails.Length; i++)
            if (ContactAddresses.NormaliseEmail(emails[i]) is { } email)
                entries.Add((emails[i], ContactAddresses.Hash(email)));
            else
                errors[$"emails[{i}]"] = ["Not a valid email address."];
        for (var i = 0; i < phones.Length; i++)
            if (ContactAddresses.NormalisePhone(phones[i], options.Value.DefaultPhoneRegion) is { } phone)
                entries.Add((phones[i], ContactAddresses.Hash(phone)));
            else
                errors[$"phones[{i}]"] = ["Not a valid phone number."];
        for (var i = 0; i < hashes.Length; i++)
            if (hashes[i] is { } hash && ContactAddresses.IsHash(hash))
                entries.Add((hashes[i], hash.ToLowerInvariant()));
            else
                errors[$"hashes[{i}]"] = ["Not a SHA-256 hash in hex (64 characters)."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);

        var wanted = entries.Select(e => e.Hash).Distinct().ToList();
        var found = await db.Users.AsNoTracking()
            .Where(u => u.DisabledAt == null && u.Id != me
                && ((u.EmailConfirmed && wanted.Contains(u.EmailHash!)) || (u.PhoneNumberConfirmed && wanted.Contains(u.PhoneHash!))))
            .Select(u => new { u.Id, u.EmailHash, u.EmailConfirmed, u.PhoneHash, u.PhoneNumberConfirmed })
            .ToListAsync(cancellationToken);
        // Verified addresses only: anyone can register anyone's address, only its owner can verify it.
        var owners = new Dictionary<string, Guid>();
        foreach (var user in found)
        {
            if (user is { EmailHash: not null, EmailConfirmed: true })
                owners[user.EmailHash] = user.Id;
            if (user is { PhoneHash: not null, PhoneNumberConfirmed: true })
                owners[user.PhoneHash] = user.Id;
        }
        var matches = entries
            .Where(e => owners.ContainsKey(e.Hash))
            .Select(e => new ContactMatch(owners[e.Hash], e.Input))
            .ToList();

        var matchedIds = matches.Select(m => m.UserId).Distinct().ToList();
        var known = await db.Contacts.Where(c => c.OwnerId == me && matchedIds.Contains(c.ContactUserId))
            .Select(c => c.ContactUserId).ToListAsync(cancellationToken);
        var now = time.GetUtcNow();
        var added = matchedIds.Except(known).ToList();
        foreach (var id in added)
            db.Contacts.Add(new Contact { OwnerId = me, ContactUserId = id, Source = "import", AddedAt = now });
        if (added.Count > 0)
            db.Add(new ContactsChanged { OwnerId = me, Added = added, ChangedAt = now }, now);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new ImportContactsResponse(matches));
    }
}
