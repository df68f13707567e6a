using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Platform.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Platform.Benchmarks;

/// <summary>
/// What the same machine does without the platform, measured in the same run: the floor each of our figures is
/// compared with. All open loop at the given rate with the same payload size.
/// </summary>
internal static class Baselines
{
    /// <summary>
    /// B0: a TCP round trip of the payload on loopback (send, echo, receive), back to back (cores busy) or, with a
    /// rate, open loop (cores idle between round trips: what waking a halted core costs on this machine, once per hop).
    /// </summary>
    public static async Task<Latency> TcpRoundTripAsync(int count, int size, double? rate = null)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var echo = Task.Run(async () =>
        {
            using var server = await listener.AcceptTcpClientAsync();
            server.NoDelay = true;
            var stream = server.GetStream();
            var buffer = new byte[size];
            for (var i = 0; i < count; i++)
            {
                await stream.ReadExactlyAsync(buffer);
                await stream.WriteAsync(buffer);
            }
        });
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var network = client.GetStream();
        var payload = new byte[size];
        var reply = new byte[size];
        var latency = new Latency();
        if (rate is { } perSecond)
            await OpenLoop.RunAsync(perSecond, count, async (_, scheduled) =>
            {
                // One round trip at a time: the next starts long after this one ends at these rates.
                await network.WriteAsync(payload);
                await network.ReadExactlyAsync(reply);
                latency.Record(Stopwatch.GetTimestamp() - scheduled);
            });
        else
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await network.WriteAsync(payload);
                await network.ReadExactlyAsync(reply);
                latency.Record(Stopwatch.GetTimestamp() - start);
            }
        await echo;
        return latency;
    }

    public sealed class BareHub : Hub
    {
        public string Echo(string text) => text;

        public Task Join(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

        public Task Broadcast(string group, long sentAt, string text) => Clients.Group(group).SendAsync("message", sentAt, text);
    }

    /// <summary>A bare SignalR server on loopback: no storage, no broker, no authentication.</summary>
    public static async Task<(WebApplication App, Uri Address)> StartBareHubAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(LoopbackServer.HostOptions);
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSignalR().AddMessagePackProtocol();
        var app = builder.Build();
        app.MapHub<BareHub>("/bare");
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        return (app, address);
    }

    /// <summary>B1: a SignalR invocation round trip on a bare hub (what the hub protocol and WebSockets cost).</summary>
    public static async Task<Latency> SignalREchoAsync(Uri hub, int count, int size, double rate, bool messagePack)
    {
        await using var connection = Connect(hub, messagePack);
        await connection.StartAsync();
        var text = new string('x', size);
        var latency = new Latency();
        await OpenLoop.RunAsync(rate, count, async (_, scheduled) =>
        {
            await connection.InvokeAsync<string>("Echo", text);
            latency.Record(Stopwatch.GetTimestamp() - scheduled);
        });
        return latency;
    }

    /// <summary>B1g: one sender broadcasting to a group of <paramref name="members"/> connections on a bare hub.</summary>
    public static async Task<(Latency Latency, double DeliveriesPerSecond)> SignalRBroadcastAsync(Uri hub, int members, int messages, double rate, int size, bool messagePack)
    {
        var group = "room-" + members;
        var latency = new Latency();
        var received = 0L;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var expected = (long)members * messages;
        var connections = new List<HubConnection>();
        for (var i = 0; i < members; i++)
        {
            var connection = Connect(hub, messagePack);
            connection.On<long, string>("message", (sentAt, _) =>
            {
                latency.Record(Stopwatch.GetTimestamp() - sentAt);
                if (Interlocked.Increment(ref received) == expected)
                    all.TrySetResult();
            });
            connections.Add(connection);
        }
        await Parallel.ForEachAsync(connections, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (connection, _) =>
        {
            await connection.StartAsync();
            await connection.InvokeAsync("Join", group);
        });
        await using var sender = Connect(hub, messagePack);
        await sender.StartAsync();
        var text = new string('x', size);
        var started = Stopwatch.GetTimestamp();
        await OpenLoop.RunAsync(rate, messages, (_, scheduled) => sender.InvokeAsync("Broadcast", group, scheduled, text));
        await Task.WhenAny(all.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        var seconds = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
        foreach (var connection in connections)
            await connection.DisposeAsync();
        return (latency, Interlocked.Read(ref received) / seconds);
    }

    /// <summary>B2: one row of the payload inserted and committed (durable: fsync and synchronous commit on).</summary>
    public static async Task<Latency> PostgresInsertAsync(string connectionString, int count, int size, double rate)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var create = dataSource.CreateCommand("CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, body text NOT NULL)"))
            await create.ExecuteNonQueryAsync();
        var text = new string('x', size);
        var latency = new Latency();
        await OpenLoop.RunAsync(rate, count, async (_, scheduled) =>
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand("INSERT INTO bench_baseline (body) VALUES ($1)", connection, transaction) { Parameters = { new() { Value = text } } })
                await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
            latency.Record(Stopwatch.GetTimestamp() - scheduled);
        });
        return latency;
    }

    /// <summary>B3: publish with publisher confirms to a durable queue, consumed by a consumer on the same machine.</summary>
    public static async Task<Latency> RabbitMqAsync(string amqpUri, int count, int size, double rate)
    {
        var factory = new ConnectionFactory { Uri = new Uri(amqpUri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await using var consumerChannel = await connection.CreateChannelAsync();
        var queue = "bench-baseline-" + Guid.NewGuid().ToString("N")[..8];
        await publisher.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: true);
        var latency = new Latency();
        var received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new AsyncEventingBasicConsumer(consumerChannel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            var sentAt = BitConverter.ToInt64(delivery.Body.Span[..8]);
            latency.Record(Stopwatch.GetTimestamp() - sentAt);
            if (Interlocked.Increment(ref received) == count)
                done.TrySetResult();
            return Task.CompletedTask;
        };
        await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);
        var properties = new BasicProperties { Persistent = true };
        await OpenLoop.RunAsync(rate, count, async (_, scheduled) =>
        {
            var body = new byte[Math.Max(8, size)];
            BitConverter.TryWriteBytes(body, scheduled);
            await publisher.BasicPublishAsync("", queue, mandatory: false, properties, body);
        });
        await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        return latency;
    }

    /// <summary>The disk's fsync latency: 8 kB written and fsynced, as PostgreSQL's WAL does, in the PostgreSQL data folder.</summary>
    public static Latency Fsync(string folder, int count)
    {
        var path = Path.Combine(folder, "fsync-probe.bin");
        var latency = new Latency();
        var block = new byte[8192];
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                file.Write(block);
                file.Flush(flushToDisk: true);
                latency.Record(Stopwatch.GetTimestamp() - start);
            }
        File.Delete(path);
        return latency;
    }

    private static HubConnection Connect(Uri hub, bool messagePack)
    {
        var builder = new HubConnectionBuilder().WithUrl(new Uri(hub, "bare"), options =>
        {
            options.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            options.SkipNegotiation = true;
        });
        if (messagePack)
            builder.AddMessagePackProtocol();
        return builder.Build();
    }

    public static string Payload(int size) => Encoding.ASCII.GetString(Enumerable.Repeat((byte)'x', size).ToArray());
}
