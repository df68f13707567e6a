using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Platform.Testing;

/// <summary>
/// A TCP relay on loopback in front of a server, for tests of dropped connections: <see cref="DropAll"/> cuts every
/// connection passing through it at once, as a network failure would; new connections are accepted as before.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Guid, (TcpClient Client, TcpClient Server)> _pairs = new();
    private readonly Task _accepting;

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
        _listener.Stop();
        DropAll();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            _ = Task.Run(async () =>
            {
                var server = new TcpClient();
                try
                {
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

    private static async Task Pump(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream());
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
    }
}
