using MassTransit;
using Platform.Contracts.Gateway;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;

namespace Platform.Gateway.Realtime;

/// <summary>Conversation events for this instance's connections; the endpoint handles one at a time, in queue order.</summary>
public sealed class ConversationEventConsumer(ConnectionRegistry registry) : IConsumer<ConversationEvent>
{
    public Task Consume(ConsumeContext<ConversationEvent> context)
    {
        registry.Deliver(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class TypingConsumer(ConnectionRegistry registry, TimeProvider time) : IConsumer<TypingChanged>
{
    public Task Consume(ConsumeContext<TypingChanged> context)
    {
        var typing = context.Message;
        if (typing.ExpiresAt > time.GetUtcNow())
            registry.Broadcast(typing.ConversationId, typing.UserId, ConnectionRegistry.TypingMethod, new Dictionary<string, object?>
            {
                ["conversationId"] = typing.ConversationId.ToString(),
                ["userId"] = typing.UserId.ToString(),
                ["expiresAt"] = typing.ExpiresAt.ToString("O"),
            });
        return Task.CompletedTask;
    }
}

/// <summary>Members' delivered/read cursors, for the conversation's connections (senders show "delivered" and "read").</summary>
public sealed class ReceiptConsumer(ConnectionRegistry registry) : IConsumer<ReceiptsChanged>
{
    public Task Consume(ConsumeContext<ReceiptsChanged> context)
    {
        var receipt = context.Message;
        registry.Broadcast(receipt.ConversationId, Guid.Empty, ConnectionRegistry.ReceiptMethod, new Dictionary<string, object?>
        {
            ["conversationId"] = receipt.ConversationId.ToString(),
            ["userId"] = receipt.UserId.ToString(),
            ["delivered"] = receipt.DeliveredSeq,
            ["read"] = receipt.ReadSeq,
        });
        return Task.CompletedTask;
    }
}

/// <summary>Presence changes, for the connections watching the user (<c>WatchPresence</c>).</summary>
public sealed class PresenceConsumer(ConnectionRegistry registry) : IConsumer<PresenceChanged>
{
    public Task Consume(ConsumeContext<PresenceChanged> context)
    {
        var change = context.Message;
        registry.DeliverPresence(change.UserId, change.Version, HubEnvelopes.From(change));
        return Task.CompletedTask;
    }
}

/// <summary>Call signals for this instance's connections of the recipient; expired ones are dropped.</summary>
public sealed class CallSignalConsumer(ConnectionRegistry registry, TimeProvider time) : IConsumer<CallSignal>
{
    public Task Consume(ConsumeContext<CallSignal> context)
    {
        var signal = context.Message;
        if (signal.ExpiresAt > time.GetUtcNow())
            registry.SendToUser(signal.ToUserId, ConnectionRegistry.SignalMethod, CallSignals.ToHub(signal));
        return Task.CompletedTask;
    }
}
