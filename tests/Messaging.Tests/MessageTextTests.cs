using Platform.Messaging.Domain;

namespace Platform.Messaging.Tests;

public sealed class MessageTextTests
{
    [Theory]
    [InlineData("  hello  ", "hello")]
    [InlineData("line one\r\nline two\tend", "line one\nline two\tend")]
    [InlineData("bell\u0007 and null\u0000 gone", "bell and null gone")]
    [InlineData("e\u0301", "é")]
    [InlineData("family 👨‍👩‍👧 stays", "family 👨‍👩‍👧 stays")]
    [InlineData("\u202Eevil", "evil")]
    public void Normalize_KeepsNewlinesTabsAndEmojiButNoOtherControls(string input, string expected) =>
        Assert.Equal(expected, MessageText.Normalize(input));

    [Fact]
    public void MentionedUsernames_AreDistinctLowerCaseAndIgnoreEmails() =>
        Assert.Equal(["ada", "grace.h"], MessageText.MentionedUsernames("@Ada meet @grace.h. and @ADA; mail me at x@example.com"));

    [Theory]
    [InlineData("@channel release is out", "channel")]
    [InlineData("heads up @here.", "here")]
    [InlineData("@here and @Channel", "channel")]
    [InlineData("mail me at x@here.example", null)]
    [InlineData("@channels and @hereford", null)]
    [InlineData("no mass mention", null)]
    public void MassMention_IsChannelOrHere(string text, string? expected) =>
        Assert.Equal(expected, MessageText.MassMention(text));

    [Fact]
    public void Urls_AreFoundWithoutTrailingPunctuation() =>
        Assert.Equal(["https://a.example/x?y=1", "http://b.example/"], MessageText.Urls("see https://a.example/x?y=1, and (http://b.example/)."));

    [Theory]
    [InlineData("👍", true)]
    [InlineData("👍🏽", true)]
    [InlineData("❤️", true)]
    [InlineData("🇫🇷", true)]
    [InlineData("👨‍👩‍👧", true)]
    [InlineData("1️⃣", true)]
    [InlineData("a", false)]
    [InlineData(":)", false)]
    [InlineData("👍👍", false)]
    [InlineData("", false)]
    [InlineData("1", false)]
    public void Emoji_IsOneEmojiAndNothingElse(string value, bool valid) =>
        Assert.Equal(valid, Emoji.IsValid(value));
}
