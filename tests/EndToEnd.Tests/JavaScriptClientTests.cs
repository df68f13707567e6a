using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>The official JavaScript SignalR client (npm <c>@microsoft/signalr</c>), as a web frontend uses the hub.</summary>
public sealed class JavaScriptClientTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    private static void RequireClient() =>
        Assert.True(Directory.Exists(Path.Combine(TestInfrastructure.RepositoryRoot, "tests", "js-client", "node_modules", "@microsoft", "signalr")),
            "Run `npm ci --prefix tests/js-client` first (./platform test does).");

    [Fact]
    public async Task OfficialJavaScriptClient_ReceivesEveryEventOnceInOrder_AcrossAReconnectWithResume()
    {
        RequireClient();
        var sender = platform.Client(platform.Gateway1.BaseAddress);
        var receiver = Guid.CreateVersion7();
        var conversation = await sender.Sdk.CreateConversationAsync("group", [receiver], "javascript");

        var result = await NodeScript.RunAsync("tests/js-client/resume-check.js", new Dictionary<string, string>
        {
            ["GATEWAY"] = platform.Gateway2.BaseAddress.ToString(),
            ["CONVERSATION"] = conversation.Id.ToString(),
            ["SENDER_TOKEN"] = platform.Issuer.CreateToken(sender.Id),
            ["RECEIVER_TOKEN"] = platform.Issuer.CreateToken(receiver),
            ["COUNT"] = "300",
            ["START_SEQ"] = conversation.LastSeq.ToString(),
        }, TimeSpan.FromMinutes(2));

        Assert.Equal(0, result.GetProperty("missing").GetInt32());
        Assert.Equal(0, result.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, result.GetProperty("orderViolations").GetInt32());
        Assert.Equal(300, result.GetProperty("received").GetInt32());
    }

    [Fact]
    public async Task ConnectionsOpenedDuringA20PerSecondStream_WithoutResume_GetEveryEventAfterTheirReportedPosition()
    {
        RequireClient();
        var sender = platform.Client(platform.Gateway1.BaseAddress);
        var receivers = Enumerable.Range(0, 100).Select(_ => Guid.CreateVersion7()).ToList();
        var conversation = await sender.Sdk.CreateConversationAsync("group", receivers, "connect during a stream");

        var result = await NodeScript.RunAsync("tests/js-client/connect-during-stream.js", new Dictionary<string, string>
        {
            ["GATEWAYS"] = $"{platform.Gateway1.BaseAddress},{platform.Gateway2.BaseAddress}",
            ["CONVERSATION"] = conversation.Id.ToString(),
            ["SENDER_TOKEN"] = platform.Issuer.CreateToken(sender.Id),
            ["RECEIVER_TOKENS"] = string.Join(',', receivers.Select(receiver => platform.Issuer.CreateToken(receiver))),
            ["RATE"] = "20",
            ["COUNT"] = "200",
        }, TimeSpan.FromMinutes(2));

        Assert.Equal(100, result.GetProperty("connections").GetInt32());
        Assert.Equal(0, result.GetProperty("unreported").GetInt32());
        Assert.Equal(0, result.GetProperty("missed").GetInt32());
        Assert.Equal(0, result.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, result.GetProperty("orderViolations").GetInt32());
        Assert.Equal(0, result.GetProperty("belowPosition").GetInt32());
    }
}
