using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using Platform.Contracts.Messaging;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Webhooks;

/// <summary>
/// Queues each consumed conversation event for the webhooks that want it and whose owner may see it; takes a deleted
/// message's or an erased user's content out of what is still queued. Idempotent per (webhook, event id).
/// </summary>
public sealed class WebhookQueue(WebhookStore store, WebhookSignal signal, TimeProvider time)
{
    /// <summary>A batch's events in order; the webhooks covering their conversations are read once for all of them.</summary>
    public async Task EnqueueAsync(IQuerySession session, IReadOnlyList<ConversationEvent> events, CancellationToken cancellationToken)
    {
        var covering = await store.CoveringAsync(events.Select(e => e.ConversationId).Distinct().ToArray(), cancellationToken);
        foreach (var e in events)
            await EnqueueAsync(session, e, covering.Where(w => w.ConversationId is null || w.ConversationId == e.ConversationId).ToList(), cancellationToken);
    }

    private async Task EnqueueAsync(IQuerySession session, ConversationEvent e, List<Webhook> covering, CancellationToken cancellationToken)
    {
        if (e.TryRead<MessageDeletedData>(out var deleted))
            await store.RewritePendingBodiesAsync(deleted.MessageId, byActor: false, Redact, cancellationToken);

        if (covering.Count == 0)
            return;
        var webhooks = covering.Where(w => w.Events.Contains(e.Type)).ToList();
        if (webhooks.Count == 0)
        {
            // Not sent, but consumed: later events of the conversation need not wait for it.
            await store.RecordConsumedAsync(e.ConversationId, e.Seq, cancellationToken);
            return;
        }
        ConversationInfo? conversation = null;
        if (webhooks.Any(w => w.ConversationId is not null))
            conversation = await session.LoadAsync<ConversationInfo>(e.ConversationId, cancellationToken);

        string? body = null;
        Guid? messageId = null;
        foreach (var webhook in webhooks)
        {
            if (webhook.ConversationId is not null && !MaySee(conversation, webhook.OwnerId))
                continue;
            if (body is null)
                (body, messageId) = (Body(e), MessageIdOf(e));
            await store.EnqueueAsync(webhook.Id, e.ConversationId, e.Seq, e.EventId, e.Type, messageId, e.ActorId, body, time.GetUtcNow(), cancellationToken);
        }
        // After its deliveries are queued, so that no later event is sent before them.
        await store.RecordConsumedAsync(e.ConversationId, e.Seq, cancellationToken);
        if (body is not null)
            signal.Wake();
    }

    /// <summary>
    /// The owner of a conversation's webhook is still an admin or owner of it (a demoted or departed owner's webhook sends
    /// nothing more). A member known from before roles were kept (no role) counts while active: registration checked it.
    /// </summary>
    public static bool MaySee(ConversationInfo? conversation, Guid ownerId) =>
        conversation is not null && conversation.Members.TryGetValue(ownerId, out var member) && member.Active && member.Role is null or "admin" or "owner";

    /// <summary>The hub's envelope, as members see it: a report is only <c>{ reportId }</c>, without its reporter.</summary>
    public static string Body(ConversationEvent e)
    {
        var envelope = ConversationEventEnvelope.From(e);
        if (e.TryRead<MessageReportedData>(out var report))
        {
            envelope["actorId"] = Guid.Empty.ToString();
            envelope["data"] = ConversationEventEnvelope.ToPlain(ConversationEventData.Serialize(new MessageReportedData(report.ReportId)));
        }
        return JsonSerializer.Serialize(envelope);
    }

    // A report's delivery is only its id (see Body): nothing of the message to take out later.
    private static Guid? MessageIdOf(ConversationEvent e) => e.Read() switch
    {
        MessageDto posted => posted.Id,
        IMessageEventData about => about.MessageId,
        _ => null,
    };

    /// <summary>Words kept in a redacted body's <c>data</c>: ids and times, nothing anyone wrote.</summary>
    private static readonly HashSet<string> Kept = ["id", "messageId", "conversationId", "seq", "senderId", "userId", "replyTo", "createdAt", "editedAt", "reportId"];

    /// <summary>A queued body whose message was deleted (or whose author was erased): its data keeps only ids and times.</summary>
    public static string Redact(string body)
    {
        var envelope = JsonNode.Parse(body)!.AsObject();
        if (envelope["data"] is JsonObject data)
        {
            foreach (var name in data.Select(p => p.Key).Where(k => !Kept.Contains(k)).ToList())
                data.Remove(name);
            data["deleted"] = true;
        }
        return envelope.ToJsonString();
    }
}

/// <summary>Wakes the dispatcher when something was queued, so a delivery does not wait for the next sweep.</summary>
public sealed class WebhookSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
