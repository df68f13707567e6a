using MassTransit;
using Platform.Contracts.Media;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Consumers;

/// <summary>
/// Attaches Media's link previews to their messages through the conversation log (<c>link-preview.attached</c>), so
/// clients update live. A preview already attached for that URL, a deleted message or a URL the message no longer
/// holds appends nothing: redelivery changes nothing.
/// </summary>
public sealed class LinkPreviewConsumer(ConversationWriter writer, TimeProvider time, ILogger<LinkPreviewConsumer> logger) : IConsumer<LinkPreviewReady>
{
    public const int MaxTitleLength = 300;
    public const int MaxDescriptionLength = 1000;
    public const int MaxUrlLength = 2048;

    public static Decision Decide(MessageView? message, LinkPreviewReady preview, DateTimeOffset now)
    {
        if (message is null || message.Deleted || !message.Urls.Contains(preview.Url) || message.LinkPreviews.Any(p => p.Url == preview.Url))
            return Decision.Nothing;
        return Decision.Of(new LinkPreviewAttached(message.Id, preview.Url, Clip(preview.Title, MaxTitleLength), Clip(preview.Description, MaxDescriptionLength),
            preview.ImageUrl is { Length: <= MaxUrlLength } image && Uri.TryCreate(image, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? image : null,
            Clip(preview.SiteName, MaxTitleLength), preview.FetchedAt, now));
    }

    public async Task Consume(ConsumeContext<LinkPreviewReady> context)
    {
        var preview = context.Message;
        var result = await writer.WriteAsync(preview.ConversationId,
            async write => Decide(await write.Message(preview.MessageId, context.CancellationToken), preview, time.GetUtcNow()),
            context.CancellationToken);
        if (result.Error is not null)
            logger.LogInformation("Link preview for message {MessageId} not attached: {Reason}", preview.MessageId, result.Error.Detail);
    }

    private static string? Clip(string? value, int length) => value is null || value.Length <= length ? value : value[..length];
}
