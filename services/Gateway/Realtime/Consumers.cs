using System.Diagnostics;
using MassTransit;
using Platform.Contracts.Gateway;
using Platform.Contracts.Messaging;
using Platform.Contracts.Notifications;
using Platform.Contracts.Presence;

namespace Platform.Gateway.Realtime;

/// <summary>Conversation events for this instance's connections; the endpoint handles one at a time, in queue order.</summary>
public sealed class ConversationEventConsumer(ConversationStreams streams) : IConsumer<ConversationEvent>
{
    private static readonly ActivitySource ActivitySource = new("Platform.Gateway");

    public Task Consume(ConsumeContext<ConversationEvent> context)
    {
        // A child of MassTransit's consume activity, so the push is in the trace of the request that sent the message.
        using var activity = ActivitySource.StartActivity("realtime push", ActivityKind.Internal);
        activity?.SetTag("platform.conversation_id", context.Message.ConversationId.ToString());
        activity?.SetTag("platform.seq", context.Message.Seq);
        activity?.SetTag("platform.event_type", context.Message.Type);
        streams.Deliver(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class TypingConsumer(ConnectionIndex connections, TimeProvider time) : IConsumer<TypingChanged>
{
    public Task Consume(ConsumeContext<TypingChanged> context)
    {
        var typing = context.Message;
        if (typing.ExpiresAt > time.GetUtcNow())
            connections.Broadcast(typing.ConversationId, typing.UserId, typing.HiddenFrom, HubMethods.Typing, new Dictionary<string, object?>
            {
                ["conversationId"] = typing.ConversationId.ToString(),
                ["userId"] = typing.UserId.ToString(),
                ["expiresAt"] = typing.ExpiresAt.ToString("O"),
            });
        return Task.CompletedTask;
    }
}

/// <summary>
/// Members' delivered/read cursors, for whom they concern (senders show "delivered" and "read"; a member's own devices
/// follow their read cursor): to the users Messaging names, or, from older Messaging instances that name none, to the
/// conversation's connections. A flush of them in one message, or one (as Messaging published them before
/// <see cref="ReceiptsChangedBatch"/>).
/// </summary>
public sealed class ReceiptConsumer(ConnectionIndex connections) : IConsumer<ReceiptsChangedBatch>, IConsumer<ReceiptsChanged>
{
    public Task Consume(ConsumeContext<ReceiptsChangedBatch> context)
    {
        foreach (var receipt in context.Message.Items)
            Push(receipt);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<ReceiptsChanged> context)
    {
        Push(context.Message);
        return Task.CompletedTask;
    }

    private void Push(ReceiptsChanged receipt)
    {
        var payload = new Dictionary<string, object?>
        {
            ["conversationId"] = receipt.ConversationId.ToString(),
            ["userId"] = receipt.UserId.ToString(),
            ["delivered"] = receipt.DeliveredSeq,
            ["read"] = receipt.ReadSeq,
        };
        if (receipt.ToUserIds is { } users)
            connections.SendToMembers(receipt.ConversationId, users, HubMethods.Receipt, payload);
        else if (receipt.OwnDevicesOnly)
            connections.SendToUser(receipt.UserId, HubMethods.Receipt, payload);
        else
            connections.Broadcast(receipt.ConversationId, Guid.Empty, HubMethods.Receipt, payload);
    }
}

/// <summary>A bot's answer for one member only: to that user's own connections on this instance, nobody else's.</summary>
public sealed class EphemeralMessageConsumer(ConnectionIndex connections) : IConsumer<EphemeralMessage>
{
    public Task Consume(ConsumeContext<EphemeralMessage> context)
    {
        connections.SendToUser(context.Message.UserId, HubMethods.Ephemeral, HubEnvelopes.ToPlain(context.Message.Message)!);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Presence changes, for the connections watching the user (<c>WatchPresence</c>). When fewer may see a user
/// (<see cref="PresenceVisibilityNarrowed"/>: a block, a contact removed, a privacy setting), each local watcher stops
/// receiving them at once, is asked about again with its own token, and gets back (with their presence now) only the
/// users Presence still shows it; for the others it gets <c>presence</c> <c>{ userId, status: "unknown" }</c> and nothing
/// more. If Presence cannot answer, the watches stay revoked: doubt hides presence.
/// </summary>
public sealed class PresenceConsumer(PresenceWatchers watchers, ConnectionIndex connections, PresenceClient presence, ILogger<PresenceConsumer> logger)
    : IConsumer<PresenceChanged>, IConsumer<PresenceVisibilityNarrowed>
{
    public async Task Consume(ConsumeContext<PresenceVisibilityNarrowed> context)
    {
        foreach (var (connection, watched) in watchers.WatchersOf(context.Message.UserIds))
        {
            watchers.StopWatching(connection, watched);
            IReadOnlyList<System.Text.Json.JsonElement> now;
            try
            {
                now = await presence.GetAsync(connection.AccessToken, watched, context.CancellationToken);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !context.CancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Presence did not answer for a watcher; its watches of {Count} users end", watched.Count);
                now = [];
            }
            var visible = now.Where(item => item.GetProperty("status").GetString() != "unknown").ToList();
            watchers.RestoreWatching(connection, visible.Select(item => item.GetProperty("userId").GetGuid()).ToList());
            foreach (var item in visible)
                connections.SendTo(connection, HubMethods.Presence, HubEnvelopes.ToPlain(item)!);
            foreach (var hidden in watched.Except(visible.Select(item => item.GetProperty("userId").GetGuid())))
                connections.SendTo(connection, HubMethods.Presence, new Dictionary<string, object?> { ["userId"] = hidden.ToString(), ["status"] = "unknown" });
        }
    }

    public Task Consume(ConsumeContext<PresenceChanged> context)
    {
        var change = context.Message;
        watchers.Deliver(change.UserId, change.Version, HubEnvelopes.From(change));
        return Task.CompletedTask;
    }
}

/// <summary>Call signals for this instance's connections of the recipient; expired ones are dropped.</summary>
public sealed class CallSignalConsumer(ConnectionIndex connections, TimeProvider time) : IConsumer<CallSignal>
{
    public Task Consume(ConsumeContext<CallSignal> context)
    {
        var signal = context.Message;
        if (signal.ExpiresAt > time.GetUtcNow())
            connections.SendToUser(signal.ToUserId, HubMethods.Signal, CallSignals.ToHub(signal));
        return Task.CompletedTask;
    }
}

/// <summary>
/// New in-app notifications, each for its user's connections on this instance (the hub's <c>notification</c>): one
/// message for all the notifications of one event (<see cref="NotificationsCreated"/>), or one each as older
/// Notifications replicas publish them.
/// </summary>
public sealed class NotificationConsumer(ConnectionIndex connections) : IConsumer<NotificationsCreated>, IConsumer<NotificationCreated>
{
    public Task Consume(ConsumeContext<NotificationsCreated> context)
    {
        foreach (var notification in context.Message.Notifications)
            Send(notification);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<NotificationCreated> context)
    {
        Send(context.Message);
        return Task.CompletedTask;
    }

    private void Send(NotificationCreated notification) =>
        connections.SendToUser(notification.UserId, HubMethods.Notification, new Dictionary<string, object?>
        {
            ["id"] = notification.NotificationId.ToString(),
            ["kind"] = notification.Kind,
            ["conversationId"] = notification.ConversationId?.ToString(),
            ["seq"] = notification.Seq,
            ["title"] = notification.Title,
            ["body"] = notification.Body,
            ["createdAt"] = notification.CreatedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        });
}
