namespace Platform.Identity.Domain;

/// <summary>
/// Where a browser may be sent after signing in: a path on this host, nothing else. Browsers repair what they are
/// given before resolving it (tabs and newlines are dropped, a backslash is a slash, leading blanks are trimmed), so
/// the check refuses everything such a repair could turn into another origin instead of trying to predict it.
/// </summary>
public static class ReturnUrls
{
    public const int MaxLength = 4096;

    private static readonly Uri Probe = new("https://return-url.invalid/");

    /// <summary>The URL itself when it is a local path, otherwise null.</summary>
    public static string? LocalOrNull(string? url) => IsLocal(url) ? url : null;

    public static bool IsLocal(string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length > MaxLength)
            return false;
        // Only printable ASCII: no controls (a tab or newline is removed by the browser), no blanks, no backslash
        // (a slash to the browser), no lookalikes of '/' from other scripts; a real URL has them percent-encoded.
        foreach (var c in url)
            if (c is <= ' ' or >= '\u007f' or '\\')
                return false;
        if (url[0] != '/' || url.Length > 1 && url[1] == '/')
            return false;

        // The path as a server (or a proxy) that percent-decodes it again would see it: still no controls, backslashes
        // or doubled slashes, and no encoded slash (each can become "//host" one decoding later).
        var end = url.IndexOfAny(['?', '#']);
        var path = end < 0 ? url : url[..end];
        for (var round = 0; path.Contains('%'); round++)
        {
            if (round == 3 || !TryDecode(path, out var decoded) || decoded == path)
                return false;
            if (CountSlashes(decoded) != CountSlashes(path))
                return false;
            path = decoded;
        }
        if (path.Contains("//") || path.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || SlashLike(c)))
            return false;

        // Finally resolve it as a browser would, against some origin: it must stay on that origin.
        return Uri.TryCreate(Probe, url, out var resolved)
            && resolved.Scheme == Probe.Scheme && resolved.Authority == Probe.Authority
            && !resolved.AbsolutePath.StartsWith("//", StringComparison.Ordinal);
    }

    /// <summary>A backslash, or a character some software folds into a slash or backslash.</summary>
    private static bool SlashLike(char c) => c is '\\' or '\u2044' or '\u2215' or '\u29F8' or '\u29F5' or '\uFF0F' or '\uFF3C';

    private static int CountSlashes(string path) => path.Count(c => c is '/' or '\\');

    private static bool TryDecode(string value, out string decoded)
    {
        try
        {
            decoded = Uri.UnescapeDataString(value);
            return true;
        }
        catch (UriFormatException)
        {
            decoded = value;
            return false;
        }
    }
}
