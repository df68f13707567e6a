using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Platform.Media;

public static class MediaUrls
{
    public const string Base = "/api/v1/media";

    public static string Thumbnail(Guid id) => $"{Base}/{id}/thumbnail";
}

public enum Variant { Original, Small, Large }

public enum SignatureCheck { Valid, Expired, Invalid }

/// <summary>
/// Short-lived download URLs: an HMAC-SHA256 over the file, the variant and the expiry, so the download endpoint
/// needs no bearer token (an &lt;img&gt; or &lt;video&gt; element can use it) and cannot be pointed at another file.
/// </summary>
public sealed class UrlSigner(IOptions<MediaOptions> options, TimeProvider time)
{
    public (string Url, DateTimeOffset ExpiresAt) Sign(Guid id, Variant variant)
    {
        var expires = time.GetUtcNow().Add(options.Value.SignedUrlLifetime);
        var seconds = expires.ToUnixTimeSeconds();
        var signature = WebEncoders.Base64UrlEncode(Mac(id, variant, seconds));
        return ($"{MediaUrls.Base}/content/{id}/{variant.ToString().ToLowerInvariant()}?expires={seconds}&signature={signature}",
            DateTimeOffset.FromUnixTimeSeconds(seconds));
    }

    public SignatureCheck Check(Guid id, Variant variant, string? expires, string? signature)
    {
        if (!long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || string.IsNullOrEmpty(signature))
            return SignatureCheck.Invalid;
        byte[] given;
        try
        {
            given = WebEncoders.Base64UrlDecode(signature);
        }
        catch (FormatException)
        {
            return SignatureCheck.Invalid;
        }
        if (!CryptographicOperations.FixedTimeEquals(given, Mac(id, variant, seconds)))
            return SignatureCheck.Invalid;
        return time.GetUtcNow().ToUnixTimeSeconds() > seconds ? SignatureCheck.Expired : SignatureCheck.Valid;
    }

    private byte[] Mac(Guid id, Variant variant, long expires) =>
        HMACSHA256.HashData(options.Value.SigningKeyBytes(), Encoding.ASCII.GetBytes($"{id:N}|{variant}|{expires}"));
}
