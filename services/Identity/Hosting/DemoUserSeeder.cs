using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Features;

namespace Platform.Identity.Hosting;

/// <summary>
/// Development seed (<c>Identity:SeedDemoUsers=true</c>): a handful of users with the known password
/// <c>Identity:DemoUserPassword</c> and verified addresses; alice is an admin, alice and bob are contacts. Existing users are left alone.
/// </summary>
public sealed class DemoUserSeeder(
    IOptions<IdentityServiceOptions> options,
    Registration registration,
    UserManager<User> users,
    IdentityDb db,
    TimeProvider time,
    ILogger<DemoUserSeeder> logger)
{
    internal static readonly (string Username, string DisplayName, string Email, string Phone)[] DemoUsers =
    [
        ("alice", "Alice Anders", "alice@example.com", "+12025550101"),
        ("bob", "Bob Brown", "bob@example.com", "+12025550102"),
        ("carol", "Carol Chen", "carol@example.com", "+12025550103"),
        ("dave", "Dave Diaz", "dave@example.com", "+12025550104"),
        ("erin", "Erin Evans", "erin@example.com", "+12025550105"),
    ];

    private async Task VerifyAsync(User user, CancellationToken cancellationToken)
    {
        var changed = false;
        foreach (var channel in new[] { AddressOwnership.Email, AddressOwnership.Phone })
            if (AddressOwnership.AddressOf(user, channel) is { } address && !AddressOwnership.IsVerified(user, channel)
                && !await AddressOwnership.IsOwnedAsync(db, channel, address, user.Id, cancellationToken))
            {
                await AddressOwnership.ClaimAsync(db, user, channel, cancellationToken);
                changed = true;
            }
        if (changed)
            await db.SaveChangesAsync(cancellationToken);
    }

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.SeedDemoUsers)
            return;

        foreach (var (username, displayName, email, phone) in DemoUsers)
        {
            var user = await users.FindByNameAsync(username);
            if (user is null)
            {
                var outcome = await registration.RegisterAsync(
                    new RegisterRequest(email, phone, options.Value.DemoUserPassword, displayName, username, InviteToken: null), cancellationToken);
                if (outcome is Registration.Registered registered)
                    user = registered.User;
                else
                    logger.LogWarning("Demo user {Username} was not created: {Outcome}", username, outcome);
            }
            // Demo addresses are verified (also those of demo users from before verification), unless someone else verified one.
            if (user is not null)
                await VerifyAsync(user, cancellationToken);
        }

        if (await users.FindByNameAsync("alice") is { } alice && !await users.IsInRoleAsync(alice, DatabaseInitializer.AdminRole))
            await users.AddToRoleAsync(alice, DatabaseInitializer.AdminRole);
        if (await users.FindByNameAsync("alice") is { } a && await users.FindByNameAsync("bob") is { } b
            && !await db.Contacts.AnyAsync(c => c.OwnerId == a.Id && c.ContactUserId == b.Id, cancellationToken))
        {
            var now = time.GetUtcNow();
            db.Contacts.Add(new Contact { OwnerId = a.Id, ContactUserId = b.Id, Source = "import", AddedAt = now });
            db.Contacts.Add(new Contact { OwnerId = b.Id, ContactUserId = a.Id, Source = "import", AddedAt = now });
            await db.SaveChangesAsync(cancellationToken);
        }
    }
}
