using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// The realtime platform for calls: a TURN server (coturn, on loopback, with the shared secret Messaging signs
/// credentials with), a small web server for the browser test page (an origin the Gateways allow), and a tight
/// signal rate limit.
/// </summary>
public sealed class CallPlatform : RealtimePlatform
{
    public const string TurnSecret = "e2e-turn-secret-0123456789abcdef";
    public const int SignalBurst = 20;
    public const int SignalsPerSecond = 5;

    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _results = new();
    private WebApplication? _pages;
    private Process? _turn;
    private string _turnLog = "";

    /// <summary>The test pages' server (its origin is allowed by the Gateways).</summary>
    public Uri Pages { get; private set; } = null!;

    public int TurnPort { get; private set; }

    public string TurnOutput => File.Exists(_turnLog) ? File.ReadAllText(_turnLog) : "";

    protected override IReadOnlyDictionary<string, string?> GatewaySettings => new Dictionary<string, string?>
    {
        ["Realtime:AllowedOrigins:0"] = Pages.GetLeftPart(UriPartial.Authority),
        ["Realtime:SignalBurst"] = SignalBurst.ToString(),
        ["Realtime:SignalsPerSecond"] = SignalsPerSecond.ToString(),
    };

    protected override IReadOnlyDictionary<string, string?> MessagingSettings => new Dictionary<string, string?>
    {
        ["Calls:Ice:StunUrls:0"] = $"stun:127.0.0.1:{TurnPort}",
        ["Calls:Ice:TurnUrls:0"] = $"turn:127.0.0.1:{TurnPort}?transport=udp",
        ["Calls:Ice:TurnSecret"] = TurnSecret,
    };

    public override async Task InitializeAsync()
    {
        (_pages, Pages) = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/call.html", () => Results.File(Path.Combine(AppContext.BaseDirectory, "Browser", "call.html"), "text/html"));
            app.MapGet("/signalr.min.js", () => Results.File(SignalRBrowserBundle(), "text/javascript"));
            app.MapPost("/result/{run}/{name}", async (string run, string name, HttpRequest request) =>
            {
                var body = await JsonDocument.ParseAsync(request.Body);
                Result(run, name).TrySetResult(body.RootElement.Clone());
                return Results.NoContent();
            });
        });
        StartTurnServer();
        await base.InitializeAsync();
    }

    /// <summary>What a test page posted as <paramref name="name"/> in run <paramref name="run"/>.</summary>
    public Task<JsonElement> ResultAsync(string run, string name) => Result(run, name).Task;

    private TaskCompletionSource<JsonElement> Result(string run, string name) =>
        _results.GetOrAdd($"{run}/{name}", _ => new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));

    public static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent!;
        return root.FullName;
    }

    private static string SignalRBrowserBundle()
    {
        var bundle = Path.Combine(RepositoryRoot(), "tests", "js-client", "node_modules", "@microsoft", "signalr", "dist", "browser", "signalr.min.js");
        Assert.True(File.Exists(bundle), "Run `npm ci --prefix tests/js-client` first (./platform test does).");
        return bundle;
    }

    // coturn with the TURN REST API secret, listening and relaying on loopback only.
    private void StartTurnServer()
    {
        var turnserver = new[] { "/usr/bin/turnserver", "/usr/local/bin/turnserver" }.FirstOrDefault(File.Exists);
        Assert.True(turnserver is not null, "coturn is not installed: `apt-get install coturn` (./platform test installs it).");
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            TurnPort = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        var work = Directory.CreateTempSubdirectory("platform-turn-").FullName;
        _turnLog = Path.Combine(work, "turn.log");
        var info = new ProcessStartInfo(turnserver,
        [
            "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", $"--listening-port={TurnPort}",
            "--use-auth-secret", $"--static-auth-secret={TurnSecret}", "--realm=platform.test", "--fingerprint",
            "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--no-tcp-relay",
            $"--pidfile={Path.Combine(work, "turn.pid")}", $"--log-file={_turnLog}", "--simple-log", "--no-stdout-log",
        ])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        _turn = Process.Start(info)!;
        _turn.OutputDataReceived += (_, _) => { };
        _turn.ErrorDataReceived += (_, _) => { };
        _turn.BeginOutputReadLine();
        _turn.BeginErrorReadLine();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_turn is { HasExited: false })
        {
            _turn.Kill(entireProcessTree: true);
            await _turn.WaitForExitAsync();
        }
        _turn?.Dispose();
        if (_pages is not null)
            await _pages.DisposeAsync();
    }
}
