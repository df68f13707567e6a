using Platform.Notifications.Domain;

namespace Platform.Notifications.Tests;

public sealed class RecipientsTests
{
    private static readonly Guid Author = Guid.NewGuid(), Bob = Guid.NewGuid(), Carol = Guid.NewGuid(), Dan = Guid.NewGuid();

    private static IReadOnlyList<(Guid UserId, string Kind)> Decide(PostedMessage message, string kind, Func<Guid, string>? level = null,
        Func<Guid, long>? read = null, IReadOnlySet<Guid>? thread = null) =>
        Recipients.Decide(message, kind, [Author, Bob, Carol, Dan], thread ?? new HashSet<Guid>(), level ?? (_ => Levels.All), read ?? (_ => 0));

    [Fact]
    public void NeverTheAuthor_NorSomeoneWhoReadPastIt()
    {
        var message = new PostedMessage(Guid.NewGuid(), Guid.NewGuid(), 10, Author, new HashSet<Guid>(), null);
        var notified = Decide(message, "group", read: user => user == Carol ? 10 : 0);
        Assert.Equal(new[] { Bob, Dan }, notified.Select(n => n.UserId));
    }

    [Fact]
    public void MentionsLevel_LetsMentionsAndThreadRepliesThrough_NotPlainMessages()
    {
        var reply = new PostedMessage(Guid.NewGuid(), Guid.NewGuid(), 10, Author, new HashSet<Guid> { Bob }, Guid.NewGuid());
        var notified = Decide(reply, "channel", level: _ => Levels.Mentions, thread: new HashSet<Guid> { Carol });
        Assert.Equal(new[] { (Bob, Kinds.Mention), (Carol, Kinds.Reply) }, notified);
    }

    [Fact]
    public void AtChannel_MentionsEveryMember_AtMentionsLevelToo_ButNotThoseWhoMutedIt()
    {
        var message = new PostedMessage(Guid.NewGuid(), Guid.NewGuid(), 10, Author, new HashSet<Guid>(), null, "channel");
        var notified = Recipients.Decide(message, "channel", [Author, Bob, Carol, Dan], new HashSet<Guid>(), user => user == Dan ? Levels.None : Levels.Mentions, _ => 0);
        Assert.Equal(new[] { (Bob, Kinds.Mention), (Carol, Kinds.Mention) }, notified);
    }

    [Fact]
    public void AtHere_MentionsOnlyTheMembersOnlineNow()
    {
        var message = new PostedMessage(Guid.NewGuid(), Guid.NewGuid(), 10, Author, new HashSet<Guid>(), null, "here");
        var notified = Recipients.Decide(message, "channel", [Author, Bob, Carol, Dan], new HashSet<Guid>(), _ => Levels.Mentions, _ => 0,
            online: user => user == Carol || user == Author);
        Assert.Equal(new[] { (Carol, Kinds.Mention) }, notified);
    }

    [Fact]
    public void NoneLevel_SilencesEvenMentions()
    {
        var message = new PostedMessage(Guid.NewGuid(), Guid.NewGuid(), 10, Author, new HashSet<Guid> { Bob }, null);
        Assert.Empty(Decide(message, "group", level: _ => Levels.None));
    }

    [Fact]
    public void DefaultLevel_IsAllForDirectAndSmallGroups_MentionsForChannelsAndLargeGroups_AndAMuteRunsOut()
    {
        var conversation = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(Levels.All, Recipients.LevelOf(null, conversation, "direct", 2, 20, now));
        Assert.Equal(Levels.All, Recipients.LevelOf(null, conversation, "group", 20, 20, now));
        Assert.Equal(Levels.Mentions, Recipients.LevelOf(null, conversation, "group", 21, 20, now));
        Assert.Equal(Levels.Mentions, Recipients.LevelOf(null, conversation, "channel", 3, 20, now));
        var muted = new Preferences { Conversations = [new ConversationPreference(conversation, Levels.None, now.AddMinutes(-1))] };
        Assert.Equal(Levels.All, Recipients.LevelOf(muted, conversation, "direct", 2, 20, now));
        var mutedLater = new Preferences { Conversations = [new ConversationPreference(conversation, Levels.None, now.AddMinutes(1))] };
        Assert.Equal(Levels.None, Recipients.LevelOf(mutedLater, conversation, "direct", 2, 20, now));
    }
}
