using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;
using Platform.Identity.Domain;

namespace Platform.Identity.Features;

public enum SignInOutcome { Succeeded, Invalid, Throttled, Disabled, SecondFactorRequired, WrongSecondFactor }

public sealed record PasswordCheck(SignInOutcome Outcome, User? User, TimeSpan RetryAfter = default);

/// <summary>
/// The one password check behind the login form and the password grant: the sign-in name is an email, a phone
/// number or a username. Failures are throttled per name, per client address and per both (<see cref="SignInThrottle"/>);
/// an unknown name costs the same queries and the same hashing as a wrong password and gets the same answers.
/// A hash made with another iteration count is re-hashed on success (<see cref="ExactCostPasswordHasher"/>).
/// </summary>
public sealed class SignInLookup(
    UserManager<User> users,
    IdentityDb db,
    SignInThrottle throttle,
    PasswordWork passwordWork,
    IOptions<IdentityServiceOptions> options,
    TimeProvider time)
{
    // Verifying against a throw-away hash (made with the configured iterations) when the name is unknown keeps
    // the answer's timing the same as for a wrong password.
    private static string? _decoyHash;

    public async Task<PasswordCheck> CheckAsync(string? name, string? password, string address)
    {
        if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password) || name.Length > 256 || password.Length > Register.PasswordMaxLength)
            return new(SignInOutcome.Invalid, null);

        var (user, normalised) = await FindAsync(name.Trim());
        // Unknown names are kept only as a hash: the counters must not collect what people mistype.
        var account = user?.Id.ToString() ?? "name:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
        var wait = await throttle.WaitAsync(account, user?.Id, address);
        if (wait > TimeSpan.Zero)
            return new(SignInOutcome.Throttled, null, wait);

        bool valid;
        using (await passwordWork.TurnAsync())
        {
            if (user is null)
            {
                _decoyHash ??= users.PasswordHasher.HashPassword(new User(), Guid.NewGuid().ToString());
                users.PasswordHasher.VerifyHashedPassword(new User(), _decoyHash, password);
                valid = false;
            }
            else
            {
                // Verifies, and stores a re-hash when the cost changed.
                valid = await users.CheckPasswordAsync(user, password);
            }
        }

        if (!valid)
        {
            await throttle.RecordFailureAsync(account, address);
            return new(SignInOutcome.Invalid, null);
        }
        if (user!.IsDisabled)
        {
            await throttle.RecordSuccessAsync(account, user.Id, address);
            return new(SignInOutcome.Disabled, null);
        }
        // The password alone does not sign a two-factor account in, nor clear its failures: the code must follow
        // (CompleteSecondFactorAsync), and wrong codes count like wrong passwords.
        if (user.TwoFactorEnabled)
            return new(SignInOutcome.SecondFactorRequired, user);
        await throttle.RecordSuccessAsync(account, user.Id, address);
        return new(SignInOutcome.Succeeded, user);
    }

    /// <summary>
    /// The second step of a two-factor sign-in (after <see cref="SignInOutcome.SecondFactorRequired"/>): the TOTP code or
    /// a recovery code, throttled and counted under the account like a password.
    /// </summary>
    public async Task<PasswordCheck> CompleteSecondFactorAsync(User user, string? code, string address)
    {
        var account = user.Id.ToString();
        var wait = await throttle.WaitAsync(account, user.Id, address);
        if (wait > TimeSpan.Zero)
            return new(SignInOutcome.Throttled, null, wait);
        if (!await TwoFactorCodes.VerifyAsync(users, user, code, time))
        {
            await throttle.RecordFailureAsync(account, address);
            return new(SignInOutcome.WrongSecondFactor, null);
        }
        await throttle.RecordSuccessAsync(account, user.Id, address);
        return user.IsDisabled ? new(SignInOutcome.Disabled, null) : new(SignInOutcome.Succeeded, user);
    }

    /// <summary>
    /// The password of a signed-in user, asked again before something irreversible (deleting the account): throttled
    /// under the same keys as a sign-in to that account, so it cannot be used to guess the password faster.
    /// </summary>
    public async Task<PasswordCheck> CheckUserAsync(User user, string? password, string address)
    {
        var account = user.Id.ToString();
        var wait = await throttle.WaitAsync(account, user.Id, address);
        if (wait > TimeSpan.Zero)
            return new(SignInOutcome.Throttled, null, wait);
        if (string.IsNullOrEmpty(password) || password.Length > Register.PasswordMaxLength || !await CheckInTurnAsync(user, password))
        {
            await throttle.RecordFailureAsync(account, address);
            return new(SignInOutcome.Invalid, null);
        }
        return user.IsDisabled ? new(SignInOutcome.Disabled, null) : new(SignInOutcome.Succeeded, user);
    }

    private async Task<bool> CheckInTurnAsync(User user, string password)
    {
        using (await passwordWork.TurnAsync())
            return await users.CheckPasswordAsync(user, password);
    }

    /// <summary>The account, and the name in the form it is looked up by (what unknown names are throttled under).</summary>
    private async Task<(User? User, string Normalised)> FindAsync(string name)
    {
        // An address held by several unverified accounts names none of them (sign in by username then).
        if (name.Contains('@'))
            return ContactAddresses.NormaliseEmail(name) is { } email
                ? (await AddressOwnership.ResolveAsync(db, AddressOwnership.Email, email), email)
                : (null, name.ToLowerInvariant());
        if (ContactAddresses.NormalisePhone(name, options.Value.DefaultPhoneRegion) is { } phone
            && await AddressOwnership.ResolveAsync(db, AddressOwnership.Phone, phone) is { } byPhone)
            return (byPhone, phone);
        var username = Usernames.Normalise(name);
        return (await users.FindByNameAsync(username), username);
    }

    public static string Describe(PasswordCheck result) => result.Outcome switch
    {
        SignInOutcome.Throttled => $"Too many failed sign-ins. Try again in {RetryAfterSeconds(result)} s.",
        SignInOutcome.Disabled => "The account is disabled.",
        SignInOutcome.WrongSecondFactor => "The two-factor code is wrong or was used already.",
        SignInOutcome.SecondFactorRequired => "A two-factor code is required: send the authenticator's code or a recovery code as the otp parameter.",
        _ => "The sign-in name or password is wrong.",
    };

    public static int RetryAfterSeconds(PasswordCheck result) => Math.Max(1, (int)Math.Ceiling(result.RetryAfter.TotalSeconds));
}
