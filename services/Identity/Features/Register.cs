using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RegisterRequest(string? Email, string? Phone, string? Password, string? DisplayName, string? Username, string? InviteToken);

public static class Register
{
    public const int PasswordMaxLength = 128;

    public static RouteGroupBuilder MapRegister(this RouteGroupBuilder users)
    {
        users.MapPost("/", HandleAsync).AllowAnonymous();
        return users;
    }

    private static async Task<Results<Created<MyProfile>, ValidationProblem, ProblemHttpResult>> HandleAsync(
        RegisterRequest request,
        Registration registration,
        CancellationToken cancellationToken)
    {
        var outcome = await registration.RegisterAsync(request, cancellationToken);
        return outcome switch
        {
            Registration.Registered registered => TypedResults.Created($"/api/v1/users/{registered.User.Id}", MyProfile.From(registered.User, [])),
            Registration.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
            Registration.Conflict conflict => TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict, title: "Already registered", detail: conflict.Detail,
                extensions: new Dictionary<string, object?> { ["field"] = conflict.Field }),
            _ => throw new InvalidOperationException("Unknown registration outcome."),
        };
    }
}

/// <summary>Creates accounts: the public registration endpoint and the development seed both come through here.</summary>
public sealed class Registration(
    IdentityDb db,
    UserManager<User> users,
    PasswordWork passwordWork,
    IOptions<IdentityServiceOptions> options,
    TimeProvider time)
{
    public abstract record Outcome;

    public sealed record Registered(User User) : Outcome;

    public sealed record Invalid(Dictionary<string, string[]> Errors) : Outcome;

    public sealed record Conflict(string Field, string Detail) : Outcome;

    public async Task<Outcome> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var email = request.Email is null ? null : ContactAddresses.NormaliseEmail(request.Email);
        if (request.Email is not null && email is null)
            errors["email"] = ["Not a valid email address."];
        var phone = request.Phone is null ? null : ContactAddresses.NormalisePhone(request.Phone, options.Value.DefaultPhoneRegion);
        if (request.Phone is not null && phone is null)
            errors["phone"] = [$"Not a valid phone number (numbers without a country code are read as {options.Value.DefaultPhoneRegion})."];
        if (request.Email is null && request.Phone is null)
            errors["email"] = ["An email address or a phone number is required."];

        var displayName = request.DisplayName?.Trim();
        if (ProfileRules.DisplayNameError(displayName) is { } displayNameError)
            errors["displayName"] = [displayNameError];

        string? username = null;
        if (request.Username is not null)
        {
            username = Usernames.Normalise(request.Username);
            if (!Usernames.IsValid(username))
                errors["username"] = [ProfileRules.UsernameRule];
        }

        var password = request.Password ?? "";
        if (password.Length == 0)
            errors["password"] = ["A password is required."];
        else if (password.Length > Register.PasswordMaxLength)
            errors["password"] = [$"At most {Register.PasswordMaxLength} characters."];

        var user = new User
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            UserName = username,
            DisplayName = displayName ?? "",
            Email = email,
            EmailHash = email is null ? null : ContactAddresses.Hash(email),
            PhoneNumber = phone,
            PhoneHash = phone is null ? null : ContactAddresses.Hash(phone),
            CreatedAt = time.GetUtcNow(),
        };
        if (password.Length is > 0 and <= Register.PasswordMaxLength)
        {
            var policy = new List<string>();
            foreach (var validator in users.PasswordValidators)
                policy.AddRange((await validator.ValidateAsync(users, user, password)).Errors.Select(e => e.Description));
            if (policy.Count > 0)
                errors["password"] = [.. policy];
        }

        Invite? invite = null;
        if (request.InviteToken is not null)
        {
            var now = time.GetUtcNow();
            var tokenHash = ContactAddresses.Hash(request.InviteToken);
            invite = request.InviteToken.Length is > 0 and <= 200
                ? await db.Invites.SingleOrDefaultAsync(i => i.TokenHash == tokenHash, cancellationToken)
                : null;
            if (invite is null || invite.AcceptedAt is not null || invite.ExpiresAt <= now)
                errors["inviteToken"] = ["The invite is unknown, used or expired."];
        }
        if (errors.Count > 0)
            return new Invalid(errors);

        // Only a verified address is taken: an unverified one may be anyone's typo or squat, and the first account to
        // verify it owns it (AddressOwnership).
        if (email is not null && await AddressOwnership.IsOwnedAsync(db, AddressOwnership.Email, email, except: null, cancellationToken))
            return new Conflict("email", "An account with this email address exists.");
        if (phone is not null && await AddressOwnership.IsOwnedAsync(db, AddressOwnership.Phone, phone, except: null, cancellationToken))
            return new Conflict("phone", "An account with this phone number exists.");
        if (username is not null && await users.FindByNameAsync(username) is not null)
            return new Conflict("username", "This username is taken.");
        // The hash first, in turns (PasswordWork): waiting holds no database connection, and an insert tried again does
        // not hash again. The password's policy was checked above.
        using (await passwordWork.TurnAsync(cancellationToken))
            user.PasswordHash = users.PasswordHasher.HashPassword(user, password);

        // A username made from the display name may be taken by a sign-up of the same name in the moment between the
        // check and the insert: another free one is picked. A username the user asked for is theirs or a conflict.
        for (var attempt = 1; ; attempt++)
        {
            user.UserName = username ?? await FreeUsernameAsync(Usernames.FromDisplayName(displayName!), cancellationToken);
            var outcome = await CreateAsync(user, invite, cancellationToken);
            if (outcome is not Conflict { Field: "username" } || username is not null || attempt == 5)
                return outcome;
            db.ChangeTracker.Entries().Where(e => e.State == EntityState.Added).ToList().ForEach(e => e.State = EntityState.Detached);
        }
    }

    private async Task<Outcome> CreateAsync(User user, Invite? invite, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        IdentityResult created;
        try
        {
            created = await users.CreateAsync(user);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique)
        {
            // Someone registered the same address or name in the moment between the checks and the insert.
            return UniqueViolation(unique.ConstraintName);
        }
        if (!created.Succeeded)
        {
            if (created.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.DuplicateUserName)))
                return new Conflict("username", "This username is taken.");
            return new Invalid(new Dictionary<string, string[]> { ["password"] = created.Errors.Select(e => e.Description).ToArray() });
        }

        var committedAt = time.GetUtcNow();
        if (invite is not null)
        {
            invite.AcceptedBy = user.Id;
            invite.AcceptedAt = committedAt;
            db.Contacts.Add(new Contact { OwnerId = invite.InvitedBy, ContactUserId = user.Id, Source = "invite", AddedAt = committedAt });
            db.Contacts.Add(new Contact { OwnerId = user.Id, ContactUserId = invite.InvitedBy, Source = "invite", AddedAt = committedAt });
            db.Add(new ContactsChanged { OwnerId = invite.InvitedBy, Added = [user.Id], ChangedAt = committedAt }, committedAt);
            db.Add(new ContactsChanged { OwnerId = user.Id, Added = [invite.InvitedBy], ChangedAt = committedAt }, committedAt);
        }
        db.Add(new UserRegistered
        {
            UserId = user.Id,
            Username = user.UserName!,
            DisplayName = user.DisplayName,
            InvitedBy = invite?.InvitedBy,
            RegisteredAt = user.CreatedAt,
        }, committedAt);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique)
        {
            return UniqueViolation(unique.ConstraintName);
        }
        await transaction.CommitAsync(cancellationToken);
        return new Registered(user);
    }

    private static Conflict UniqueViolation(string? constraint) => constraint switch
    {
        "ix_users_phone" => new Conflict("phone", "An account with this phone number exists."),
        "ix_users_email" => new Conflict("email", "An account with this email address exists."),
        _ => new Conflict("username", "This username is taken."),
    };

    private async Task<string> FreeUsernameAsync(string baseName, CancellationToken cancellationToken)
    {
        var candidate = baseName;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var normalised = users.NormalizeName(candidate);
            if (!await db.Users.AnyAsync(u => u.NormalizedUserName == normalised, cancellationToken))
                return candidate;
            candidate = Usernames.WithSuffix(baseName, attempt);
        }
        return Usernames.WithSuffix(baseName, 100) + Random.Shared.Next(10, 100);
    }
}
