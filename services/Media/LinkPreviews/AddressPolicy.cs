using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;

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

/// <summary>The addresses link previews may connect to: public unicast only, unless an endpoint is explicitly allowed.</summary>
public sealed class AddressPolicy(LinkPreviewOptions options)
{
    private readonly HashSet<IPEndPoint> _allowed = options.AllowedEndpoints.Select(IPEndPoint.Parse).Select(Normalize).ToHashSet();

    public bool Allows(IPAddress address, int port)
    {
        var endpoint = Normalize(new IPEndPoint(address, port));
        if (_allowed.Contains(endpoint))
            return true;
        return options.EffectivePorts.Contains(port) && IsPublic(endpoint.Address);
    }

    private static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    /// <summary>
    /// False for loopback, private, link-local (with the cloud metadata address), CGNAT, multicast, unspecified, reserved
    /// and documentation ranges, and for IPv6 forms that carry such an IPv4 address (mapped, compatible, NAT64, 6to4).
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            return IsPublic(address.MapToIPv4());
        var b = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 192 && b[1] == 88 && b[2] == 99)
                || (b[0] == 198 && (b[1] & 0xFE) == 18)
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        // IPv4-compatible (::a.b.c.d), loopback and unspecified all start with 12 zero bytes.
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
            return false;
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
            return IsPublic(new IPAddress(b.AsSpan(12, 4)));
        if (b[0] == 0x20 && b[1] == 0x02)
            return IsPublic(new IPAddress(b.AsSpan(2, 4)));
        // Global unicast is 2000::/3; within it, Teredo (2001::/32) and documentation (2001:db8::/32) are refused.
        if ((b[0] & 0xE0) != 0x20)
            return false;
        if (b[0] == 0x20 && b[1] == 0x01 && ((b[2] == 0 && b[3] == 0) || (b[2] == 0x0D && b[3] == 0xB8)))
            return false;
        return true;
    }
}

/// <summary>How host names become addresses; replaceable so tests can make a name resolve to loopback.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

public sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>A URL that resolves or redirects to an address link previews must not reach.</summary>
public sealed class BlockedAddressException(string message) : Exception(message);
