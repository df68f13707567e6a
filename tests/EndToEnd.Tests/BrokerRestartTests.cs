using System.Diagnostics;
using Platform.Client;

namespace Platform.EndToEnd.Tests;

/// <summary>A platform on its own PostgreSQL and RabbitMQ, so the broker can be restarted without disturbing other tests.</summary>
public sealed class PrivateBrokerPlatform : RealtimePlatform
{
    private string _folder = "";

    public override async Task InitializeAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "platform-broker-" + Guid.NewGuid().ToString("N")[..8]);
        await Infra("start");
        var settings = File.ReadAllLines(Path.Combine(_folder, "infra.env"))
            .Select(line => line.Replace("export ", "").Split('=', 2)).Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1].Trim('"'));
        await StartAsync(settings["PLATFORM_POSTGRES_CONNECTION"], settings["PLATFORM_RABBITMQ_URI"]);
    }

    public Task RestartBrokerAsync() => Infra("restart-rabbitmq");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Infra("stop");
        Directory.Delete(_folder, recursive: true);
    }

    private async Task Infra(string command)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent!;
        var info = new ProcessStartInfo("bash", [Path.Combine(root.FullName, "scripts", "infra.sh"), command, _folder]) { RedirectStandardOutput = true };
        info.Environment["PG_FAST"] = "1";
        using var process = Process.Start(info)!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/infra.sh {command} failed ({process.ExitCode}).");
    }
}

public sealed class BrokerRestartTests(PrivateBrokerPlatform platform) : IClassFixture<PrivateBrokerPlatform>
{
    [Fact]
    public async Task BrokerRestartDuringASendBurst_LosesAndDuplicatesNothingAtTheClient()
    {
        const int count = 300;
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bob.Id], "broker")).Id;
        await bob.Sdk.Realtime.StartAsync();

        Task restart = Task.CompletedTask;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await alice.Sdk.SendMessageAsync(conversation, $"message {i}", clientMessageId: $"m{i}");
                if (i == count / 3)
                    restart = platform.RestartBrokerAsync();
            }
        });

        var texts = new List<string>();
        var seqs = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await foreach (var e in bob.Sdk.Realtime.ReadEventsAsync(timeout.Token))
        {
            if (e.ConversationId != conversation)
                continue;
            seqs.Add(e.Seq);
            if (e.Type == EventTypes.MessagePosted)
                texts.Add(e.AsMessage()!.Text);
            if (texts.Count == count)
                break;
        }
        await sending;
        await restart;

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"message {i}"), texts);
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
    }
}
