using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Platform.Notifications.Push;

/// <summary>What a Web Push subscription must look like before we will ever send to it.</summary>
public static class EndpointRules
{
    /// <summary>Loopback, private, link-local (incl. cloud metadata), CGNAT, multicast, unspecified, and IPv6 forms of them.</summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
            return true;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] is 0 or 10 or 127 || b[0] >= 224 || (b[0] == 169 && b[1] == 254) || (b[0] == 172 && b[1] is >= 16 and <= 31)
                || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && b[1] is >= 64 and <= 127) || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && b[1] is 18 or 19);
        }
        var bytes = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (bytes[0] & 0xfe) == 0xfc
            || (bytes.Take(12).All(x => x == 0) && IsPrivate(new IPAddress(bytes[12..])));
    }

    /// <summary>Null when the endpoint is acceptable; otherwise why not.</summary>
    public static string? CheckEndpoint(string? endpoint, IReadOnlyCollection<string> allowedPrefixes)
    {
        if (string.IsNullOrWhiteSpace(endpoint) || endpoint.Length > 2048 || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
            return "endpoint must be an absolute URL of at most 2048 characters.";
        if (allowedPrefixes.Any(prefix => endpoint.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            return null;
        if (uri.Scheme != Uri.UriSchemeHttps)
            return "endpoint must be https.";
        if (!string.IsNullOrEmpty(uri.UserInfo))
            return "endpoint must not carry credentials.";
        var host = uri.IdnHost;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host.Trim('[', ']'), out var literal) && IsPrivate(literal)))
            return "endpoint must be a public address.";
        return null;
    }

    /// <summary>Null when the keys are a P-256 public point (65 bytes, uncompressed) and a 16-byte auth secret; otherwise why not.</summary>
    public static string? CheckKeys(string? p256dh, string? auth)
    {
        byte[] point, secret;
        try
        {
            point = Base64UrlEncoder.DecodeBytes(p256dh ?? "");
            secret = Base64UrlEncoder.DecodeBytes(auth ?? "");
        }
        catch (FormatException)
        {
            return "keys.p256dh and keys.auth must be base64url.";
        }
        if (secret.Length != 16)
            return "keys.auth must be 16 bytes (base64url).";
        if (point.Length != 65 || point[0] != 0x04)
            return "keys.p256dh must be an uncompressed P-256 public key: 65 bytes starting with 0x04 (base64url).";
        try
        {
            using var key = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = point[1..33], Y = point[33..] },
            });
        }
        catch (CryptographicException)
        {
            return "keys.p256dh is not a point on the P-256 curve.";
        }
        return null;
    }
}
