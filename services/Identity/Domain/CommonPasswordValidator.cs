using Microsoft.AspNetCore.Identity;
using Platform.Identity.Data;

namespace Platform.Identity.Domain;

/// <summary>
/// Length over composition rules (NIST SP 800-63B): no required character classes, but passwords that appear
/// at the top of every breach list, or that repeat the account's own names, are refused.
/// </summary>
public sealed class CommonPasswordValidator : IPasswordValidator<User>
{
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password", "password1", "password12", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "12345678", "123456789",
        "1234567890", "0123456789", "qwertyuiop", "qwerty123", "1q2w3e4r", "1qaz2wsx", "iloveyou", "11111111", "00000000",
        "abc12345", "abcd1234", "letmein1", "welcome1", "sunshine", "football", "baseball", "princess", "superman",
        "trustno1", "starwars", "whatever", "dragon12", "monkey12", "changeme", "asdfghjk", "zxcvbnm1",
    };

    public Task<IdentityResult> ValidateAsync(UserManager<User> manager, User user, string? password)
    {
        if (password is null)
            return Task.FromResult(IdentityResult.Success);
        if (Common.Contains(password))
            return Task.FromResult(IdentityResult.Failed(new IdentityError { Code = "PasswordTooCommon", Description = "This password is too common." }));
        var own = new[] { user.UserName, user.Email, user.PhoneNumber, user.DisplayName };
        if (own.Any(value => !string.IsNullOrEmpty(value) && value.Length >= 4 && password.Contains(value, StringComparison.OrdinalIgnoreCase)))
            return Task.FromResult(IdentityResult.Failed(new IdentityError { Code = "PasswordContainsName", Description = "The password must not contain your name, email or phone number." }));
        return Task.FromResult(IdentityResult.Success);
    }
}
