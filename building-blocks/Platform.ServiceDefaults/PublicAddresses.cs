using System.Net;
using System.Net.Sockets;

namespace Platform.ServiceDefaults;

/// <summary>
/// The addresses a service may connect to on a user's behalf (link previews, outgoing webhooks): public unicast only,
/// unless an endpoint is explicitly allowed, or loopback is (a test's local receiver).
/// </summary>
/// <param name="allowedPorts">Ports that public addresses may be reached on; null: any.</param>
/// <param name="allowedEndpoints">Exceptions as <c>ip:port</c> (<c>127.0.0.1:8080</c>, <c>[::1]:8080</c>).</param>
/// <param name="allowLoopback">Loopback addresses on any port (off in production; on in tests with a local receiver).</param>
public sealed class AddressPolicy(IReadOnlyCollection<int>? allowedPorts, IEnumerable<string> allowedEndpoints, bool allowLoopback = false)
{
    private readonly HashSet<IPEndPoint> _allowed = allowedEndpoints.Select(IPEndPoint.Parse).Select(Normalize).ToHashSet();

    public bool Allows(IPAddress address, int port)
    {
        var endpoint = Normalize(new IPEndPoint(address, port));
        if (_allowed.Contains(endpoint) || (allowLoopback && IPAddress.IsLoopback(endpoint.Address)))
            return true;
        return (allowedPorts is null || allowedPorts.Contains(port)) && IsPublic(endpoint.Address);
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

    /// <summary>
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/> body: the name is resolved here, every candidate address is
    /// checked, and the address actually connected to is checked again, so a name that re-resolves to an internal address
    /// between a check and its use (DNS rebinding) gains nothing. Throws <see cref="BlockedAddressException"/>.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, IHostResolver resolver, CancellationToken cancellationToken)
    {
        var host = endpoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolver.ResolveAsync(host, cancellationToken);
        var allowed = addresses.Where(a => Allows(a, endpoint.Port)).ToList();
        if (allowed.Count == 0)
            throw new BlockedAddressException($"{endpoint.Host}:{endpoint.Port} does not resolve to an address that may be reached.");

        SocketException? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken);
                if (socket.RemoteEndPoint is not IPEndPoint connected || !Allows(connected.Address, connected.Port))
                    throw new BlockedAddressException($"Connected to {socket.RemoteEndPoint}, which may not be reached.");
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException exception)
            {
                socket.Dispose();
                last = exception;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    /// <summary>The <see cref="BlockedAddressException"/> somewhere in an exception's chain (an HttpClient wraps it).</summary>
    public static BlockedAddressException? Blocked(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
            if (e is BlockedAddressException blocked)
                return blocked;
        return null;
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

/// <summary>A URL that resolves or redirects to an address that must not be reached.</summary>
public sealed class BlockedAddressException(string message) : Exception(message);
