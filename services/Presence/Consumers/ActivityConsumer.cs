using MassTransit;
using Platform.Contracts.Gateway;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.Presence.Data;
using Platform.ServiceDefaults;

namespace Platform.Presence.Consumers;

/// <summary>
/// What Presence learns from the other services: activity (a message sent, typing) moves the last-active time, and
/// memberships, contacts, blocks and each user's <c>lastSeen</c> setting decide who may see whose presence. All idempotent (seq and time order each pair).
/// When fewer may see someone (a block, a contact removed), <see cref="PresenceVisibilityNarrowed"/> tells the Gateways
/// to check their live watches again.
/// </summary>
public sealed class ActivityConsumer(PresenceStore store, TimeProvider time)
    : IConsumer<Batch<ConversationEvent>>, IConsumer<UsersActive>, IConsumer<TypingChanged>, IConsumer<ContactsChanged>, IConsumer<BlocksChanged>, IConsumer<PrivacyChanged>
{
    /// <summary>Members of a conversation left by someone whose watches are checked again with the leaver's (larger ones: the leaver's only).</summary>
    public const int NarrowingMembersLimit = 50;

    /// <summary>
    /// Conversation events in batches (<see cref="ActivityConsumerDefinition"/>): memberships one by one in delivery order;
    /// posted messages (only while an upgraded broker still routes them here, until the endpoint removes that binding)
    /// touch their senders together in one statement. Everything here is idempotent, so a batch retried or redelivered as a whole changes nothing twice.
    /// </summary>
    public async Task Consume(ConsumeContext<Batch<ConversationEvent>> context)
    {
        var activity = new List<(Guid, DateTimeOffset)>();
        foreach (var item in context.Message)
        {
            var e = item.Message;
            if (e.Is<MessageDto>())
            {
                activity.Add((e.ActorId, e.OccurredAt));
                continue;
            }
            await ApplyMembershipAsync(e, context.CancellationToken);
            // Leaving may end all that the leaver shares with the other members: the live watches between them are checked
            // again (those of the leaver's watchers, and, in a conversation small enough, the leaver's of the members).
            if (e.TryRead<MemberLeftData>(out var left))
            {
                var leaver = left.UserId;
                var members = await store.ActiveMembersAsync(e.ConversationId, NarrowingMembersLimit + 1, context.CancellationToken);
                await context.Publish(new PresenceVisibilityNarrowed
                {
                    UserIds = members.Count <= NarrowingMembersLimit ? [leaver, .. members] : [leaver], ChangedAt = time.GetUtcNow(),
                });
            }
        }
        if (activity.Count > 0)
            await store.TouchAsync(activity, context.CancellationToken);
    }

    /// <summary>
    /// One conversation event's effect, live and when replayed from Messaging's log (<see cref="ConversationLogReplay"/>):
    /// memberships, and a sender's last-active time (which only moves forward, so an old message changes nothing newer).
    /// </summary>
    public async Task ApplyAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        // The message's data is not read: a posted message only touches its sender.
        if (e.Is<MessageDto>())
            await store.TouchAsync(e.ActorId, e.OccurredAt, cancellationToken);
        else
            await ApplyMembershipAsync(e, cancellationToken);
    }

    private async Task ApplyMembershipAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        switch (e.Read())
        {
            case ConversationCreatedData created:
                // A message request's recipient shares nothing with the sender until they accept (request.accepted).
                var members = created.Members.Where(m => !m.Requested).Select(m => m.UserId).ToList();
                await store.ApplyMembershipAsync(e.ConversationId, members, e.Seq, active: true, cancellationToken);
                break;
            case MemberJoinedData joined:
                await store.ApplyMembershipAsync(e.ConversationId, [joined.UserId], e.Seq, active: true, cancellationToken);
                break;
            case RequestAcceptedData accepted:
                await store.ApplyMembershipAsync(e.ConversationId, [accepted.UserId], e.Seq, active: true, cancellationToken);
                break;
            case MemberLeftData left:
                await store.ApplyMembershipAsync(e.ConversationId, [left.UserId], e.Seq, active: false, cancellationToken);
                break;
        }
    }

    /// <summary>The senders of messages, as a Gateway gathered them over its interval (<see cref="UsersActive"/>): one statement.</summary>
    public Task Consume(ConsumeContext<UsersActive> context) =>
        store.TouchAsync(context.Message.Items.Select(item => (item.UserId, item.At)), context.CancellationToken);

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

/// <summary>
/// Of the conversation events, Presence's queue gets only memberships; a sender's activity comes from the Gateways in
/// batches (<see cref="UsersActive"/>), not as every posted message. Contacts, blocks, privacy and typing come as before.
/// The binding for posted messages an earlier version made is removed when the endpoint starts (a broker keeps every
/// binding declared); until then, the posted messages it brings are still applied.
/// </summary>
public sealed class ActivityConsumerDefinition : ConversationEventSubscriber<ActivityConsumer>
{
    /// <summary>At most this many conversation events in one batch.</summary>
    public const int BatchLimit = 100;

    /// <summary>How long a batch waits for more events after its first: a member's presence follows a join this much later at most.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(100);

    protected override string[] RoutingKeys =>
    [
        ConversationEventTypes.ConversationCreated, ConversationEventTypes.MemberJoined, ConversationEventTypes.RequestAccepted,
        ConversationEventTypes.MemberLeft,
    ];

    protected override string[] RetiredRoutingKeys => [ConversationEventTypes.MessagePosted + ".#"];

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<ActivityConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        base.ConfigureConsumer(endpointConfigurator, consumerConfigurator, context);
        // One batch at a time: a conversation's memberships are applied in the broker's order (each also guarded by its seq).
        consumerConfigurator.Options<BatchOptions>(batch => batch.SetMessageLimit(BatchLimit).SetTimeLimit(BatchWindow).SetConcurrencyLimit(1));
    }
}
