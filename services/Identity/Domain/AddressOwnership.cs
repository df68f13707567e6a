using Microsoft.EntityFrameworkCore;
using Platform.Identity.Data;

namespace Platform.Identity.Domain;

/// <summary>
/// Who an email or phone number belongs to. Registering does not prove an address, so several accounts may hold the
/// same unverified one; the first account to verify it owns it, and it is taken off every other account then.
/// </summary>
public static class AddressOwnership
{
    public const string Email = "email";
    public const string Phone = "phone";

    public static bool IsChannel(string? value) => value is Email or Phone;

    /// <summary>The account's address on <paramref name="channel"/> (normalised), or null.</summary>
    public static string? AddressOf(User user, string channel) => channel == Email ? user.Email : user.PhoneNumber;

    public static bool IsVerified(User user, string channel) => channel == Email ? user.EmailConfirmed : user.PhoneNumberConfirmed;

    /// <summary>
    /// The account a sign-in name or reset request by this address means: the verified holder; else the only holder
    /// (accounts from before verification keep working); else none, as when several unverified accounts hold it.
    /// </summary>
    public static async Task<User?> ResolveAsync(IdentityDb db, string channel, string address, CancellationToken cancellationToken = default)
    {
        var hash = ContactAddresses.Hash(address);
        var holders = channel == Email
            ? await db.Users.Where(u => u.EmailHash == hash).OrderByDescending(u => u.EmailConfirmed).Take(2).ToListAsync(cancellationToken)
            : await db.Users.Where(u => u.PhoneHash == hash).OrderByDescending(u => u.PhoneNumberConfirmed).Take(2).ToListAsync(cancellationToken);
        return holders switch
        {
            [var first, ..] when IsVerified(first, channel) => first,
            [var only] => only,
            _ => null,
        };
    }

    /// <summary>Whether an account other than <paramref name="except"/> has verified this address.</summary>
    public static Task<bool> IsOwnedAsync(IdentityDb db, string channel, string address, Guid? except, CancellationToken cancellationToken = default)
    {
        var hash = ContactAddresses.Hash(address);
        return channel == Email
            ? db.Users.AnyAsync(u => u.EmailHash == hash && u.EmailConfirmed && u.Id != except, cancellationToken)
            : db.Users.AnyAsync(u => u.PhoneHash == hash && u.PhoneNumberConfirmed && u.Id != except, cancellationToken);
    }

    /// <summary>
    /// Marks <paramref name="user"/>'s address on <paramref name="channel"/> verified and takes it off every other
    /// (unverified) account holding it; their pending codes for it are deleted. Staged: the caller saves, and a
    /// concurrent verification by another account then fails on the unique index over verified addresses.
    /// </summary>
    public static async Task ClaimAsync(IdentityDb db, User user, string channel, CancellationToken cancellationToken = default)
    {
        var address = AddressOf(user, channel) ?? throw new InvalidOperationException($"The account has no {channel} to verify.");
        var hash = ContactAddresses.Hash(address);
        if (channel == Email)
        {
            user.EmailConfirmed = true;
            foreach (var other in await db.Users.Where(u => u.EmailHash == hash && u.Id != user.Id).ToListAsync(cancellationToken))
            {
                other.Email = null;
                other.NormalizedEmail = null;
                other.EmailHash = null;
                other.EmailConfirmed = false;
            }
        }
        else
        {
            user.PhoneNumberConfirmed = true;
            foreach (var other in await db.Users.Where(u => u.PhoneHash == hash && u.Id != user.Id).ToListAsync(cancellationToken))
            {
                other.PhoneNumber = null;
                other.PhoneHash = null;
                other.PhoneNumberConfirmed = false;
            }
        }
        db.VerificationCodes.RemoveRange(await db.VerificationCodes
            .Where(c => c.Channel == channel && c.Address == address).ToListAsync(cancellationToken));
    }
}
