using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Platform.Testing;

/// <summary>
/// A browser's push service and service worker in one: an HTTP endpoint that holds a subscription's private key and
/// auth secret, checks the VAPID signature (RFC 8292) and decrypts the aes128gcm payload (RFC 8291) of every push.
/// It can answer with a chosen status instead, to play a push service that is busy (429) or forgot the subscription (410).
/// </summary>
public sealed class WebPushReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ECDiffieHellman _key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    private readonly byte[] _auth = RandomNumberGenerator.GetBytes(16);
    private readonly ConcurrentQueue<int> _answers = new();

    private WebPushReceiver(WebApplication app, Uri address)
    {
        _app = app;
        Endpoint = new Uri(address, "push/" + Guid.NewGuid().ToString("N")).ToString();
    }

    public string Endpoint { get; }

    public string P256dh => Base64UrlEncoder.Encode(PublicPoint);

    public string Auth => Base64UrlEncoder.Encode(_auth);

    public ConcurrentQueue<JsonElement> Received { get; } = new();

    public ConcurrentQueue<string> Rejected { get; } = new();

    /// <summary>The <c>Topic</c> header of each accepted push, in the order of <see cref="Received"/> (empty when absent).</summary>
    public ConcurrentQueue<string> Topics { get; } = new();

    public int Requests;

    private byte[] PublicPoint
    {
        get
        {
            var q = _key.ExportParameters(false).Q;
            return [0x04, .. q.X!, .. q.Y!];
        }
    }

    public static async Task<WebPushReceiver> StartAsync()
    {
        WebPushReceiver? receiver = null;
        var (app, address) = await LoopbackServer.StartAsync(app => app.MapPost("/push/{id}", async (HttpContext context) =>
        {
            Interlocked.Increment(ref receiver!.Requests);
            if (receiver._answers.TryDequeue(out var status))
                return Results.StatusCode(status);
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            try
            {
                receiver.CheckVapid(context.Request.Headers.Authorization.ToString(), context.Request.Headers["TTL"].ToString());
                if (context.Request.Headers.ContentEncoding.ToString() != "aes128gcm")
                    throw new InvalidOperationException("Content-Encoding is not aes128gcm.");
                var payload = JsonDocument.Parse(receiver.Decrypt(body.ToArray())).RootElement.Clone();
                receiver.Topics.Enqueue(context.Request.Headers["Topic"].ToString());
                receiver.Received.Enqueue(payload);
                return Results.Created();
            }
            catch (Exception exception)
            {
                receiver.Rejected.Enqueue(exception.Message);
                return Results.BadRequest();
            }
        }));
        receiver = new WebPushReceiver(app, address);
        return receiver;
    }

    /// <summary>The next pushes are answered with these statuses (e.g. 429, 410) instead of being accepted.</summary>
    public void AnswerNext(params int[] statuses)
    {
        foreach (var status in statuses)
            _answers.Enqueue(status);
    }

    // RFC 8292: "vapid t=<JWT signed ES256>, k=<the application server's public key>"; aud is the push service's origin.
    private void CheckVapid(string authorization, string ttl)
    {
        if (!authorization.StartsWith("vapid ", StringComparison.Ordinal))
            throw new InvalidOperationException("No VAPID authorization.");
        var parts = authorization["vapid ".Length..].Split(',', StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var k = Base64UrlEncoder.DecodeBytes(parts["k"]);
        var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = k[1..33], Y = k[33..] } });
        var origin = new Uri(Endpoint).GetLeftPart(UriPartial.Authority);
        var result = new JsonWebTokenHandler().ValidateTokenAsync(parts["t"], new TokenValidationParameters
        {
            IssuerSigningKey = new ECDsaSecurityKey(key),
            // Lib.Net.Http.WebPush names the origin without a non-default port; real push services all listen on 443.
            ValidAudiences = [origin, new Uri(Endpoint).GetLeftPart(UriPartial.Scheme) + new Uri(Endpoint).Host],
            ValidateIssuer = false,
            RequireExpirationTime = true,
        }).GetAwaiter().GetResult();
        if (!result.IsValid)
            throw new InvalidOperationException($"VAPID token invalid ({new JsonWebToken(parts["t"]).Audiences.FirstOrDefault()} for {origin}): " + result.Exception?.Message);
        if (!result.Claims.TryGetValue("sub", out var sub) || !sub.ToString()!.StartsWith("mailto:", StringComparison.Ordinal))
            throw new InvalidOperationException("VAPID token has no mailto: subject.");
        if (!int.TryParse(ttl, out _))
            throw new InvalidOperationException("No TTL header.");
    }

    // RFC 8291 section 3.4 and RFC 8188: salt(16) | rs(4) | idlen(1) | keyid (the sender's ephemeral public key) | record.
    private string Decrypt(byte[] body)
    {
        var salt = body[..16];
        var idLength = body[20];
        var senderPublic = body[21..(21 + idLength)];
        var record = body[(21 + idLength)..];

        using var sender = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = senderPublic[1..33], Y = senderPublic[33..] },
        });
        var ecdhSecret = _key.DeriveRawSecretAgreement(sender.PublicKey);
        byte[] keyInfo = [.. "WebPush: info\0"u8, .. PublicPoint, .. senderPublic];
        var ikm = HKDF.DeriveKey(HashAlgorithmName.SHA256, ecdhSecret, 32, _auth, keyInfo);
        var cek = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 16, salt, "Content-Encoding: aes128gcm\0"u8.ToArray());
        var nonce = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 12, salt, "Content-Encoding: nonce\0"u8.ToArray());

        var plain = new byte[record.Length - 16];
        using (var aes = new AesGcm(cek, 16))
            aes.Decrypt(nonce, record[..^16], record[^16..], plain);
        // The last record ends with the delimiter 0x02, then optional zero padding.
        var end = Array.FindLastIndex(plain, b => b != 0);
        if (end < 0 || plain[end] != 0x02)
            throw new InvalidOperationException("No final-record delimiter.");
        return Encoding.UTF8.GetString(plain, 0, end);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
