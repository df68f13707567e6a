using Marten;
using MassTransit;
using Platform.Contracts.Media;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;

namespace Platform.Messaging.Consumers;

/// <summary>
/// Records what Media announced about a file, then fills the attachments of the messages already posted with it
/// (<c>message.attachments-ready</c>); messages posted later get the details at their send. Redelivery changes nothing:
/// a message gets each file's details once.
/// </summary>
public sealed class MediaReadyConsumer(IDocumentStore store, ConversationWriter writer, TimeProvider time) : IConsumer<MediaReady>
{
    public const int MaxContentTypeLength = 200;
    public const int MaxBlurHashLength = 100;
    public const int MaxUrlLength = 2048;

    public async Task Consume(ConsumeContext<MediaReady> context)
    {
        var ready = context.Message;
        var cancellationToken = context.CancellationToken;
        await using (var session = store.LightweightSession())
        {
            session.Store(new MediaDetails
            {
                Id = ready.MediaId,
                OwnerId = ready.OwnerId,
                ReadyAt = ready.ReadyAt,
                Details = new AttachmentDetails(ready.MediaId, Clip(ready.ContentType, MaxContentTypeLength) ?? "application/octet-stream", Math.Max(0, ready.Size),
                    ready.Width, ready.Height, ready.DurationMs,
                    ready.ThumbnailUrl is { Length: <= MaxUrlLength } thumbnail && thumbnail.StartsWith('/') ? thumbnail : null,
                    ready.BlurHash is { Length: <= MaxBlurHashLength } blurHash ? blurHash : null,
                    ready.Animated),
            });
            await session.SaveChangesAsync(cancellationToken);
        }

        List<AttachmentUse> uses;
        await using (var query = store.QuerySession())
            uses = (await query.Query<AttachmentUse>().Where(u => u.MediaId == ready.MediaId).ToListAsync(cancellationToken)).ToList();
        foreach (var use in uses)
            await Attachments.FillAsync(writer, use.ConversationId, use.MessageId, time, cancellationToken);
    }

    private static string? Clip(string? value, int length) => value is null || value.Length <= length ? value : value[..length];
}
