using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Platform.Benchmarks;

/// <summary>
/// Idle realtime connections held by one Gateway instance: real WebSockets speaking the SignalR JSON handshake, from
/// several loopback source addresses (127.0.0.2, .3, ...) to pass the ephemeral-port limit of one address, each
/// pinging as a SignalR client does so the server keeps it. Measured: the Gateway's resident memory per connection.
/// </summary>
internal sealed record IdleResult(int Held, double ConnectionsPerGiB, double RssBeforeMiB, double RssAfterMiB, double SecondsToOpen);

internal static class IdleConnections
{
    private const int PerSourceAddress = 25_000;

    public static Task<IdleResult> RunAsync(PlatformUnderTest platform, int count)
    {
        var pid = platform.Gateway.ProcessId ?? throw new InvalidOperationException("The Gateway is not running.");
        // Tokens for a few users (the Gateway allows 1000 connections per user here).
        var tokens = Enumerable.Range(0, count / 900 + 1).Select(_ => platform.Issuer.CreateToken(Guid.CreateVersion7(), "idle", lifetime: TimeSpan.FromHours(6))).ToArray();
        return RunAsync(pid, platform.Gateway.BaseAddress, "/hubs/chat", i => tokens[i / 900], count);
    }

    /// <summary>
    /// The baseline: the same connections held by a bare SignalR hub (no authentication, no registry, no broker) in a
    /// process of its own with the Gateway's GC settings, so the report shows how much of a connection's memory is the
    /// framework's and how much ours.
    /// </summary>
    public static async Task<IdleResult> RunBareAsync(int count)
    {
        var self = Environment.ProcessPath!;
        var start = new System.Diagnostics.ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        start.ArgumentList.Add(BareHubServer);
        // The Gateway's GC (workstation, Gateway.csproj) unless BENCH_GATEWAY_GC_SERVER says otherwise for both.
        start.Environment["DOTNET_gcServer"] = Environment.GetEnvironmentVariable("BENCH_GATEWAY_GC_SERVER") ?? "0";
        using var server = System.Diagnostics.Process.Start(start)!;
        try
        {
            var address = new Uri(await server.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("The bare hub did not start."));
            return await RunAsync(server.Id, address, "/bare", _ => null, count);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    public const string BareHubServer = "bare-hub-server";

    /// <summary>The child process of <see cref="RunBareAsync"/>: a bare hub until its standard input closes.</summary>
    public static async Task ServeBareHubAsync()
    {
        RaiseFileLimit(200_000);
        var (app, address) = await Baselines.StartBareHubAsync();
        Console.WriteLine(address);
        await Console.In.ReadToEndAsync();
        await app.DisposeAsync();
    }

    private static async Task<IdleResult> RunAsync(int pid, Uri server, string path, Func<int, string?> token, int count)
    {
        RaiseFileLimit(count * 2 + 10_000);
        await Task.Delay(2000);
        GC.Collect();
        var before = ProcessUsage.CurrentRssKiB(pid);
        var sockets = new List<WebSocket>(count);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var opened = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, cancellationToken) =>
        {
            try
            {
                var socket = await OpenAsync(server, path, IPAddress.Parse($"127.0.0.{2 + i / PerSourceAddress}"), token(i), cancellationToken);
                lock (sockets)
                    sockets.Add(socket);
                Interlocked.Increment(ref opened);
            }
            catch (Exception exception) when (exception is IOException or SocketException or WebSocketException or InvalidOperationException)
            {
            }
        });
        var secondsToOpen = (System.Diagnostics.Stopwatch.GetTimestamp() - started) / (double)System.Diagnostics.Stopwatch.Frequency;
        using var pinging = new CancellationTokenSource();
        var pings = Task.Run(() => PingAsync(sockets, pinging.Token));
        // Let the Gateway settle (its per-connection work done, the GC caught up) before reading its memory.
        await Task.Delay(TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("BENCH_IDLE_SETTLE_SECONDS"), out var settle) ? settle : 10));
        var held = sockets.Count(s => s.State == WebSocketState.Open);
        var after = ProcessUsage.CurrentRssKiB(pid);
        await pinging.CancelAsync();
        await pings.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var socket in sockets)
            socket.Abort();
        var perConnectionKiB = held == 0 ? double.NaN : (after - before) / (double)held;
        // Let the server see the connections go before the next measurement starts.
        await Task.Delay(TimeSpan.FromSeconds(3));
        return new IdleResult(held, perConnectionKiB > 0 ? 1024 * 1024 / perConnectionKiB : double.NaN, before / 1024.0, after / 1024.0, secondsToOpen);
    }

    private static async Task<WebSocket> OpenAsync(Uri server, string path, IPAddress source, string? token, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
        var stream = new NetworkStream(socket, ownsSocket: true);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var query = token is null ? "" : $"?access_token={token}";
        var request = $"GET {path}{query} HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
                      $"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
        var response = new StringBuilder();
        var one = new byte[1];
        while (!response.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
                throw new IOException("Closed during the upgrade.");
            response.Append((char)one[0]);
        }
        if (!response.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            throw new InvalidOperationException("Upgrade refused: " + response.ToString().Split('\r')[0]);
        var webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        await webSocket.SendAsync("{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray(), WebSocketMessageType.Text, true, cancellationToken);
        var buffer = new byte[256];
        var handshake = await webSocket.ReceiveAsync(buffer, cancellationToken);
        if (Encoding.UTF8.GetString(buffer, 0, handshake.Count) != "{}\u001e")
            throw new InvalidOperationException("Handshake refused.");
        // Keep reading (server pings, events) so nothing piles up.
        _ = Task.Run(async () =>
        {
            var sink = new byte[512];
            try
            {
                while (webSocket.State == WebSocketState.Open)
                    await webSocket.ReceiveAsync(sink, CancellationToken.None);
            }
            catch (Exception)
            {
            }
        }, CancellationToken.None);
        return webSocket;
    }

    // The server closes a client that sends nothing for 30 s: ping every 10 s, as SignalR clients do every 15 s.
    private static async Task PingAsync(List<WebSocket> sockets, CancellationToken cancellationToken)
    {
        var ping = "{\"type\":6}\u001e"u8.ToArray();
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (var socket in sockets)
                if (socket.State == WebSocketState.Open)
                    try
                    {
                        await socket.SendAsync(ping, WebSocketMessageType.Text, true, cancellationToken);
                    }
                    catch (Exception) when (!cancellationToken.IsCancellationRequested)
                    {
                    }
            await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit limit);

    /// <summary>Open file limit for this process and the Gateway it starts later (root may raise the hard limit).</summary>
    public static void RaiseFileLimit(int files)
    {
        var limit = new RLimit { Current = (ulong)files, Maximum = (ulong)files };
        setrlimit(7 /* RLIMIT_NOFILE */, ref limit);
    }
}
