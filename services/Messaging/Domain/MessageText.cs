using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Platform.Messaging.Domain;

/// <summary>Rules for what a message's text may hold and what is found in it.</summary>
public static partial class MessageText
{
    public const int MaxUrls = 20;
    public const int MaxMentions = 50;

    /// <summary>NFC, without control characters other than newline and tab, trimmed; line endings as \n.</summary>
    public static string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.Replace("\r\n", "\n").Normalize(NormalizationForm.FormC).EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (rune.Value is '\n' or '\t' || category is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse)
                || IsJoinerOrSelector(rune))
                builder.Append(rune.ToString());
        }
        return builder.ToString().Trim();
    }

    public const string Channel = "channel";
    public const string Here = "here";

    /// <summary>
    /// <c>channel</c> when the text says <c>@channel</c> (everyone), else <c>here</c> for <c>@here</c> (everyone online
    /// now), else null.
    /// </summary>
    public static string? MassMention(string text)
    {
        var found = MassMentionPattern().Matches(text).Select(m => m.Groups[1].Value.ToLowerInvariant()).ToHashSet();
        return found.Contains(Channel) ? Channel : found.Contains(Here) ? Here : null;
    }

    [GeneratedRegex(@"(?<![\w@])@(channel|here)(?![\w.-]*[\w])", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex MassMentionPattern();

    /// <summary>Distinct lower-case usernames written as <c>@username</c>.</summary>
    public static IReadOnlyList<string> MentionedUsernames(string text) =>
        MentionPattern().Matches(text).Select(m => m.Groups[1].Value.ToLowerInvariant()).Distinct().Take(MaxMentions).ToList();

    public static IReadOnlyList<string> Urls(string text) =>
        UrlPattern().Matches(text).Select(m => m.Value.TrimEnd('.', ',', ';', ':', '!', '?', ')', '\'', '"'))
            .Where(url => Uri.TryCreate(url, UriKind.Absolute, out _)).Distinct().Take(MaxUrls).ToList();

    // Emoji sequences need the zero-width joiner and variation selectors, which are format characters.
    private static bool IsJoinerOrSelector(Rune rune) => rune.Value is 0x200D or >= 0xFE00 and <= 0xFE0F or >= 0xE0020 and <= 0xE007F;

    [GeneratedRegex(@"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})(?<![.-])", RegexOptions.CultureInvariant)]
    private static partial Regex MentionPattern();

    [GeneratedRegex(@"\bhttps?://[^\s<>""]{1,2048}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPattern();
}

public static class Emoji
{
    /// <summary>One emoji (a single grapheme such as 👍, ❤️, 👍🏽, 🇫🇷 or 👨‍👩‍👧), nothing else.</summary>
    public static bool IsValid(string value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 32 || StringInfo.GetNextTextElementLength(value) != value.Length)
            return false;
        var runes = value.EnumerateRunes().ToList();
        return (runes.Any(IsPictographic) || runes[^1].Value == 0x20E3) && runes.All(rune => IsPictographic(rune) || IsModifier(rune) || rune.Value is '#' or '*' or >= '0' and <= '9');
    }

    private static bool IsPictographic(Rune rune) => rune.Value is
        0x00A9 or 0x00AE or 0x203C or 0x2049 or 0x2122 or 0x2139 or (>= 0x2194 and <= 0x21AA) or 0x231A or 0x231B or 0x2328 or 0x23CF
        or (>= 0x23E9 and <= 0x23FA) or 0x24C2 or (>= 0x25AA and <= 0x25FE) or (>= 0x2600 and <= 0x27BF) or (>= 0x2934 and <= 0x2935)
        or (>= 0x2B05 and <= 0x2B55) or 0x3030 or 0x303D or 0x3297 or 0x3299 or (>= 0x1F000 and <= 0x1FAFF);

    // Skin tones, variation selectors, the zero-width joiner, keycap and tag characters.
    private static bool IsModifier(Rune rune) => rune.Value is
        (>= 0x1F3FB and <= 0x1F3FF) or (>= 0xFE00 and <= 0xFE0F) or 0x200D or 0x20E3 or (>= 0xE0020 and <= 0xE007F);
}
