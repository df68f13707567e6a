using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Webhooks;

public sealed record SendOutcome(bool Delivered, int? StatusCode, string? Error);

/// <summary>
/// Posts deliveries to receivers without becoming a way into internal networks: the URL's host is resolved at connect
/// time and every address checked (<see cref="AddressPolicy"/>, shared with link previews), the address connected to is
/// checked again, redirects are not followed, no cookies or proxies, a timeout, and at most a small part of the answer is read.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _client;
    private readonly WebhookOptions _options;

    public WebhookSender(IOptions<WebhookOptions> options, IHostResolver resolver)
    {
        _options = options.Value;
        Policy = new AddressPolicy(null, [], _options.AllowLoopback);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 64,
            ConnectCallback = (context, cancellationToken) => Policy.ConnectAsync(context.DnsEndPoint, resolver, cancellationToken),
        };
        _client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd(_options.UserAgent);
    }

    public AddressPolicy Policy { get; }

    public async Task<SendOutcome> SendAsync(string url, Guid eventId, string body, string signature, CancellationToken cancellationToken)
    {
        if (WebhookUrls.Check(url, Policy, _options.AllowLoopback) is { } problem)
            return new SendOutcome(false, null, problem);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add(WebhookHeaders.EventId, eventId.ToString());
            request.Headers.Add(WebhookHeaders.Signature, signature);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
                return new SendOutcome(true, status, null);
            if (status is >= 300 and < 400)
                return new SendOutcome(false, status, $"The receiver answered {status}; redirects are not followed.");
            var text = await ReadCappedAsync(response.Content, _options.MaxResponseBytes, deadline.Token);
            return new SendOutcome(false, status, $"The receiver answered {status}{(text.Length > 0 ? ": " + text : ".")}");
        }
        catch (HttpRequestException exception) when (AddressPolicy.Blocked(exception) is { } blocked)
        {
            return new SendOutcome(false, null, blocked.Message);
        }
        catch (HttpRequestException exception)
        {
            return new SendOutcome(false, null, $"The receiver could not be reached: {exception.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SendOutcome(false, null, $"The receiver did not answer within {_options.Timeout.TotalSeconds:0.#} s.");
        }
    }

    private static async Task<string> ReadCappedAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        if (maxBytes == 0)
            return "";
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[maxBytes];
        var total = 0;
        int read;
        while (total < maxBytes && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
            total += read;
        return new string(Encoding.UTF8.GetString(buffer, 0, total).Where(c => !char.IsControl(c)).ToArray());
    }

    public void Dispose() => _client.Dispose();
}

public static class WebhookHeaders
{
    public const string EventId = "Platform-Event-Id";
    public const string Signature = "Platform-Signature";
}

/// <summary>What a webhook URL must look like: https (http only to loopback where that is allowed), no credentials, and no literal internal address.</summary>
public static class WebhookUrls
{
    public static string? Check(string? url, AddressPolicy policy, bool allowLoopback)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2048 || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            return "url must be an absolute URL of at most 2048 characters.";
        if (uri.Scheme != Uri.UriSchemeHttps && !(uri.Scheme == Uri.UriSchemeHttp && allowLoopback && IsLoopback(uri)))
            return "url must be https.";
        if (!string.IsNullOrEmpty(uri.UserInfo))
            return "url must not carry credentials.";
        if (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal) && !policy.Allows(literal, uri.Port))
            return $"{uri.Host} is not a public address.";
        if (!allowLoopback && (uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.IdnHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)))
            return $"{uri.Host} is not a public address.";
        return null;
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    /// <summary>At registration: the name resolves, and only to addresses that may be reached (checked again at each connection).</summary>
    public static async Task<string?> CheckResolvedAsync(Uri uri, AddressPolicy policy, IHostResolver resolver, CancellationToken cancellationToken)
    {
        var host = uri.IdnHost.Trim('[', ']');
        if (IPAddress.TryParse(host, out _))
            return null;
        IPAddress[] addresses;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            addresses = await resolver.ResolveAsync(host, deadline.Token);
        }
        catch (Exception exception) when (exception is System.Net.Sockets.SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return $"{uri.Host} does not resolve.";
        }
        if (addresses.Length == 0)
            return $"{uri.Host} does not resolve.";
        if (addresses.Any(a => !policy.Allows(a, uri.Port)))
            return $"{uri.Host} resolves to an address that is not public.";
        return null;
    }
}
