using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Platform.ServiceDefaults;

namespace Platform.Media.LinkPreviews;

public sealed record FetchedPage(Uri Url, string? ContentType, byte[] Body);

/// <summary>A URL that cannot be previewed (not fetched, or nothing usable came back); a 4xx for the caller.</summary>
public sealed class PreviewFailedException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    /// <summary>For a 429: when to ask again.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>
/// Fetches pages from the open internet without becoming a way into internal networks: names are resolved here and
/// every candidate address is checked, the address actually connected to is checked again (so a name that re-resolves
/// to an internal address between check and use gains nothing), each redirect is followed by hand and checked the same
/// way, no cookies or proxies are used, and size and time are capped.
/// </summary>
public sealed class SafeFetcher : IDisposable
{
    private readonly HttpClient _client;
    private readonly LinkPreviewOptions _options;
    private readonly AddressPolicy _policy;

    public SafeFetcher(IOptions<LinkPreviewOptions> options, IHostResolver resolver)
    {
        _options = options.Value;
        _policy = new AddressPolicy(_options.EffectivePorts.ToArray(), _options.AllowedEndpoints);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 64,
            ConnectCallback = (context, cancellationToken) => _policy.ConnectAsync(context.DnsEndPoint, resolver, cancellationToken),
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd(_options.UserAgent);
    }

    public async Task<FetchedPage> FetchAsync(Uri url, string accept, int maxBytes, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.Timeout);
        try
        {
            for (var hop = 0; hop <= _options.MaxRedirects; hop++)
            {
                Check(url);
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.Accept.ParseAdd(accept);
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                if ((int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
                {
                    url = new Uri(url, location);
                    continue;
                }
                if (!response.IsSuccessStatusCode)
                    throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", $"The page answered {(int)response.StatusCode}.");
                if (response.Content.Headers.ContentLength > maxBytes * 4L)
                    throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", "The page is too large.");
                var body = await ReadCappedAsync(response.Content, maxBytes, deadline.Token);
                return new FetchedPage(url, response.Content.Headers.ContentType?.MediaType, body);
            }
            throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", $"More than {_options.MaxRedirects} redirects.");
        }
        catch (HttpRequestException exception) when (AddressPolicy.Blocked(exception) is { } blocked)
        {
            throw new PreviewFailedException(StatusCodes.Status400BadRequest, "URL not allowed", blocked.Message);
        }
        catch (HttpRequestException exception)
        {
            throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", $"The page could not be fetched: {exception.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", $"The page did not answer within {_options.Timeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>What is refused before any connection: other schemes, credentials in the URL, ports outside the list.</summary>
    private void Check(Uri url)
    {
        if (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https"))
            throw new PreviewFailedException(StatusCodes.Status400BadRequest, "URL not allowed", "Only http and https URLs are previewed.");
        if (!string.IsNullOrEmpty(url.UserInfo))
            throw new PreviewFailedException(StatusCodes.Status400BadRequest, "URL not allowed", "URLs with credentials are not previewed.");
        if (IPAddress.TryParse(url.IdnHost.Trim('[', ']'), out var literal) && !_policy.Allows(literal, url.Port))
            throw new PreviewFailedException(StatusCodes.Status400BadRequest, "URL not allowed", $"{url.Host} is not a public address.");
    }

    private static async Task<byte[]> ReadCappedAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[maxBytes];
        var total = 0;
        int read;
        while (total < maxBytes && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
            total += read;
        return buffer[..total];
    }

    public void Dispose() => _client.Dispose();
}
