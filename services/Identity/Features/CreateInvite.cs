using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateInviteRequest(string? Email, string? Phone);

public sealed record InviteView(Guid Id, string? Email, string? Phone, string Token, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt);

/// <summary>
/// <c>POST /api/v1/invites</c>: an invite for an email address or phone number. Notifications delivers it
/// (<see cref="InviteCreated"/>); registering with its token makes inviter and invitee contacts of each other.
/// </summary>
public static class CreateInvite
{
    public static RouteGroupBuilder MapCreateInvite(this RouteGroupBuilder invites)
    {
        invites.MapPost("/", HandleAsync);
        return invites;
    }

    private static async Task<Results<Created<InviteView>, ValidationProblem, ProblemHttpResult>> HandleAsync(
        CreateInviteRequest request,
        ClaimsPrincipal principal,
        IdentityDb db,
        IOptions<IdentityServiceOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me || await db.Users.FindAsync([me], cancellationToken) is not { IsDisabled: false })
            return Me.NoAccount();

        var errors = new Dictionary<string, string[]>();
        var email = request.Email is null ? null : ContactAddresses.NormaliseEmail(request.Email);
        if (request.Email is not null && email is null)
            errors["email"] = ["Not a valid email address."];
        var phone = request.Phone is null ? null : ContactAddresses.NormalisePhone(request.Phone, options.Value.DefaultPhoneRegion);
        if (request.Phone is not null && phone is null)
            errors["phone"] = ["Not a valid phone number."];
        if ((request.Email is null) == (request.Phone is null))
            errors["email"] = ["Exactly one of email and phone is required."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);

        var now = time.GetUtcNow();
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var invite = new Invite
        {
            Id = Guid.CreateVersion7(now),
            InvitedBy = me,
            Email = email,
            Phone = phone,
            TokenHash = ContactAddresses.Hash(token),
            CreatedAt = now,
            ExpiresAt = now + options.Value.InviteLifetime,
        };
        db.Invites.Add(invite);
        db.Add(new InviteCreated
        {
            InviteId = invite.Id,
            InvitedBy = me,
            Email = email,
            Phone = phone,
            Token = token,
            ExpiresAt = invite.ExpiresAt,
            CreatedAt = now,
        }, now);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/invites/{invite.Id}", new InviteView(invite.Id, email, phone, token, invite.ExpiresAt, now));
    }
}
