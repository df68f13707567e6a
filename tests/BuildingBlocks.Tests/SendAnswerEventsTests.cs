using System.Text.Json;
using Platform.Contracts.Messaging;

namespace Platform.BuildingBlocks.Tests;

/// <summary>The committed events a send's answer carries to the Gateway, in a response header.</summary>
public sealed class SendAnswerEventsTests
{
    private static ConversationEvent Posted(string text) => new()
    {
        EventId = Guid.CreateVersion7(),
        ConversationId = Guid.CreateVersion7(),
        Seq = 42,
        Type = ConversationEventTypes.MessagePosted,
        OccurredAt = new DateTimeOffset(2026, 12, 7, 6, 30, 0, 123, TimeSpan.Zero),
        ActorId = Guid.CreateVersion7(),
        Data = JsonSerializer.SerializeToElement(new { text, mentions = Array.Empty<Guid>() }),
        CommittedAt = new DateTimeOffset(2026, 12, 7, 6, 30, 0, 124, TimeSpan.Zero),
    };

    [Fact]
    public void TheEvents_SurviveTheHeader_AsTheBusWouldCarryThem_AnyTextIncluded()
    {
        var events = new[] { Posted("héllo 👋 \"quoted\"\n<b>"), Posted("second") with { Seq = 43, DataVersion = 2 } };

        var header = SendAnswerEvents.Encode(events);

        Assert.NotNull(header);
        Assert.All(header, c => Assert.True(c < 128 && !char.IsControl(c)));
        var decoded = SendAnswerEvents.Decode(header);
        Assert.Equal(2, decoded.Count);
        for (var i = 0; i < events.Length; i++)
        {
            Assert.Equal(events[i] with { Data = default }, decoded[i] with { Data = default });
            Assert.Equal(events[i].Data.GetRawText(), decoded[i].Data.GetRawText());
        }
    }

    [Fact]
    public void NothingToSend_OrTooLarge_GivesNoHeader()
    {
        Assert.Null(SendAnswerEvents.Encode([]));
        Assert.Null(SendAnswerEvents.Encode([Posted(new string('x', SendAnswerEvents.MaxEncodedLength))]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("bm90IGpzb24=")]
    public void AValueThatIsNotOne_DecodesToNothing(string value) => Assert.Empty(SendAnswerEvents.Decode(value));
}
