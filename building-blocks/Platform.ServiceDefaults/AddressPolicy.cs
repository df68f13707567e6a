using System.Net;
using System.Net.Sockets;

namespace Platform.ServiceDefaults;

/// <summary>
/// The addresses the platform may connect to on behalf of users (link previews, slash commands' bots, webhooks): public
/// unicast on the allowed ports only, unless an endpoint (<c>ip:port</c>, a test's local server or a known internal site)
/// is explicitly allowed.
/// </summary>
public sealed class AddressPolicy(IEnumerable<int> ports, IEnumerable<string> allowedEndpoints)
{
    private readonly HashSet<IPEndPoint> _allowed = allowedEndpoints.Select(IPEndPoint.Parse).Select(Normalize).ToHashSet();
    private readonly HashSet<int> _ports = ports.ToHashSet();

    public bool Allows(IPAddress address, int port)
    {
        var endpoint = Normalize(new IPEndPoint(address, port));
        if (_allowed.Contains(endpoint))
            return true;
        return _ports.Contains(port) && IsPublic(endpoint.Address);
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
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/> that resolves the name itself, connects only to addresses the
    /// policy allows, and checks the address actually connected to again (a name re-resolving to an internal address
    /// between check and use gains nothing).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, Func<string, CancellationToken, Task<IPAddress[]>> resolve, CancellationToken cancellationToken)
    {
        var host = endpoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolve(host, cancellationToken);
        var allowed = addresses.Where(a => Allows(a, endpoint.Port)).ToList();
        if (allowed.Count == 0)
            throw new BlockedAddressException($"{endpoint.Host}:{endpoint.Port} does not resolve to an address that may be fetched.");

        SocketException? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken);
                if (socket.RemoteEndPoint is not IPEndPoint connected || !Allows(connected.Address, connected.Port))
                    throw new BlockedAddressException($"Connected to {socket.RemoteEndPoint}, which may not be fetched.");
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

    /// <summary>The <see cref="BlockedAddressException"/> somewhere in an HTTP failure, if the policy caused it.</summary>
    public static BlockedAddressException? Blocked(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
            if (e is BlockedAddressException blocked)
                return blocked;
        return null;
    }
}

/// <summary>A URL that resolves or redirects to an address the policy refuses.</summary>
public sealed class BlockedAddressException(string message) : Exception(message);
