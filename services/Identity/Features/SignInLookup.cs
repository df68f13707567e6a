using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;
using Platform.Identity.Domain;

namespace Platform.Identity.Features;

public enum SignInOutcome { Succeeded, Invalid, LockedOut, Disabled }

/// <summary>
/// The one password check behind the login form and the password grant: the sign-in name is an email, a phone
/// number or a username; failures count towards lockout; a hash with fewer iterations than configured is
/// upgraded by Identity on success.
/// </summary>
public sealed class SignInLookup(
    UserManager<User> users,
    SignInManager<User> signIns,
    IdentityDb db,
    IOptions<IdentityServiceOptions> options)
{
    // Verifying against a throw-away hash (made with the configured iterations) when the name is unknown keeps
    // the answer's timing the same as for a wrong password.
    private static string? _decoyHash;

    public async Task<(SignInOutcome Outcome, User? User)> CheckAsync(string? name, string? password)
    {
        if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password) || name.Length > 256 || password.Length > Register.PasswordMaxLength)
            return (SignInOutcome.Invalid, null);

        var user = await FindAsync(name.Trim());
        if (user is null)
        {
            _decoyHash ??= users.PasswordHasher.HashPassword(new User(), Guid.NewGuid().ToString());
            users.PasswordHasher.VerifyHashedPassword(new User(), _decoyHash, password);
            return (SignInOutcome.Invalid, null);
        }

        var result = await signIns.CheckPasswordSignInAsync(user, password, lockoutOnFailure: true);
        if (result.IsLockedOut)
            return (SignInOutcome.LockedOut, null);
        if (!result.Succeeded)
            return (SignInOutcome.Invalid, null);
        return user.IsDisabled ? (SignInOutcome.Disabled, null) : (SignInOutcome.Succeeded, user);
    }

    private async Task<User?> FindAsync(string name)
    {
        if (name.Contains('@'))
            return ContactAddresses.NormaliseEmail(name) is { } email ? await users.FindByEmailAsync(email) : null;
        if (ContactAddresses.NormalisePhone(name, options.Value.DefaultPhoneRegion) is { } phone
            && await db.Users.SingleOrDefaultAsync(u => u.PhoneNumber == phone) is { } byPhone)
            return byPhone;
        return await users.FindByNameAsync(Usernames.Normalise(name));
    }

    public static string Describe(SignInOutcome outcome) => outcome switch
    {
        SignInOutcome.LockedOut => "The account is locked after repeated failed sign-ins. Try again later.",
        SignInOutcome.Disabled => "The account is disabled.",
        _ => "The sign-in name or password is wrong.",
    };
}
