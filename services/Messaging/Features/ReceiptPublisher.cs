using System.Threading.Channels;
using MassTransit;
using Platform.Contracts.Messaging;

namespace Platform.Messaging.Features;

/// <summary>
/// Publishes receipt changes for senders, coalesced: within one flush interval only the newest cursors of each
/// (conversation, user) go out. Receipts are not part of the log; a change lost in a crash is superseded by the member's next one that concerns the
/// same users (a sender's marks by the next receipt covering one of their messages; clients load a message's receipts
/// again with <c>GET .../messages/{id}/receipts</c> when they reconnect).
/// </summary>
public sealed class ReceiptPublisher(IServiceScopeFactory scopes, TimeProvider time, ILogger<ReceiptPublisher> logger) : BackgroundService
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>A flush's changes go out in messages of at most this many (<see cref="ReceiptsChangedBatch"/>).</summary>
    public const int MaxItemsPerMessage = 500;

    private readonly Channel<ReceiptsChanged> _changes = Channel.CreateBounded<ReceiptsChanged>(
        new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <param name="read">Null when the read cursor is not for others to see (the reader's read receipts are off).</param>
    /// <param name="to">The users whose connections learn of it (<see cref="ReceiptsChanged.ToUserIds"/>); null: every member's.</param>
    public void Changed(Guid conversationId, Guid userId, long delivered, long? read, bool ownDevicesOnly, IReadOnlyList<Guid>? to = null) =>
        _changes.Writer.TryWrite(new ReceiptsChanged
        {
            ConversationId = conversationId, UserId = userId, DeliveredSeq = delivered, ReadSeq = read, ChangedAt = time.GetUtcNow(),
            OwnDevicesOnly = ownDevicesOnly, ToUserIds = to,
        });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<(Guid, Guid, bool), ReceiptsChanged>();
        while (await _changes.Reader.WaitToReadAsync(stoppingToken))
        {
            await Task.Delay(FlushInterval, stoppingToken);
            while (_changes.Reader.TryRead(out var change))
            {
                // Receipts for everyone and for the reader's own devices are kept apart. Cursors coalesce to the highest,
                // except a read cursor the reader moved back (mark unread), told to their own devices only, which stands.
                var key = (change.ConversationId, change.UserId, change.OwnDevicesOnly);
                pending[key] = !pending.TryGetValue(key, out var earlier) || change.OwnDevicesOnly && change.ReadSeq < earlier.ReadSeq
                    ? change
                    : change with
                    {
                        DeliveredSeq = Math.Max(earlier.DeliveredSeq ?? 0, change.DeliveredSeq ?? 0),
                        ReadSeq = earlier.ReadSeq is null && change.ReadSeq is null ? null : Math.Max(earlier.ReadSeq ?? 0, change.ReadSeq ?? 0),
                        // Whom either concerned: each was told to its own (null: everyone).
                        ToUserIds = earlier.ToUserIds is null || change.ToUserIds is null ? null : earlier.ToUserIds.Union(change.ToUserIds).ToList(),
                    };
            }
            try
            {
                using var scope = scopes.CreateScope();
                var bus = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
                foreach (var items in pending.Values.Chunk(MaxItemsPerMessage))
                    await bus.Publish(new ReceiptsChangedBatch { Items = items }, stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Publishing {Count} receipt changes failed; later changes supersede them", pending.Count);
            }
            pending.Clear();
        }
    }
}
