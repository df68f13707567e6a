using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lib.Net.Http.WebPush;
using Lib.Net.Http.WebPush.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Push;

/// <summary>
/// What a push says: one notification, or a burst of them in one conversation. <see cref="Action"/> tells the device what
/// to do with the notification it shows under <see cref="Tag"/> (the conversation): show a new one, replace its text, or
/// withdraw it.
/// </summary>
public sealed record PushPayload(string Title, string? Body, string Kind, Guid? ConversationId, int Count, IReadOnlyList<Guid> NotificationIds)
{
    public string Action { get; init; } = PushActions.Show;

    /// <summary>The same for every push about one conversation: the Web Push <c>Topic</c>, APNs collapse id and FCM tag.</summary>
    public string? Tag => ConversationId?.ToString("N");

    public static PushPayload Withdrawal(Guid conversationId, IReadOnlyList<Guid> notificationIds) =>
        new("", null, PushActions.Withdraw, conversationId, 0, notificationIds) { Action = PushActions.Withdraw };
}

public static class PushActions
{
    public const string Show = "show";
    /// <summary>Replace the shown notification's text (after an edit, a delete, or a read of part of it).</summary>
    public const string Update = "update";
    /// <summary>Close the shown notification: everything it showed was read or deleted.</summary>
    public const string Withdraw = "withdraw";
}

/// <summary>How a push service answered: delivered, the subscription is gone (404/410), try again later (429/5xx), or failed for good.</summary>
public abstract record PushResult
{
    public sealed record Delivered : PushResult;

    public sealed record Gone(string Reason) : PushResult;

    public sealed record Retry(TimeSpan? After, string Reason) : PushResult;

    public sealed record Failed(string Reason) : PushResult;

    public static PushResult FromStatus(HttpStatusCode status, TimeSpan? retryAfter, string reason) => (int)status switch
    {
        >= 200 and < 300 => new Delivered(),
        404 or 410 => new Gone(reason),
        429 or >= 500 => new Retry(retryAfter, reason),
        _ => new Failed(reason),
    };
}

/// <summary>One push platform: Web Push, APNs or FCM.</summary>
public interface IPushSender
{
    string Platform { get; }

    Task<PushResult> SendAsync(PushSubscriptionDoc subscription, PushPayload payload, CancellationToken cancellationToken);
}

/// <summary>
/// Web Push (RFC 8030) with payload encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292), by Lib.Net.Http.WebPush. The
/// HTTP client refuses to connect to private addresses unless the endpoint is explicitly allowed, checking the address
/// it actually connects to (so a name that resolves differently later cannot reach inside).
/// </summary>
public sealed class WebPushSender(PushServiceClient client, VapidKeyStore keys, IOptions<NotificationsOptions> options) : IPushSender
{
    public string Platform => "web";

    public async Task<PushResult> SendAsync(PushSubscriptionDoc subscription, PushPayload payload, CancellationToken cancellationToken)
    {
        var target = new PushSubscription { Endpoint = subscription.Endpoint };
        target.SetKey(PushEncryptionKeyName.P256DH, subscription.P256dh!);
        target.SetKey(PushEncryptionKeyName.Auth, subscription.Auth!);
        var message = new PushMessage(JsonSerializer.Serialize(payload, JsonSerializerOptions.Web))
        {
            TimeToLive = options.Value.Push.TimeToLiveSeconds,
            Urgency = payload.Kind is Kinds.Mention or Kinds.DirectMessage ? PushMessageUrgency.High : PushMessageUrgency.Normal,
            // A newer push about the same conversation (a new one, a correction, a withdrawal) replaces one the device has
            // not fetched yet; the service worker replaces or closes the shown one by the payload's tag.
            Topic = payload.Tag,
        };
        var (publicKey, privateKey) = await keys.GetAsync(cancellationToken);
        using var vapid = new VapidAuthentication(publicKey, privateKey) { Subject = options.Value.Push.VapidSubject };
        try
        {
            await client.RequestPushMessageDeliveryAsync(target, message, vapid, VapidAuthenticationScheme.Vapid, cancellationToken);
            return new PushResult.Delivered();
        }
        catch (PushServiceClientException exception)
        {
            return PushResult.FromStatus(exception.StatusCode, exception.Headers?.RetryAfter?.Delta, $"{(int)exception.StatusCode} {exception.Message}");
        }
        catch (HttpRequestException exception) when (exception.InnerException is RefusedAddressException refused)
        {
            return new PushResult.Gone(refused.Message);
        }
        catch (HttpRequestException exception)
        {
            return new PushResult.Retry(null, exception.Message);
        }
    }

    /// <summary>The handler for Web Push requests: connects only to public addresses, or to the allowed endpoints.</summary>
    public static SocketsHttpHandler CreateHandler(IOptions<NotificationsOptions> options) => new()
    {
        UseCookies = false,
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var requested = context.InitialRequestMessage.RequestUri?.ToString() ?? "";
            var allowed = options.Value.Push.AllowedEndpointPrefixes.Any(prefix => requested.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            foreach (var address in addresses)
            {
                if (!allowed && EndpointRules.IsPrivate(address))
                    continue;
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(address, context.DnsEndPoint.Port, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
            throw new RefusedAddressException($"{host} resolves to no public address; push endpoints must be public.");
        },
    };
}

public sealed class RefusedAddressException(string message) : Exception(message);

/// <summary>The VAPID key pair: configured, or generated once, stored, and shared by every replica.</summary>
public sealed class VapidKeyStore(Marten.IDocumentStore store, IOptions<NotificationsOptions> options)
{
    private (string Public, string Private)? _keys;

    public async Task<(string Public, string Private)> GetAsync(CancellationToken cancellationToken)
    {
        if (_keys is { } known)
            return known;
        var push = options.Value.Push;
        if (!string.IsNullOrEmpty(push.VapidPublicKey) && !string.IsNullOrEmpty(push.VapidPrivateKey))
            return (_keys = (push.VapidPublicKey, push.VapidPrivateKey)).Value;

        await using var session = store.LightweightSession();
        var stored = await session.LoadAsync<VapidKeys>("vapid", cancellationToken);
        if (stored is null)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var parameters = key.ExportParameters(includePrivateParameters: true);
            stored = new VapidKeys
            {
                PublicKey = Base64UrlEncoder.Encode([0x04, .. parameters.Q.X!, .. parameters.Q.Y!]),
                PrivateKey = Base64UrlEncoder.Encode(parameters.D!),
            };
            session.Insert(stored);
            try
            {
                await session.SaveChangesAsync(cancellationToken);
            }
            catch (JasperFx.DocumentAlreadyExistsException)
            {
                // Another replica generated them first: use theirs.
                await using var again = store.QuerySession();
                stored = (await again.LoadAsync<VapidKeys>("vapid", cancellationToken))!;
            }
        }
        return (_keys = (stored.PublicKey, stored.PrivateKey)).Value;
    }
}

/// <summary>
/// APNs over HTTP/2 with a provider token (ES256 JWT from the .p8 key, reused for 50 minutes). Apple's servers are not
/// reachable from test machines; the request is unit-tested.
/// </summary>
public sealed class ApnsSender(HttpClient http, IOptions<NotificationsOptions> options, TimeProvider time) : IPushSender
{
    private (string Token, DateTimeOffset At)? _token;

    public string Platform => "apns";

    public HttpRequestMessage BuildRequest(PushSubscriptionDoc subscription, PushPayload payload)
    {
        var apns = options.Value.Push.Apns;
        var withdraw = payload.Action == PushActions.Withdraw;
        var aps = withdraw
            ? new Dictionary<string, object?> { ["content-available"] = 1, ["badge"] = 0 }
            : new Dictionary<string, object?>
            {
                ["alert"] = new { title = payload.Title, body = payload.Body },
                ["badge"] = payload.Count,
                ["thread-id"] = payload.ConversationId?.ToString(),
            };
        // A correction replaces the shown notification without sounding again.
        if (payload.Action == PushActions.Show)
            aps["sound"] = "default";
        var host = apns.Production ? "https://api.push.apple.com" : "https://api.sandbox.push.apple.com";
        var request = new HttpRequestMessage(HttpMethod.Post, $"{host}/3/device/{Uri.EscapeDataString(subscription.Endpoint)}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                // A withdrawal is silent (content-available): the app removes the delivered notification of the collapse id.
                ["aps"] = aps,
                ["action"] = payload.Action,
                ["conversationId"] = payload.ConversationId,
                ["notificationIds"] = payload.NotificationIds,
            }, JsonSerializerOptions.Web), Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("authorization", "bearer " + ProviderToken());
        request.Headers.TryAddWithoutValidation("apns-topic", apns.BundleId);
        request.Headers.TryAddWithoutValidation("apns-push-type", withdraw ? "background" : "alert");
        request.Headers.TryAddWithoutValidation("apns-priority", !withdraw && payload.Kind is Kinds.Mention or Kinds.DirectMessage ? "10" : "5");
        request.Headers.TryAddWithoutValidation("apns-expiration", (time.GetUtcNow() + TimeSpan.FromSeconds(options.Value.Push.TimeToLiveSeconds)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        if (payload.Tag is { } tag)
            request.Headers.TryAddWithoutValidation("apns-collapse-id", tag);
        return request;
    }

    public async Task<PushResult> SendAsync(PushSubscriptionDoc subscription, PushPayload payload, CancellationToken cancellationToken)
    {
        using var request = BuildRequest(subscription, payload);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        // 400 BadDeviceToken and 410 Unregistered: the token will never work again.
        if (response.StatusCode == HttpStatusCode.BadRequest && body.Contains("BadDeviceToken", StringComparison.Ordinal))
            return new PushResult.Gone("BadDeviceToken");
        return PushResult.FromStatus(response.StatusCode, response.Headers.RetryAfter?.Delta, $"{(int)response.StatusCode} {body}");
    }

    private string ProviderToken()
    {
        var now = time.GetUtcNow();
        if (_token is { } cached && now - cached.At < TimeSpan.FromMinutes(50))
            return cached.Token;
        var apns = options.Value.Push.Apns;
        var key = ECDsa.Create();
        key.ImportFromPem(apns.PrivateKeyPem);
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = apns.TeamId,
            IssuedAt = now.UtcDateTime,
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(key) { KeyId = apns.KeyId }, SecurityAlgorithms.EcdsaSha256),
        });
        _token = (token, now);
        return token;
    }
}

/// <summary>
/// FCM HTTP v1: an OAuth2 access token from the service account (a signed JWT assertion), then one request per token.
/// Google's servers are not reachable from test machines; the requests are unit-tested.
/// </summary>
public sealed class FcmSender(HttpClient http, IOptions<NotificationsOptions> options, TimeProvider time) : IPushSender
{
    private (string Token, DateTimeOffset Expires)? _access;

    public string Platform => "fcm";

    public HttpRequestMessage BuildTokenRequest()
    {
        var fcm = options.Value.Push.Fcm;
        var now = time.GetUtcNow();
        var key = RSA.Create();
        key.ImportFromPem(fcm.PrivateKeyPem);
        var assertion = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = fcm.ClientEmail,
            Audience = fcm.TokenUri,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + TimeSpan.FromHours(1)).UtcDateTime,
            Claims = new Dictionary<string, object> { ["scope"] = "https://www.googleapis.com/auth/firebase.messaging" },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key), SecurityAlgorithms.RsaSha256),
        });
        return new HttpRequestMessage(HttpMethod.Post, fcm.TokenUri)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ["assertion"] = assertion,
            }),
        };
    }

    public HttpRequestMessage BuildRequest(PushSubscriptionDoc subscription, PushPayload payload, string accessToken)
    {
        var fcm = options.Value.Push.Fcm;
        var request = new HttpRequestMessage(HttpMethod.Post, $"{fcm.Endpoint.TrimEnd('/')}/v1/projects/{Uri.EscapeDataString(fcm.ProjectId ?? "")}/messages:send")
        {
            Content = new StringContent(JsonSerializer.Serialize(new
            {
                message = new
                {
                    token = subscription.Endpoint,
                    // A withdrawal is a data message: the app cancels the notification with the tag.
                    notification = payload.Action == PushActions.Withdraw ? null : new { title = payload.Title, body = payload.Body },
                    data = new Dictionary<string, string>
                    {
                        ["kind"] = payload.Kind,
                        ["action"] = payload.Action,
                        ["tag"] = payload.Tag ?? "",
                        ["conversationId"] = payload.ConversationId?.ToString() ?? "",
                        ["count"] = payload.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    },
                    android = new
                    {
                        priority = payload.Kind is Kinds.Mention or Kinds.DirectMessage ? "high" : "normal", ttl = $"{options.Value.Push.TimeToLiveSeconds}s",
                        collapse_key = payload.Tag,
                        // The same tag replaces the shown notification (a correction of its text).
                        notification = payload.Action == PushActions.Withdraw ? null : new { tag = payload.Tag },
                    },
                },
            }, JsonSerializerOptions.Web), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accessToken);
        return request;
    }

    public async Task<PushResult> SendAsync(PushSubscriptionDoc subscription, PushPayload payload, CancellationToken cancellationToken)
    {
        var token = await AccessTokenAsync(cancellationToken);
        using var request = BuildRequest(subscription, payload, token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode == HttpStatusCode.BadRequest && body.Contains("INVALID_ARGUMENT", StringComparison.Ordinal) && body.Contains("registration token", StringComparison.OrdinalIgnoreCase))
            return new PushResult.Gone("invalid registration token");
        return PushResult.FromStatus(response.StatusCode, response.Headers.RetryAfter?.Delta, $"{(int)response.StatusCode} {body}");
    }

    private async Task<string> AccessTokenAsync(CancellationToken cancellationToken)
    {
        if (_access is { } cached && cached.Expires - time.GetUtcNow() > TimeSpan.FromMinutes(5))
            return cached.Token;
        using var request = BuildTokenRequest();
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        var token = body.GetProperty("access_token").GetString()!;
        _access = (token, time.GetUtcNow() + TimeSpan.FromSeconds(body.TryGetProperty("expires_in", out var expires) ? expires.GetInt32() : 3600));
        return token;
    }
}
