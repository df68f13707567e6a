using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Platform.Testing;

/// <summary>
/// A TCP relay on loopback in front of a server, for tests of network faults: <see cref="DropAll"/> cuts every
/// connection passing through it at once; <see cref="Refuse"/> makes the server look down (connections cut, new ones
/// closed at once) and <see cref="Blackhole"/> partitions it (nothing passes, nothing is closed: bytes wait, as TCP
/// retransmits would, until <see cref="Restore"/>).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Guid, (TcpClient Client, TcpClient Server)> _pairs = new();
    private readonly Task _accepting;
    private volatile bool _refusing;
    private TaskCompletionSource _flowing = Flowing();

    public TcpProxy(Uri target)
    {
        Target = target;
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public Uri Target { get; }

    /// <summary>The proxy's address, with the target's scheme.</summary>
    public Uri Address => new($"{Target.Scheme}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    public int Dropped { get; private set; }

    /// <summary>Added to every chunk relayed, either way: a slow network or an overloaded server (zero by default).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>The server looks down: open connections are cut and new ones closed at once, until <see cref="Restore"/>.</summary>
    public void Refuse()
    {
        _refusing = true;
        DropAll();
    }

    /// <summary>A partition: connections stay open, but no byte passes either way (and new ones get nowhere) until <see cref="Restore"/>.</summary>
    public void Blackhole()
    {
        lock (_pairs)
            if (_flowing.Task.IsCompleted)
                _flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Back to relaying: held bytes flow on, new connections reach the server.</summary>
    public void Restore()
    {
        _refusing = false;
        lock (_pairs)
            _flowing.TrySetResult();
    }

    private Task WhenFlowing()
    {
        lock (_pairs)
            return _flowing.Task;
    }

    private static TaskCompletionSource Flowing()
    {
        var flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        flowing.SetResult();
        return flowing;
    }

    /// <summary>Cuts every open connection (both sides see a reset).</summary>
    public void DropAll()
    {
        foreach (var (id, pair) in _pairs)
        {
            if (!_pairs.TryRemove(id, out _))
                continue;
            pair.Client.Client.LingerState = new LingerOption(true, 0);
            pair.Client.Close();
            pair.Server.Close();
        }
        Dropped++;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Restore();
        _listener.Stop();
        DropAll();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            if (_refusing)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Close();
                continue;
            }
            _ = Task.Run(async () =>
            {
                var server = new TcpClient();
                try
                {
                    await WhenFlowing().WaitAsync(_stopping.Token);
                    await server.ConnectAsync(Target.Host, Target.Port, _stopping.Token);
                }
                catch (Exception)
                {
                    client.Close();
                    server.Dispose();
                    return;
                }
                var id = Guid.NewGuid();
                _pairs[id] = (client, server);
                await Task.WhenAny(Pump(client, server), Pump(server, client));
                if (_pairs.TryRemove(id, out _))
                {
                    client.Close();
                    server.Close();
                }
            });
        }
    }

    private async Task Pump(TcpClient from, TcpClient to)
    {
        try
        {
            var buffer = new byte[16 * 1024];
            var source = from.GetStream();
            var destination = to.GetStream();
            while (true)
            {
                var read = await source.ReadAsync(buffer, _stopping.Token);
                if (read == 0)
                    return;
                await WhenFlowing().WaitAsync(_stopping.Token);
                if (Latency > TimeSpan.Zero)
                    await Task.Delay(Latency, _stopping.Token);
                await destination.WriteAsync(buffer.AsMemory(0, read), _stopping.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
    }
}
