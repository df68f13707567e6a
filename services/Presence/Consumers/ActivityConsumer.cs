using MassTransit;
using Platform.Contracts.Gateway;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.Presence.Data;

namespace Platform.Presence.Consumers;

/// <summary>
/// What Presence learns from the other services: activity (a message sent, typing) moves the last-active time, and
/// memberships, contacts, blocks and each user's <c>lastSeen</c> setting decide who may see whose presence. All idempotent (seq and time order each pair).
/// When fewer may see someone (a block, a contact removed), <see cref="PresenceVisibilityNarrowed"/> tells the Gateways
/// to check their live watches again.
/// </summary>
public sealed class ActivityConsumer(PresenceStore store, TimeProvider time)
    : IConsumer<ConversationEvent>, IConsumer<TypingChanged>, IConsumer<ContactsChanged>, IConsumer<BlocksChanged>, IConsumer<PrivacyChanged>
{
    /// <summary>Members of a conversation left by someone whose watches are checked again with the leaver's (larger ones: the leaver's only).</summary>
    public const int NarrowingMembersLimit = 50;

    public async Task Consume(ConsumeContext<ConversationEvent> context)
    {
        await ApplyAsync(context.Message, context.CancellationToken);
        // Leaving may end all that the leaver shares with the other members: the live watches between them are checked
        // again (those of the leaver's watchers, and, in a conversation small enough, the leaver's of the members).
        if (context.Message.Type == ConversationEventTypes.MemberLeft)
        {
            var leaver = context.Message.Data.GetProperty("userId").GetGuid();
            var members = await store.ActiveMembersAsync(context.Message.ConversationId, NarrowingMembersLimit + 1, context.CancellationToken);
            await context.Publish(new PresenceVisibilityNarrowed
            {
                UserIds = members.Count <= NarrowingMembersLimit ? [leaver, .. members] : [leaver], ChangedAt = time.GetUtcNow(),
            });
        }
    }

    /// <summary>
    /// One conversation event's effect, live and when replayed from Messaging's log (<see cref="ConversationLogReplay"/>):
    /// memberships, and a sender's last-active time (which only moves forward, so an old message changes nothing newer).
    /// </summary>
    public async Task ApplyAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        switch (e.Type)
        {
            case ConversationEventTypes.ConversationCreated:
                // A message request's recipient shares nothing with the sender until they accept (request.accepted).
                var members = e.Data.GetProperty("members").EnumerateArray()
                    .Where(m => !(m.TryGetProperty("requested", out var requested) && requested.ValueKind == System.Text.Json.JsonValueKind.True))
                    .Select(m => m.GetProperty("userId").GetGuid()).ToList();
                await store.ApplyMembershipAsync(e.ConversationId, members, e.Seq, active: true, cancellationToken);
                break;
            case ConversationEventTypes.MemberJoined:
            case ConversationEventTypes.RequestAccepted:
                await store.ApplyMembershipAsync(e.ConversationId, [e.Data.GetProperty("userId").GetGuid()], e.Seq, active: true, cancellationToken);
                break;
            case ConversationEventTypes.MemberLeft:
                await store.ApplyMembershipAsync(e.ConversationId, [e.Data.GetProperty("userId").GetGuid()], e.Seq, active: false, cancellationToken);
                break;
            case ConversationEventTypes.MessagePosted:
                await store.TouchAsync(e.ActorId, e.OccurredAt, cancellationToken);
                break;
        }
    }

    public Task Consume(ConsumeContext<TypingChanged> context) =>
        store.TouchAsync(context.Message.UserId, context.Message.StartedAt, context.CancellationToken);

    public async Task Consume(ConsumeContext<ContactsChanged> context)
    {
        await store.ApplyContactsAsync(context.Message, context.CancellationToken);
        if (context.Message.Removed.Count > 0)
            await context.Publish(new PresenceVisibilityNarrowed { UserIds = [context.Message.OwnerId, .. context.Message.Removed], ChangedAt = time.GetUtcNow() });
    }

    public async Task Consume(ConsumeContext<PrivacyChanged> context)
    {
        await store.ApplyPrivacyAsync(context.Message, context.CancellationToken);
        if (context.Message.LastSeen != "everyone")
            await context.Publish(new PresenceVisibilityNarrowed { UserIds = [context.Message.UserId], ChangedAt = time.GetUtcNow() });
    }

    public async Task Consume(ConsumeContext<BlocksChanged> context)
    {
        await store.ApplyBlocksAsync(context.Message, context.CancellationToken);
        if (context.Message.Added.Count > 0)
            await context.Publish(new PresenceVisibilityNarrowed { UserIds = [context.Message.OwnerId, .. context.Message.Added], ChangedAt = time.GetUtcNow() });
    }
}
