using Microsoft.AspNetCore.SignalR;

namespace Platform.Gateway.Realtime;

/// <summary>Where a <see cref="ConversationSequencer"/> sends the events it lets through, in order.</summary>
public interface ISequencedSink
{
    /// <summary>Queues the event for the connection; false when the connection is gone (nothing more goes to it).</summary>
    bool Send(long seq, SerializedHubMessage message, DateTimeOffset? committedAt);
}

/// <summary>What became of one event offered to a <see cref="ConversationSequencer"/>.</summary>
public enum SequencedStep
{
    /// <summary>A duplicate, or after the member's leaving: not sent.</summary>
    Dropped,

    /// <summary>Sent; the conversation goes on.</summary>
    Sent,

    /// <summary>Sent, and it was the member's leaving: the caller ends the subscription.</summary>
    Ended,

    /// <summary>Held until a replay under way (or the client's resume) has caught up.</summary>
    Held,

    /// <summary>Held after a gap: the caller reads the log after <see cref="ConversationSequencer.LastSentSeq"/> to fill it.</summary>
    FillGap,

    /// <summary>Not held: as many are held as may be; the caller closes the connection, whose client resumes.</summary>
    Overflowed,

    /// <summary>The sink refused it: the connection is gone.</summary>
    Closed,
}

/// <summary>What a <see cref="ConversationSequencer"/> needs after it caught up with what it holds.</summary>
public enum SequencerNext
{
    /// <summary>Nothing: it is live again (or still waits for the client's resume, or for a replay under way).</summary>
    Done,

    /// <summary>Read the log after <see cref="ConversationSequencer.LastSentSeq"/> and hand it to <see cref="ConversationSequencer.Replayed"/>.</summary>
    ReadLog,

    /// <summary>The member's leaving was sent: the caller ends the subscription.</summary>
    Ended,

    /// <summary>The sink refused an event: the connection is gone.</summary>
    Closed,
}

/// <summary>
/// One connection's stream of one conversation: every event exactly once, in seq order. Live events that arrive with
/// a gap, or while the log is being replayed, are held; the caller reads the log when told to and hands the events
/// back. An event may also come ahead of the bus (from the answer to a send): sent if it is the next one, else held
/// until the bus brings what comes before it; the bus's copy is then a duplicate. Pure bookkeeping: no I/O, no timers, no locks (the caller holds the connection's lock), so it is tested
/// without a server by offering events and checking what reached the sink.
/// </summary>
public sealed class ConversationSequencer(long lastSentSeq)
{
    // Allocated on the first hold: most streams never hold anything.
    private List<(long Seq, SerializedHubMessage Message, DateTimeOffset? CommittedAt)>? _held;

    /// <summary>A stream a connection starts with: live events wait for the client's resume (or its grace) before they flow.</summary>
    public static ConversationSequencer AwaitingResumeAfter(long lastSeq) => new(lastSeq) { Replaying = true, AwaitingResume = true };

    /// <summary>The last seq sent: any event at or below it is a duplicate.</summary>
    public long LastSentSeq { get; private set; } = lastSentSeq;

    /// <summary>
    /// The position the hub reports for this conversation (<c>Positions</c>): every event after it reaches the
    /// connection, once and in order, whether or not the client resumes. Moved by <see cref="Resume"/> to its <c>afterSeq</c>.
    /// </summary>
    public long StartSeq { get; private set; } = lastSentSeq;

    /// <summary>While set, live events are held until the replay from the log has caught up.</summary>
    public bool Replaying { get; private set; }

    /// <summary>
    /// Set for the streams a connection starts with: live events are held for a moment, so a client that resumes right
    /// after connecting gets the replay first and the live events after it, in order.
    /// </summary>
    public bool AwaitingResume { get; private set; }

    /// <summary>
    /// Something may have been lost on the way since the last read of the log (the setup kept too much to keep it all,
    /// or the broker was away): read the log again before going live (at the end of the resume grace, or of the replay
    /// under way).
    /// </summary>
    public bool ReadLogOnRelease { get; private set; }

    /// <summary>The seq of the member's leaving, while it is still to be sent: nothing after it is.</summary>
    public long? EndSeq { get; private set; }

    /// <summary>Whether the member has not left (their leaving is not waiting to be sent).</summary>
    public bool IsLive => EndSeq is null;

    /// <summary>How many live events are held.</summary>
    public int HeldCount => _held?.Count ?? 0;

    /// <summary>A live event from the bus: sent if it is the next one, held if it is early or a replay runs, dropped if seen.</summary>
    public SequencedStep Offer<TSink>(long seq, SerializedHubMessage message, DateTimeOffset? committedAt, int holdLimit, TSink sink)
        where TSink : ISequencedSink
    {
        if (seq <= LastSentSeq || seq > EndSeq)
            return SequencedStep.Dropped;
        if (!Replaying && seq == LastSentSeq + 1)
            return SendNextAndFollowing(seq, message, committedAt, sink);
        // A replay that cannot catch up (Messaging down for long) must not hold events without bound.
        if (HeldCount >= holdLimit)
            return SequencedStep.Overflowed;
        (_held ??= []).Add((seq, message, committedAt));
        if (Replaying)
            return SequencedStep.Held;
        // An event went missing on the way here: it is to be read from the log before going on.
        Replaying = true;
        return SequencedStep.FillGap;
    }

    /// <summary>
    /// A live event ahead of the bus (from the answer to a send this instance forwarded; the bus brings it too): sent if
    /// it is the next one; held if it is early, until the bus brings the events before it (an event ahead never starts
    /// a read of the log: its gap is usually on the bus already); dropped while a replay runs (the bus's copy takes
    /// the usual way) or when half as many are held as may be (the other half stays for the bus's own holds, so events
    /// ahead never make a connection overflow).
    /// </summary>
    public SequencedStep OfferAhead<TSink>(long seq, SerializedHubMessage message, DateTimeOffset? committedAt, int holdLimit, TSink sink)
        where TSink : ISequencedSink
    {
        if (Replaying || seq <= LastSentSeq || seq > EndSeq)
            return SequencedStep.Dropped;
        if (seq == LastSentSeq + 1)
            return SendNextAndFollowing(seq, message, committedAt, sink);
        if (HeldCount >= holdLimit / 2)
            return SequencedStep.Dropped;
        (_held ??= []).Add((seq, message, committedAt));
        return SequencedStep.Held;
    }

    /// <summary>An event read from the log, in seq order: sent unless already sent or after the member's leaving.</summary>
    public SequencedStep Replayed<TSink>(long seq, SerializedHubMessage message, TSink sink) where TSink : ISequencedSink =>
        seq <= LastSentSeq || seq > EndSeq ? SequencedStep.Dropped : SendNext(seq, message, null, sink);

    /// <summary>
    /// The replay has read the log to its end: sends what was held meanwhile as far as it follows on. Asks for another
    /// read if something may have been lost since the replay read the log, or a hole is left before what is held.
    /// </summary>
    public SequencerNext ReplayCaughtUp<TSink>(TSink sink) where TSink : ISequencedSink
    {
        if (ReadLogOnRelease)
        {
            ReadLogOnRelease = false;
            return SequencerNext.ReadLog;
        }
        return DrainHeld(sink);
    }

    /// <summary>
    /// The client resumes after <paramref name="afterSeq"/>. If the stream still waits for that resume and holds
    /// everything since, what it holds follows at once and no read of the log is needed; otherwise the log is read
    /// from there (live events are held meanwhile).
    /// </summary>
    public SequencerNext Resume<TSink>(long afterSeq, TSink sink) where TSink : ISequencedSink
    {
        if (AwaitingResume && !ReadLogOnRelease && afterSeq >= StartSeq)
        {
            // The client is at or past where this stream started, and everything since is held here: what a
            // reconnecting client without news costs is no request.
            AwaitingResume = false;
            LastSentSeq = StartSeq = afterSeq;
            var drained = DrainHeld(sink);
            if (drained != SequencerNext.ReadLog)
                return drained;
            afterSeq = LastSentSeq;
        }
        LastSentSeq = StartSeq = afterSeq;
        // The replay about to start reads the log after anything that was lost before now.
        ReadLogOnRelease = false;
        Replaying = true;
        AwaitingResume = false;
        return SequencerNext.ReadLog;
    }

    /// <summary>The client did not resume in time: live events flow from where the stream started (reading the log first if needed).</summary>
    public SequencerNext ResumeGraceEnded<TSink>(TSink sink) where TSink : ISequencedSink
    {
        if (!AwaitingResume)
            return SequencerNext.Done;
        AwaitingResume = false;
        // What happened since the stream's position was delivered live or kept during the setup: it is all held, so
        // no read of the log, unless something is missing in between.
        if (!ReadLogOnRelease)
        {
            var drained = DrainHeld(sink);
            if (drained != SequencerNext.ReadLog)
                return drained;
        }
        ReadLogOnRelease = false;
        return SequencerNext.ReadLog;
    }

    /// <summary>
    /// Messaging's answer of the connection's conversations names this one at <paramref name="lastSeq"/>, after the stream
    /// was started by a late <c>conversation.created</c> or <c>member.joined</c> (at its seq - 1). Nothing was sent yet, and
    /// everything after the answer is held or live: starting there gives the client the conversation as it was when it
    /// connected, not events from before then.
    /// </summary>
    public void SetupAnswered(long lastSeq)
    {
        if (AwaitingResume && !ReadLogOnRelease && lastSeq > StartSeq && LastSentSeq == StartSeq)
            StartSeq = LastSentSeq = lastSeq;
    }

    /// <summary>The setup kept too much to keep it all: a stream waiting for its resume reads the log when released.</summary>
    public void SetupOverflowed() => ReadLogOnRelease |= AwaitingResume;

    /// <summary>
    /// Events may have been lost on the way (the broker was away). True when the caller is to read the log after
    /// <see cref="LastSentSeq"/> now; otherwise the resume awaited, or the replay under way, reads it again.
    /// </summary>
    public bool MayHaveLostEvents()
    {
        if (!Replaying)
        {
            Replaying = true;
            return true;
        }
        ReadLogOnRelease = true;
        return false;
    }

    /// <summary>
    /// The member left at <paramref name="seq"/>: they still get that event (and what came before it, if a replay is
    /// catching up), then nothing more. True when it was sent already: the caller ends the subscription now.
    /// </summary>
    public bool EndAt(long seq)
    {
        if (LastSentSeq >= seq)
            return true;
        EndSeq = seq;
        return false;
    }

    /// <summary>Back before their leaving was even sent: the stream goes on.</summary>
    public void Rejoined() => EndSeq = null;

    private SequencedStep SendNext<TSink>(long seq, SerializedHubMessage message, DateTimeOffset? committedAt, TSink sink) where TSink : ISequencedSink
    {
        if (!sink.Send(seq, message, committedAt))
            return SequencedStep.Closed;
        LastSentSeq = seq;
        return seq == EndSeq ? SequencedStep.Ended : SequencedStep.Sent;
    }

    // The next event while live, then those held ahead of the bus that now follow on; the others stay held.
    private SequencedStep SendNextAndFollowing<TSink>(long seq, SerializedHubMessage message, DateTimeOffset? committedAt, TSink sink)
        where TSink : ISequencedSink
    {
        var step = SendNext(seq, message, committedAt, sink);
        if (step != SequencedStep.Sent)
            return step;
        if (!SendHeldThatFollow(sink))
            return SequencedStep.Closed;
        return EndSeq is { } end && LastSentSeq >= end ? SequencedStep.Ended : SequencedStep.Sent;
    }

    // Sends the held events that follow on from what was sent. Done: nothing is held any more and live events flow
    // again; ReadLog: something before the rest of what is held is missing (the stream stays replaying).
    private SequencerNext DrainHeld<TSink>(TSink sink) where TSink : ISequencedSink
    {
        if (!SendHeldThatFollow(sink))
            return SequencerNext.Closed;
        if (EndSeq is { } end && LastSentSeq >= end)
            return SequencerNext.Ended;
        if (HeldCount > 0)
            return SequencerNext.ReadLog;
        Replaying = false;
        return SequencerNext.Done;
    }

    // Sends what is held, in seq order, as far as it follows on from what was sent; keeps what comes after a hole and
    // drops what was seen or comes after the member's leaving. False when the sink refused one (the connection is gone).
    private bool SendHeldThatFollow<TSink>(TSink sink) where TSink : ISequencedSink
    {
        if (_held is not { Count: > 0 } held)
            return true;
        held.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        var kept = 0;
        for (var i = 0; i < held.Count; i++)
        {
            var (seq, message, committedAt) = held[i];
            if (seq <= LastSentSeq || seq > EndSeq)
                continue;
            if (seq > LastSentSeq + 1)
            {
                held[kept++] = held[i];
                continue;
            }
            if (SendNext(seq, message, committedAt, sink) == SequencedStep.Closed)
            {
                held.RemoveRange(kept, held.Count - kept);
                return false;
            }
        }
        held.RemoveRange(kept, held.Count - kept);
        return true;
    }
}
