using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Platform.Gateway.Realtime;

namespace Platform.Gateway.Tests;

/// <summary>
/// One connection's stream of one conversation, on its own: events offered live and read from the log as the bus,
/// the hub and the replayer would, and what reached the connection checked. No server, no timers, no threads.
/// </summary>
public sealed class ConversationSequencerTests
{
    private const int HoldLimit = 100;

    private sealed class Sink : ISequencedSink
    {
        public List<long> Sent { get; } = [];

        public List<SerializedHubMessage> Messages { get; } = [];

        public bool Gone { get; set; }

        public bool Send(long seq, SerializedHubMessage message, DateTimeOffset? committedAt)
        {
            if (Gone)
                return false;
            Sent.Add(seq);
            Messages.Add(message);
            return true;
        }
    }

    private static SerializedHubMessage Event(long seq) => new(new InvocationMessage(HubMethods.Event, [seq]));

    private static SequencedStep Live(ConversationSequencer stream, Sink sink, long seq, int holdLimit = HoldLimit) =>
        stream.Offer(seq, Event(seq), DateTimeOffset.UtcNow, holdLimit, sink);

    // What the replayer does with one page of the log, then what the stream asks for when the log has no more.
    private static SequencerNext ReplayPage(ConversationSequencer stream, Sink sink, params long[] seqs)
    {
        foreach (var seq in seqs)
            stream.Replayed(seq, Event(seq), sink);
        return stream.ReplayCaughtUp(sink);
    }

    // The replayer as the randomized tests play it: whenever the stream asks (ReadAfter ≥ 0), the log is read from
    // where it asks, up to what was committed by then, a page of at most 7 at a time.
    private sealed class PagedLog(ConversationSequencer stream, Sink sink)
    {
        public long Committed { get; set; }

        public long ReadAfter { get; set; } = -1;

        public void Read()
        {
            while (ReadAfter >= 0)
            {
                var page = Enumerable.Range(1, 7).Select(i => ReadAfter + i).Where(seq => seq <= Committed).ToList();
                foreach (var seq in page)
                    stream.Replayed(seq, Event(seq), sink);
                if (page.Count == 7)
                {
                    ReadAfter = page[^1];
                    continue;
                }
                ReadAfter = stream.ReplayCaughtUp(sink) == SequencerNext.ReadLog ? stream.LastSentSeq : -1;
            }
        }
    }

    [Fact]
    public void EventsInOrder_AreSentAsTheyArrive()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        Assert.All(Enumerable.Range(1, 5), seq => Assert.Equal(SequencedStep.Sent, Live(stream, sink, seq)));

        Assert.Equal([1, 2, 3, 4, 5], sink.Sent);
        Assert.Equal(5, stream.LastSentSeq);
        Assert.False(stream.Replaying);
    }

    [Fact]
    public void Duplicates_AreDropped_LiveOrFromTheLog()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        Live(stream, sink, 1);
        Live(stream, sink, 2);
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 2));
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 1));
        Assert.Equal(SequencedStep.Dropped, stream.Replayed(2, Event(2), sink));
        Live(stream, sink, 3);

        Assert.Equal([1, 2, 3], sink.Sent);
    }

    [Fact]
    public void AGap_IsHeldBack_ThenFilledByTheReplay_AndLiveEventsFlowAgain()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);

        Assert.Equal(SequencedStep.FillGap, Live(stream, sink, 3));
        Assert.Equal(1, stream.LastSentSeq);
        // The replay asked for is under way: what comes next waits behind it, without asking again.
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 4));
        Assert.Equal([1], sink.Sent);
        Assert.Equal(2, stream.HeldCount);

        // The log has 2 and 3: 3 goes out once, as read from the log; the held 4 follows.
        var fromLog = Event(3);
        stream.Replayed(2, Event(2), sink);
        stream.Replayed(3, fromLog, sink);
        Assert.Equal(SequencerNext.Done, stream.ReplayCaughtUp(sink));

        Assert.Equal([1, 2, 3, 4], sink.Sent);
        Assert.Same(fromLog, sink.Messages[2]);
        Assert.False(stream.Replaying);
        Assert.Equal(0, stream.HeldCount);
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 5));
        Assert.Equal([1, 2, 3, 4, 5], sink.Sent);
    }

    [Fact]
    public void AReplayOverlappingLiveEvents_SendsEachSeqOnce_InOrder()
    {
        var stream = new ConversationSequencer(6);
        var sink = new Sink();

        Assert.Equal(SequencerNext.ReadLog, stream.Resume(2, sink));
        Assert.Equal(2, stream.LastSentSeq);
        // Live events committed while the log is read: held, though the log will have them too.
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 7));
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 8));

        // The first page ends before them; the second reaches into them.
        Assert.All(new long[] { 3, 4, 5 }, seq => Assert.Equal(SequencedStep.Sent, stream.Replayed(seq, Event(seq), sink)));
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 6, 7));

        Assert.Equal([3, 4, 5, 6, 7, 8], sink.Sent);
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 8));
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 9));
    }

    [Fact]
    public void AnOutOfOrderBurst_IsSentInSeqOrder()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);

        Assert.Equal(SequencedStep.FillGap, Live(stream, sink, 4));
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 3));
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 5));
        // The next one, but a replay is under way: it waits too, so nothing overtakes the replay.
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 2));
        Assert.Equal([1], sink.Sent);

        // The replay's read happened before any of them was committed: the held ones are all it takes.
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink));

        Assert.Equal([1, 2, 3, 4, 5], sink.Sent);
    }

    [Fact]
    public void AHoleLeftBeforeWhatIsHeld_IsReadFromTheLog_UntilNoneIsLeft()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);
        Live(stream, sink, 3);
        Live(stream, sink, 5);

        Assert.Equal(SequencerNext.ReadLog, ReplayPage(stream, sink));
        Assert.Equal(1, stream.LastSentSeq);
        Assert.Equal(SequencerNext.ReadLog, ReplayPage(stream, sink, 2));
        Assert.Equal([1, 2, 3], sink.Sent);
        Assert.Equal(3, stream.LastSentSeq);
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 4, 5));

        Assert.Equal([1, 2, 3, 4, 5], sink.Sent);
        Assert.False(stream.Replaying);
    }

    [Fact]
    public void AResumeFromTheClientsLastSeq_ReadsTheLogFromThere_ThenSendsWhatWasHeld()
    {
        // The connection started at 10 and holds its live events for the client's resume.
        var stream = ConversationSequencer.AwaitingResumeAfter(10);
        var sink = new Sink();
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 11));
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 12));
        Assert.Empty(sink.Sent);

        // The client last had 7.
        Assert.Equal(SequencerNext.ReadLog, stream.Resume(7, sink));
        Assert.Equal(7, stream.LastSentSeq);
        Assert.Equal(7, stream.StartSeq);
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 8, 9, 10, 11));

        Assert.Equal([8, 9, 10, 11, 12], sink.Sent);
    }

    [Fact]
    public void AResumeAtOrPastWhereTheStreamStarted_NeedsNoReadOfTheLog()
    {
        var stream = ConversationSequencer.AwaitingResumeAfter(10);
        var sink = new Sink();
        Live(stream, sink, 11);
        Live(stream, sink, 12);

        Assert.Equal(SequencerNext.Done, stream.Resume(11, sink));

        Assert.Equal([12], sink.Sent);
        Assert.Equal(11, stream.StartSeq);
        Assert.False(stream.Replaying);
    }

    [Fact]
    public void WithoutAResume_TheGraceReleasesWhatWasHeld_OrReadsTheLogForAHole()
    {
        var complete = ConversationSequencer.AwaitingResumeAfter(10);
        var sink = new Sink();
        Live(complete, sink, 11);
        Assert.Equal(SequencerNext.Done, complete.ResumeGraceEnded(sink));
        Assert.Equal([11], sink.Sent);
        // Resumed or released once only.
        Assert.Equal(SequencerNext.Done, complete.ResumeGraceEnded(sink));

        var holed = ConversationSequencer.AwaitingResumeAfter(10);
        var other = new Sink();
        Live(holed, other, 12);
        Assert.Equal(SequencerNext.ReadLog, holed.ResumeGraceEnded(other));
        Assert.Equal(10, holed.LastSentSeq);
        Assert.Equal(SequencerNext.Done, ReplayPage(holed, other, 11));
        Assert.Equal([11, 12], other.Sent);
    }

    [Fact]
    public void WhenTheSetupLostEvents_TheGraceReadsTheLogEvenWithNoHoleInWhatIsHeld()
    {
        var stream = ConversationSequencer.AwaitingResumeAfter(10);
        var sink = new Sink();
        stream.SetupOverflowed();

        Assert.Equal(SequencerNext.ReadLog, stream.ResumeGraceEnded(sink));
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 11, 12));
        Assert.Equal([11, 12], sink.Sent);
    }

    [Fact]
    public void ALateJoinEvent_MovesTheStartToWhatMessagingAnswered_UnlessSomethingWasSent()
    {
        // member.joined at 3 started the stream at 2; Messaging's answer, read after, says 5.
        var stream = ConversationSequencer.AwaitingResumeAfter(2);
        stream.SetupAnswered(5);
        Assert.Equal(5, stream.StartSeq);
        Assert.Equal(5, stream.LastSentSeq);

        // An older answer never moves it back.
        stream.SetupAnswered(4);
        Assert.Equal(5, stream.StartSeq);
    }

    [Fact]
    public void ALeftMember_GetsTheirLeavingAndNothingAfter()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);

        Assert.False(stream.EndAt(3));
        Assert.False(stream.IsLive);
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 2));
        Assert.Equal(SequencedStep.Ended, Live(stream, sink, 3));
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 4));
        Assert.Equal([1, 2, 3], sink.Sent);

        // A leaving already sent ends the stream at once.
        Assert.True(new ConversationSequencer(5).EndAt(5));
    }

    [Fact]
    public void ALeavingReachedByAReplay_EndsTheStreamThere()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);
        Live(stream, sink, 4);
        Assert.False(stream.EndAt(3));

        Assert.Equal(SequencedStep.Sent, stream.Replayed(2, Event(2), sink));
        Assert.Equal(SequencedStep.Ended, stream.Replayed(3, Event(3), sink));
        Assert.Equal(SequencedStep.Dropped, stream.Replayed(4, Event(4), sink));
        Assert.Equal(SequencerNext.Ended, stream.ReplayCaughtUp(sink));
        Assert.Equal([1, 2, 3], sink.Sent);
    }

    [Fact]
    public void RejoiningBeforeTheLeavingWasSent_KeepsTheStream()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Assert.False(stream.EndAt(2));

        stream.Rejoined();

        Assert.True(stream.IsLive);
        Assert.All(new long[] { 1, 2, 3 }, seq => Assert.Equal(SequencedStep.Sent, Live(stream, sink, seq)));
    }

    [Fact]
    public void AJoinedConversation_StartsWithTheEventOfTheJoining()
    {
        // member.joined at 7 starts the stream at 6.
        var stream = new ConversationSequencer(6);
        var sink = new Sink();

        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 6));
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 7));
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 8));
        Assert.Equal([7, 8], sink.Sent);
    }

    [Fact]
    public void TooManyHeld_AsksToCloseTheConnection_InsteadOfHoldingMore()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        Assert.Equal(SequencedStep.FillGap, Live(stream, sink, 2, holdLimit: 2));
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 3, holdLimit: 2));
        Assert.Equal(SequencedStep.Overflowed, Live(stream, sink, 4, holdLimit: 2));
        Assert.Equal(2, stream.HeldCount);
    }

    [Fact]
    public void AConnectionThatIsGone_StopsTheStreamWhereItWas()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);
        sink.Gone = true;

        Assert.Equal(SequencedStep.Closed, Live(stream, sink, 2));
        Assert.Equal(1, stream.LastSentSeq);
    }

    [Fact]
    public void EventsLostWithTheBroker_AreReadFromTheLog_OnceMoreIfAReplayWasUnderWay()
    {
        var live = new ConversationSequencer(4);
        Assert.True(live.MayHaveLostEvents());
        Assert.True(live.Replaying);

        var replaying = new ConversationSequencer(0);
        var sink = new Sink();
        Live(replaying, sink, 2);
        Assert.False(replaying.MayHaveLostEvents());
        // The replay under way may have read the log before what was lost: it reads once more.
        Assert.Equal(SequencerNext.ReadLog, ReplayPage(replaying, sink, 1));
        Assert.Equal(SequencerNext.Done, ReplayPage(replaying, sink, 2, 3));
        Assert.Equal([1, 2, 3], sink.Sent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void AnyMixOfLostDuplicatedAndReorderedEvents_ReachesTheConnectionOnceInOrder(int seed)
    {
        // The bus hands over 200 events late, twice or never; whenever the stream asks, the log is read from where it
        // asks, up to what was committed by then (a page of at most 7).
        var random = new Random(seed);
        const int count = 200;
        var arrivals = Enumerable.Range(1, count)
            // The last one arrives: a loss is noticed by what follows it.
            .SelectMany(seq => Enumerable.Repeat((long)seq, seq == count ? 1 : random.Next(10) switch { 0 => 0, 1 => 2, _ => 1 }))
            .Select(seq => (Seq: seq, At: seq + random.Next(6)))
            .OrderBy(arrival => arrival.At)
            .Select(arrival => arrival.Seq)
            .ToList();
        var stream = ConversationSequencer.AwaitingResumeAfter(0);
        var sink = new Sink();
        var log = new PagedLog(stream, sink);

        foreach (var (seq, index) in arrivals.Select((seq, index) => (seq, index)))
        {
            log.Committed = Math.Max(log.Committed, seq);
            if (index == 20 && stream.ResumeGraceEnded(sink) == SequencerNext.ReadLog)
                log.ReadAfter = stream.LastSentSeq;
            if (Live(stream, sink, seq, holdLimit: 1000) == SequencedStep.FillGap)
                log.ReadAfter = stream.LastSentSeq;
            // The replay's reads interleave with live arrivals, never with another replay of the same stream.
            if (index % 3 == 0)
                log.Read();
        }
        log.Committed = count;
        if (stream.ResumeGraceEnded(sink) == SequencerNext.ReadLog)
            log.ReadAfter = stream.LastSentSeq;
        if (stream.Replaying && log.ReadAfter < 0)
            log.ReadAfter = stream.LastSentSeq;
        log.Read();

        Assert.Equal(Enumerable.Range(1, count).Select(seq => (long)seq), sink.Sent);
    }

    private static SequencedStep Ahead(ConversationSequencer stream, Sink sink, long seq, int holdLimit = HoldLimit) =>
        stream.OfferAhead(seq, Event(seq), DateTimeOffset.UtcNow, holdLimit, sink);

    [Fact]
    public void AheadOfTheBus_TheNextEventIsSentAtOnce_AndTheBusCopyIsDropped()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        Assert.Equal(SequencedStep.Sent, Ahead(stream, sink, 1));
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 1));
        Assert.Equal(SequencedStep.Dropped, Ahead(stream, sink, 1));
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 2));

        Assert.Equal([1, 2], sink.Sent);
    }

    [Fact]
    public void AheadOfTheBus_AnEarlyEvent_WaitsForTheBusToBringWhatComesBefore_WithoutReadingTheLog()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);

        // 2 (a reaction, say) is still on the bus when the answer to the send of 3 and 4 arrives.
        Assert.Equal(SequencedStep.Held, Ahead(stream, sink, 3));
        Assert.Equal(SequencedStep.Held, Ahead(stream, sink, 4));
        Assert.False(stream.Replaying);
        Assert.Equal([1], sink.Sent);

        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 2));
        Assert.Equal([1, 2, 3, 4], sink.Sent);
        Assert.Equal(0, stream.HeldCount);
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 3));
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 4));
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 5));
        Assert.Equal([1, 2, 3, 4, 5], sink.Sent);
    }

    [Fact]
    public void AheadOfTheBus_WhatFollowsAHoleStaysHeld_UntilTheHoleIsFilled()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        Ahead(stream, sink, 2);
        Ahead(stream, sink, 4);
        Assert.Equal(SequencedStep.Sent, Live(stream, sink, 1));
        Assert.Equal([1, 2], sink.Sent);
        Assert.Equal(1, stream.HeldCount);

        Live(stream, sink, 2);
        Live(stream, sink, 3);
        Assert.Equal([1, 2, 3, 4], sink.Sent);
    }

    [Fact]
    public void AheadOfTheBus_ALossOnTheBus_IsStillReadFromTheLog_AndWhatWasHeldFollows()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        Live(stream, sink, 1);
        Ahead(stream, sink, 4);

        // 2 was lost on the way: the bus's 3 shows the gap, as it would without the answers.
        Assert.Equal(SequencedStep.FillGap, Live(stream, sink, 3));
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 2, 3));
        Assert.Equal([1, 2, 3, 4], sink.Sent);
        Assert.False(stream.Replaying);
        Assert.Equal(SequencedStep.Dropped, Live(stream, sink, 4));
    }

    [Fact]
    public void AheadOfTheBus_NothingIsTaken_WhileAResumeOrAReplayIsAwaited()
    {
        var stream = ConversationSequencer.AwaitingResumeAfter(10);
        var sink = new Sink();

        Assert.Equal(SequencedStep.Dropped, Ahead(stream, sink, 11));
        Assert.Equal(0, stream.HeldCount);
        // The bus's copy takes the usual way: held until the resume.
        Assert.Equal(SequencedStep.Held, Live(stream, sink, 11));
        Assert.Equal(SequencerNext.Done, stream.Resume(10, sink));
        Assert.Equal([11], sink.Sent);
    }

    [Fact]
    public void AheadOfTheBus_BeyondWhatMayBeHeld_IsLeftToTheBus_NotAReasonToClose()
    {
        var stream = new ConversationSequencer(0);
        var sink = new Sink();

        // Half of what may be held is for events ahead: the other half stays for the bus's own.
        Assert.Equal(SequencedStep.Held, Ahead(stream, sink, 3, holdLimit: 2));
        Assert.Equal(SequencedStep.Dropped, Ahead(stream, sink, 4, holdLimit: 2));
        Assert.Equal(SequencedStep.FillGap, Live(stream, sink, 2, holdLimit: 2));
        Assert.Equal(SequencerNext.Done, ReplayPage(stream, sink, 1, 2));
        Live(stream, sink, 4, holdLimit: 2);

        Assert.Equal([1, 2, 3, 4], sink.Sent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AheadOfTheBus_AnyMixOfAnswersAndLostDuplicatedReorderedBusEvents_ReachesTheConnectionOnceInOrder(int seed)
    {
        // Half the events are sends of this instance: their answer arrives as they commit, before any copy from the bus.
        // The bus hands over every event late, twice or never, as in the test above.
        var random = new Random(seed);
        const int count = 200;
        var arrivals = Enumerable.Range(1, count)
            .SelectMany(seq =>
            {
                var bus = Enumerable.Repeat((Seq: (long)seq, At: seq + 1 + random.Next(6), Ahead: false), seq == count ? 1 : random.Next(10) switch { 0 => 0, 1 => 2, _ => 1 });
                return random.Next(2) == 0 ? bus.Append((Seq: (long)seq, At: seq, Ahead: true)) : bus;
            })
            .OrderBy(arrival => arrival.At)
            .ToList();
        var stream = new ConversationSequencer(0);
        var sink = new Sink();
        var log = new PagedLog(stream, sink);

        foreach (var ((seq, _, ahead), index) in arrivals.Select((arrival, index) => (arrival, index)))
        {
            log.Committed = Math.Max(log.Committed, seq);
            if (ahead)
                Ahead(stream, sink, seq, holdLimit: 1000);
            else if (Live(stream, sink, seq, holdLimit: 1000) == SequencedStep.FillGap)
                log.ReadAfter = stream.LastSentSeq;
            if (index % 3 == 0)
                log.Read();
        }
        log.Committed = count;
        if (stream.Replaying && log.ReadAfter < 0)
            log.ReadAfter = stream.LastSentSeq;
        log.Read();

        Assert.Equal(Enumerable.Range(1, count).Select(seq => (long)seq), sink.Sent);
    }
}
