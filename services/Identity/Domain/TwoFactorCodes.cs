using System.Globalization;
using Microsoft.AspNetCore.Identity;
using Platform.Identity.Data;

namespace Platform.Identity.Domain;

/// <summary>
/// The second factor of a sign-in: a 6-digit TOTP code of the account's authenticator (RFC 6238, ASP.NET Core Identity's
/// authenticator token provider) or one of its recovery codes, each of which works once. An accepted TOTP code is not
/// accepted again (the provider alone would take it for its whole validity window).
/// </summary>
public static class TwoFactorCodes
{
    public const string Issuer = "Platform";
    public const int RecoveryCodeCount = 10;

    private const string LoginProvider = "[Platform]";
    private const string LastCodeName = "LastAuthenticatorCode";
    private static readonly TimeSpan ReplayWindow = TimeSpan.FromMinutes(5);

    /// <summary>True for a valid, unused code of an account with two-factor sign-in on (a recovery code is used up).</summary>
    public static async Task<bool> VerifyAsync(UserManager<User> users, User user, string? code, TimeProvider time)
    {
        if (!user.TwoFactorEnabled || string.IsNullOrWhiteSpace(code) || code.Length > 64)
            return false;
        var trimmed = code.Trim();
        var digits = trimmed.Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (digits.Length == 6 && digits.All(char.IsAsciiDigit))
            return await VerifyAuthenticatorCodeAsync(users, user, digits, time);
        return (await users.RedeemTwoFactorRecoveryCodeAsync(user, trimmed)).Succeeded;
    }

    /// <summary>A TOTP code of the account's current authenticator key, refused when it was accepted before.</summary>
    public static async Task<bool> VerifyAuthenticatorCodeAsync(UserManager<User> users, User user, string code, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var last = await users.GetAuthenticationTokenAsync(user, LoginProvider, LastCodeName);
        if (last?.Split('|') is [var lastCode, var at] && lastCode == code
            && long.TryParse(at, CultureInfo.InvariantCulture, out var seconds)
            && now - DateTimeOffset.FromUnixTimeSeconds(seconds) < ReplayWindow)
            return false;
        if (!await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, code))
            return false;
        await users.SetAuthenticationTokenAsync(user, LoginProvider, LastCodeName,
            $"{code}|{now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}");
        return true;
    }

    /// <summary>The <c>otpauth://</c> URI authenticator apps read from a QR code.</summary>
    public static string AuthenticatorUri(string username, string sharedKey) =>
        $"otpauth://totp/{Uri.EscapeDataString(Issuer)}:{Uri.EscapeDataString(username)}?secret={sharedKey}&issuer={Uri.EscapeDataString(Issuer)}&digits=6";
}
