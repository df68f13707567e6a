using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;

namespace Platform.Identity.Domain;

/// <summary>
/// ASP.NET Core Identity's V3 hasher (PBKDF2-HMAC-SHA512), which asks for a re-hash only when a stored hash has fewer
/// iterations than configured; this one also when it has more, so lowering the cost takes effect at each user's next
/// sign-in instead of charging the old cost for ever.
/// </summary>
public sealed class ExactCostPasswordHasher(IOptions<PasswordHasherOptions> options) : PasswordHasher<User>(options)
{
    private readonly int _iterations = options.Value.IterationCount;

    public override PasswordVerificationResult VerifyHashedPassword(User user, string hashedPassword, string providedPassword)
    {
        var result = base.VerifyHashedPassword(user, hashedPassword, providedPassword);
        return result == PasswordVerificationResult.Success && StoredIterations(hashedPassword) is { } stored && stored != _iterations
            ? PasswordVerificationResult.SuccessRehashNeeded
            : result;
    }

    /// <summary>The V3 format: a 0x01 marker, the PRF (4 bytes), then the iteration count, all big-endian.</summary>
    public static int? StoredIterations(string hashedPassword)
    {
        var bytes = new byte[hashedPassword.Length];
        if (!Convert.TryFromBase64String(hashedPassword, bytes, out var length) || length < 13 || bytes[0] != 0x01)
            return null;
        return (bytes[5] << 24) | (bytes[6] << 16) | (bytes[7] << 8) | bytes[8];
    }
}
