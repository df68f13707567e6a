using Platform.Identity.Data;

namespace Platform.Identity.Domain;

public static class ProfileRules
{
    public const string UsernameRule = "3 to 32 characters: lower-case letters a-z, digits, '_' and '.'.";

    public static string? DisplayNameError(string? trimmed) =>
        string.IsNullOrEmpty(trimmed) ? "A display name is required."
        : trimmed.Length > User.DisplayNameMaxLength ? $"At most {User.DisplayNameMaxLength} characters."
        : trimmed.Any(char.IsControl) ? "Control characters are not allowed."
        : null;

    public static string? StatusTextError(string? trimmed) =>
        trimmed is null ? null
        : trimmed.Length > User.StatusTextMaxLength ? $"At most {User.StatusTextMaxLength} characters."
        : trimmed.Any(char.IsControl) ? "Control characters are not allowed."
        : null;
}
