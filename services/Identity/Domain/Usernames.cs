using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Platform.Identity.Domain;

/// <summary>Usernames are what mentions use: lower-case ASCII letters, digits, '_' and '.', 3 to 32 long.</summary>
public static partial class Usernames
{
    public const int MinLength = 3;
    public const int MaxLength = 32;
    public const string AllowedCharacters = "abcdefghijklmnopqrstuvwxyz0123456789_.";

    [GeneratedRegex("^[a-z0-9_.]{3,32}$")]
    private static partial Regex Valid();

    public static string Normalise(string value) => value.Trim().ToLowerInvariant();

    public static bool IsValid(string normalised) => Valid().IsMatch(normalised);

    /// <summary>A username derived from a display name: "Zoë O'Brien" becomes "zoe.obrien".</summary>
    public static string FromDisplayName(string displayName)
    {
        var decomposed = displayName.Normalize(NormalizationForm.FormD);
        var result = new StringBuilder();
        foreach (var c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
                continue;
            var lower = char.ToLowerInvariant(c);
            if (lower is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_')
                result.Append(lower);
            else if ((char.IsWhiteSpace(c) || c is '.' or '-') && result.Length > 0 && result[^1] != '.')
                result.Append('.');
        }
        var name = result.ToString().Trim('.');
        if (name.Length > MaxLength - 5)
            name = name[..(MaxLength - 5)].TrimEnd('.');
        return name.Length >= MinLength ? name : (name + "user").TrimStart('.');
    }

    /// <summary>The base with a random numeric suffix, for when the base is taken.</summary>
    public static string WithSuffix(string baseName, int attempt) =>
        $"{baseName}{Random.Shared.Next(attempt < 5 ? 10 : 1000, attempt < 5 ? 10_000 : 100_000)}";
}
