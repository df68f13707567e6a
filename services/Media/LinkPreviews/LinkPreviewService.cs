using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AngleSharp.Html.Parser;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Media;

namespace Platform.Media.LinkPreviews;

public sealed record LinkPreview
{
    /// <summary>SHA-256 of the URL as asked for.</summary>
    public string Id { get; init; } = "";
    public string Url { get; init; } = "";
    /// <summary>Where the page was found after redirects.</summary>
    public string? FinalUrl { get; init; }
    public string? Title { get; init; }
    public string? Description { get; init; }
    public string? ImageUrl { get; init; }
    public string? SiteName { get; init; }
    public string? Type { get; init; }
    public DateTimeOffset FetchedAt { get; init; }
}

/// <summary>OpenGraph, Twitter card and oEmbed metadata of a page, fetched safely and cached.</summary>
public sealed class LinkPreviewService(SafeFetcher fetcher, FetchBudget budget, IDocumentStore store, IOptions<LinkPreviewOptions> options, TimeProvider time)
{
    public const int MaxUrlLength = 2048;

    /// <summary>The page's preview, from the cache or fetched for <paramref name="userId"/> (within their <see cref="FetchBudget"/>).</summary>
    public async Task<LinkPreview> GetAsync(string url, Guid userId, CancellationToken cancellationToken)
    {
        if (url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new PreviewFailedException(StatusCodes.Status400BadRequest, "Invalid URL", $"url must be an absolute http or https URL of at most {MaxUrlLength} characters.");
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(uri.AbsoluteUri)));
        await using var session = store.LightweightSession();
        if (await session.LoadAsync<LinkPreview>(id, cancellationToken) is { } cached && cached.FetchedAt + options.Value.CacheLifetime > time.GetUtcNow())
            return cached;

        budget.Take(userId, uri);
        var page = await fetcher.FetchAsync(uri, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1", options.Value.MaxBytes, cancellationToken);
        if (page.ContentType is not ("text/html" or "application/xhtml+xml"))
            throw new PreviewFailedException(StatusCodes.Status422UnprocessableEntity, "No preview", $"The URL is {page.ContentType ?? "of no declared type"}, not a web page.");
        var preview = await ParseAsync(page, cancellationToken) with { Id = id, Url = uri.AbsoluteUri, FetchedAt = time.GetUtcNow() };
        session.Store(preview);
        await session.SaveChangesAsync(cancellationToken);
        return preview;
    }

    private async Task<LinkPreview> ParseAsync(FetchedPage page, CancellationToken cancellationToken)
    {
        using var document = await new HtmlParser().ParseDocumentAsync(new MemoryStream(page.Body), cancellationToken);
        var meta = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var element in document.QuerySelectorAll("meta"))
        {
            var key = element.GetAttribute("property") ?? element.GetAttribute("name");
            var content = element.GetAttribute("content");
            if (key is not null && !string.IsNullOrWhiteSpace(content))
                meta.TryAdd(key.Trim(), content.Trim());
        }
        string? First(params string[] keys) => keys.Select(k => meta.GetValueOrDefault(k)).FirstOrDefault(v => v is not null);

        var preview = new LinkPreview
        {
            FinalUrl = page.Url.AbsoluteUri,
            Title = Clip(First("og:title", "twitter:title") ?? document.Title, 300),
            Description = Clip(First("og:description", "twitter:description", "description"), 1000),
            ImageUrl = Absolute(page.Url, First("og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src")),
            SiteName = Clip(First("og:site_name", "application-name"), 200),
            Type = Clip(First("og:type", "twitter:card"), 50),
        };

        var oembed = document.QuerySelector("link[type='application/json+oembed']")?.GetAttribute("href");
        if ((preview.Title is null || preview.ImageUrl is null) && Absolute(page.Url, oembed) is { } oembedUrl)
            preview = await WithOEmbedAsync(preview, new Uri(oembedUrl), cancellationToken);
        return preview;
    }

    private async Task<LinkPreview> WithOEmbedAsync(LinkPreview preview, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            var response = await fetcher.FetchAsync(url, "application/json", 64 * 1024, cancellationToken);
            using var json = JsonDocument.Parse(response.Body);
            string? Get(string name) => json.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return preview with
            {
                Title = preview.Title ?? Clip(Get("title"), 300),
                SiteName = preview.SiteName ?? Clip(Get("provider_name"), 200),
                ImageUrl = preview.ImageUrl ?? Absolute(url, Get("thumbnail_url")),
                Type = preview.Type ?? Clip(Get("type"), 50),
            };
        }
        catch (Exception exception) when (exception is PreviewFailedException or JsonException)
        {
            // The page's own metadata stands; oEmbed only fills gaps.
            return preview;
        }
    }

    private static string? Absolute(Uri page, string? value) =>
        !string.IsNullOrWhiteSpace(value) && Uri.TryCreate(page, value.Trim(), out var url) && url.Scheme is "http" or "https" && url.AbsoluteUri.Length <= MaxUrlLength
            ? url.AbsoluteUri
            : null;

    private static string? Clip(string? value, int length)
    {
        if (string.IsNullOrWhiteSpace(value))
            return null;
        value = value.Trim();
        return value.Length <= length ? value : value[..length];
    }
}

/// <summary>Previews the URLs of a posted message and announces each as <see cref="LinkPreviewReady"/>, which Messaging attaches to the message.</summary>
public sealed class LinkPreviewPublisher(LinkPreviewService previews, IPublishEndpoint publisher, IOptions<LinkPreviewOptions> options, ILogger<LinkPreviewPublisher> logger)
{
    /// <summary>Previews fetched for a message count against its author's budget (<paramref name="authorId"/>).</summary>
    public async Task PreviewMessageAsync(Guid conversationId, Guid messageId, Guid authorId, IReadOnlyList<string> urls, CancellationToken cancellationToken)
    {
        foreach (var url in urls.Distinct().Take(options.Value.MaxUrlsPerMessage))
        {
            LinkPreview preview;
            try
            {
                preview = await previews.GetAsync(url, authorId, cancellationToken);
            }
            catch (PreviewFailedException failed)
            {
                logger.LogInformation("No preview for {Url} in message {MessageId}: {Reason}", url, messageId, failed.Message);
                continue;
            }
            if (preview.Title is null && preview.Description is null && preview.ImageUrl is null)
                continue;
            await publisher.Publish(new LinkPreviewReady
            {
                ConversationId = conversationId,
                MessageId = messageId,
                Url = url,
                Title = preview.Title,
                Description = preview.Description,
                ImageUrl = preview.ImageUrl,
                SiteName = preview.SiteName,
                FetchedAt = preview.FetchedAt,
            }, cancellationToken);
        }
    }
}
