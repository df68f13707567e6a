using System.ComponentModel.DataAnnotations;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

public sealed class CallsOptions
{
    public const string Section = "Calls";

    /// <summary>How long a call rings before, unanswered, it ends as missed.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "00:10:00")]
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>People in one call at once. Calls are a mesh (every pair connects directly), which does not scale past a handful.</summary>
    [Range(2, 50)]
    public int MaxParticipants { get; set; } = 8;

    /// <summary>How often unanswered and overlong calls are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A call still going after this long is ended as failed (its participants' clients most likely vanished).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromHours(12);
}

/// <summary>A call as members see it.</summary>
public sealed record CallDto(
    Guid Id,
    Guid ConversationId,
    CallKind Kind,
    CallState State,
    Guid StartedBy,
    DateTimeOffset StartedAt,
    DateTimeOffset RingsUntil,
    DateTimeOffset? AnsweredAt,
    DateTimeOffset? EndedAt,
    CallEndReason? EndReason,
    long DurationSeconds,
    IReadOnlyList<Guid> Invited,
    IReadOnlyList<Guid> Joined,
    IReadOnlyList<Guid> Ringing,
    IReadOnlyList<Guid> Declined,
    IReadOnlyList<Guid> Participants,
    long StartedSeq,
    long? EndedSeq)
{
    public static CallDto From(CallView c) => new(
        c.Id, c.ConversationId, c.Kind, c.State, c.StartedBy, c.StartedAt, c.RingsUntil, c.AnsweredAt, c.EndedAt, c.EndReason,
        c.DurationSeconds, c.Invited, c.Joined, c.Invited.Where(c.IsRinging).ToList(), c.Declined, c.Participants, c.StartedSeq, c.EndedSeq);
}

/// <summary>A call decision: the events to append and the call's new state, or why nothing happens.</summary>
public sealed record CallOutcome(DomainError? Error, CallView? Call, IReadOnlyList<object> Events)
{
    public static implicit operator CallOutcome(DomainError error) => new(error, null, []);

    public static CallOutcome Unchanged(CallView call) => new(null, call, []);

    public static CallOutcome Changed(CallView call, params object[] events) => new(null, call, events);
}

/// <summary>
/// The call state machine, as pure functions: ringing (the caller is in, the others are invited) -> active (the first
/// callee joined) -> ended. Only the start and the end go into the conversation's log.
/// </summary>
public static class CallRules
{
    public static DomainError CallNotFound { get; } = new(StatusCodes.Status404NotFound, "Call not found", "There is no such call, or you are not a member of its conversation.");

    public static DomainError CallEnded { get; } = DomainError.Conflict("The call has ended.");

    public static DomainError CallFull(int max) => new(StatusCodes.Status409Conflict, "Call is full",
        $"A call has at most {max} participants: calls are a mesh, where every participant connects to every other. " +
        "Larger calls need an SFU (a media server), which this platform does not provide yet.");

    public static bool TryParseKind(string? value, out CallKind kind)
    {
        kind = default;
        return value is not null && Enum.TryParse(value, ignoreCase: true, out kind) && Enum.IsDefined(kind) && !int.TryParse(value, out _);
    }

    /// <summary>
    /// A member starts a call in a direct or group conversation; the other active members are invited. While a call
    /// rings or goes on, starting another answers that one (<paramref name="active"/>), so two members calling each
    /// other at once end up in the same call.
    /// </summary>
    public static CallOutcome Start(
        ConversationView conversation, Membership? caller, CallView? active, IReadOnlyList<Guid> members, CallKind kind, Guid callId,
        CallsOptions options, DateTimeOffset now)
    {
        if (caller is not { Active: true })
            return DomainError.ConversationNotFound;
        if (conversation.Kind == ConversationKind.Channel)
            return DomainError.Invalid("Calls are for direct and group conversations, not channels.");
        if (active is { Ended: false })
            return CallOutcome.Unchanged(active);
        var invited = members.Where(m => m != caller.UserId).Distinct().ToList();
        if (invited.Count == 0)
            return DomainError.Conflict("There is nobody else in this conversation to call.");
        var started = new CallStarted(callId, kind, caller.UserId, now, now + options.RingTimeout);
        return CallOutcome.Changed(CallView.Create(conversation.Id, 0, started, invited), started);
    }

    /// <summary>An active member joins (or answers); the first callee to join makes the call active.</summary>
    public static CallOutcome Join(CallView? call, Membership? member, int maxParticipants, DateTimeOffset now)
    {
        if (call is null || member is not { Active: true })
            return CallNotFound;
        if (call.Ended)
            return CallEnded;
        if (call.Joined.Contains(member.UserId))
            return CallOutcome.Unchanged(call);
        if (call.Joined.Count >= maxParticipants)
            return CallFull(maxParticipants);
        var answered = call.State == CallState.Ringing;
        return CallOutcome.Changed(call with
        {
            State = CallState.Active,
            AnsweredAt = answered ? now : call.AnsweredAt,
            Joined = [.. call.Joined, member.UserId],
            Participants = call.Participants.Contains(member.UserId) ? call.Participants : [.. call.Participants, member.UserId],
            Declined = call.Declined.Where(d => d != member.UserId).ToList(),
        });
    }

    /// <summary>
    /// A participant hangs up. The call ends when fewer than two people would be left in it: completed once answered,
    /// missed when the caller gives up while it still rings.
    /// </summary>
    public static CallOutcome Leave(CallView? call, Membership? member, DateTimeOffset now)
    {
        if (call is null || member is null)
            return CallNotFound;
        if (call.Ended)
            return CallOutcome.Unchanged(call);
        if (!call.Joined.Contains(member.UserId))
            return DomainError.Conflict("You are not in this call.");
        var left = call with { Joined = call.Joined.Where(j => j != member.UserId).ToList() };
        if (call.State == CallState.Ringing)
            return left.Joined.Count == 0 ? End(left, member.UserId, CallEndReason.Missed, now) : CallOutcome.Unchanged(left);
        return left.Joined.Count < 2 ? End(left, member.UserId, CallEndReason.Completed, now) : CallOutcome.Unchanged(left);
    }

    /// <summary>An invited member declines; a ringing call that every invitee declined ends as declined.</summary>
    public static CallOutcome Decline(CallView? call, Membership? member, DateTimeOffset now)
    {
        if (call is null || member is not { Active: true })
            return CallNotFound;
        if (call.Ended || call.Declined.Contains(member.UserId))
            return CallOutcome.Unchanged(call);
        if (call.Joined.Contains(member.UserId))
            return DomainError.Conflict("You are in this call: leave it instead.");
        if (!call.Invited.Contains(member.UserId))
            return DomainError.Conflict("You were not invited to this call.");
        var declined = call with { Declined = [.. call.Declined, member.UserId] };
        if (call.State == CallState.Ringing && call.Invited.All(declined.Declined.Contains))
            return End(declined, member.UserId, CallEndReason.Declined, now);
        return CallOutcome.Unchanged(declined);
    }

    /// <summary>
    /// Ends the call for everyone: its participants and the caller may. Reason <c>failed</c> is the client's to give
    /// (the connection could not be set up); otherwise completed once answered, missed if it was still ringing.
    /// </summary>
    public static CallOutcome EndByRequest(CallView? call, Membership? member, bool failed, DateTimeOffset now)
    {
        if (call is null || member is not { Active: true })
            return CallNotFound;
        if (call.Ended)
            return CallOutcome.Unchanged(call);
        if (!call.Joined.Contains(member.UserId) && call.StartedBy != member.UserId)
            return DomainError.Forbidden("Only the call's participants end it; decline it instead.");
        var reason = failed ? CallEndReason.Failed : call.State == CallState.Ringing ? CallEndReason.Missed : CallEndReason.Completed;
        return End(call, member.UserId, reason, now);
    }

    /// <summary>What the background sweep ends: calls unanswered past their ring timeout (missed) and overlong calls (failed).</summary>
    public static CallOutcome Expire(CallView? call, CallsOptions options, DateTimeOffset now)
    {
        if (call is null || call.Ended)
            return new CallOutcome(null, call, []);
        if (call.State == CallState.Ringing && now >= call.RingsUntil)
            return End(call, SystemActor, CallEndReason.Missed, now);
        if (now - call.StartedAt >= options.MaxDuration)
            return End(call, SystemActor, CallEndReason.Failed, now);
        return CallOutcome.Unchanged(call);
    }

    /// <summary>The actor of endings nobody asked for (ring timeout, maximum duration).</summary>
    public static readonly Guid SystemActor = Guid.Empty;

    private static CallOutcome End(CallView call, Guid by, CallEndReason reason, DateTimeOffset now)
    {
        var duration = call.AnsweredAt is { } answered ? (long)Math.Max(0, (now - answered).TotalSeconds) : 0;
        var ended = new CallEnded(call.Id, call.Kind, reason, by, call.Participants, call.StartedAt, call.AnsweredAt, now, duration);
        return CallOutcome.Changed(call.Apply(call.EndedSeq ?? 0, ended), ended);
    }
}
