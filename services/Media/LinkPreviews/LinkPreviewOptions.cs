using System.ComponentModel.DataAnnotations;

namespace Platform.Media.LinkPreviews;

public sealed class LinkPreviewOptions
{
    public const string Section = "LinkPreviews";

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>At most this much of a page is read.</summary>
    public int MaxBytes { get; set; } = 1024 * 1024;

    public int MaxRedirects { get; set; } = 5;

    /// <summary>Ports that may be fetched; empty means <see cref="DefaultPorts"/> (a configured list replaces them).</summary>
    public int[] AllowedPorts { get; set; } = [];

    public static readonly int[] DefaultPorts = [80, 443, 8080, 8443];

    public IReadOnlyList<int> EffectivePorts => AllowedPorts.Length > 0 ? AllowedPorts : DefaultPorts;

    /// <summary>
    /// Exceptions to the address rules, as <c>ip:port</c> (<c>127.0.0.1:8080</c>, <c>[::1]:8080</c>): an internal site
    /// that may be previewed, or a test's local server. Nothing else private, loopback or link-local is ever fetched.
    /// </summary>
    public string[] AllowedEndpoints { get; set; } = [];

    public TimeSpan CacheLifetime { get; set; } = TimeSpan.FromHours(1);

    public int MaxUrlsPerMessage { get; set; } = 3;

    /// <summary>Previews one user may ask for per minute through the API (previews of posted messages are not counted).</summary>
    public int RequestsPerMinute { get; set; } = 30;

    /// <summary>Pages fetched (cache misses) for one user per minute, through the API and for the URLs of their messages.</summary>
    [Range(1, 100_000)]
    public int FetchesPerUserPerMinute { get; set; } = 30;

    /// <summary>Pages fetched from one host per minute, for everyone together: Media never floods a web site.</summary>
    [Range(1, 100_000)]
    public int FetchesPerSitePerMinute { get; set; } = 60;

    public string UserAgent { get; set; } = "PlatformLinkPreview/1.0 (+https://github.com/platform)";
}
