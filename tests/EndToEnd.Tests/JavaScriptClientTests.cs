using System.Diagnostics;
using System.Text.Json;

namespace Platform.EndToEnd.Tests;

/// <summary>The official JavaScript SignalR client (npm <c>@microsoft/signalr</c>), as a web frontend uses the hub.</summary>
public sealed class JavaScriptClientTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    [Fact]
    public async Task OfficialJavaScriptClient_ReceivesEveryEventOnceInOrder_AcrossAReconnectWithResume()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent!;
        var script = Path.Combine(root.FullName, "tests", "js-client");
        Assert.True(Directory.Exists(Path.Combine(script, "node_modules", "@microsoft", "signalr")),
            "Run `npm ci --prefix tests/js-client` first (./platform test does).");

        var sender = platform.Client(platform.Gateway1.BaseAddress);
        var receiver = Guid.CreateVersion7();
        var conversation = await sender.Sdk.CreateConversationAsync("group", [receiver], "javascript");
        var info = new ProcessStartInfo("node", [Path.Combine(script, "resume-check.js")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["GATEWAY"] = platform.Gateway2.BaseAddress.ToString();
        info.Environment["CONVERSATION"] = conversation.Id.ToString();
        info.Environment["SENDER_TOKEN"] = platform.Issuer.CreateToken(sender.Id);
        info.Environment["RECEIVER_TOKEN"] = platform.Issuer.CreateToken(receiver);
        info.Environment["COUNT"] = "300";
        info.Environment["START_SEQ"] = conversation.LastSeq.ToString();

        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(node.ExitCode == 0, await errors);
        var result = JsonDocument.Parse((await output).Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(0, result.GetProperty("missing").GetInt32());
        Assert.Equal(0, result.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, result.GetProperty("orderViolations").GetInt32());
        Assert.Equal(300, result.GetProperty("received").GetInt32());
    }
}
