using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Gateway;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.Testing;

namespace Platform.Presence.Tests;

/// <summary>
/// Presence in-process on a fresh database and vhost with a clock that moves only when a test moves it; the test
/// plays the Gateways and Messaging by publishing their events, and watches what Presence publishes.
/// </summary>
public sealed class PresenceHost() : ServiceHost<Program>("Presence")
{
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    public BusProbe<PresenceChanged> Bus { get; private set; } = null!;

    private readonly List<PresenceChanged> _seen = [];

    protected override bool ControlsTime => true;

    protected override async Task StartingAsync() =>
        Bus = Own(await BusProbe<PresenceChanged>.StartAsync(Infrastructure.VirtualHost.ConnectionString));

    protected override void Configure(ServiceFactory<Program> factory) => factory.WithSetting("Presence:SweepInterval", "00:00:00.200");

    /// <summary>Another Presence process on the same database, vhost and clock.</summary>
    public ServiceFactory<Program> NewReplica() => NewFactory();

    public HttpClient Client(Guid userId, ServiceFactory<Program>? replica = null) => UserClient(userId, instance: replica);

    public Task PublishAsync<T>(T message) where T : class => Bus.PublishAsync(message);

    public Task OpenAsync(Guid userId, string connectionId, string instanceId, string deviceKind = "web") => Bus.PublishAsync(new ConnectionOpened
    {
        ConnectionId = connectionId, UserId = userId, InstanceId = instanceId, DeviceKind = deviceKind, OpenedAt = Clock.GetUtcNow(),
    });

    public Task CloseAsync(Guid userId, string connectionId, string instanceId) => Bus.PublishAsync(new ConnectionClosed
    {
        ConnectionId = connectionId, UserId = userId, InstanceId = instanceId, ClosedAt = Clock.GetUtcNow(),
    });

    /// <summary>A heartbeat of the instance, returning once Presence has recorded it.</summary>
    public async Task HeartbeatAsync(string instanceId, bool stopping = false)
    {
        var at = Clock.GetUtcNow();
        await Bus.PublishAsync(new InstanceHeartbeat { InstanceId = instanceId, LiveConnections = 1, SentAt = at, Stopping = stopping });
        await Eventually.Returns(async () =>
        {
            await using var connection = new NpgsqlConnection(Infrastructure.Database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT last_heartbeat_at, stopped FROM presence.instances WHERE instance_id = $1", connection)
            {
                Parameters = { new() { Value = instanceId } },
            };
            await using var reader = await command.ExecuteReaderAsync();
            return await reader.ReadAsync() && reader.GetFieldValue<DateTimeOffset>(0) >= at && reader.GetBoolean(1) == stopping;
        }, recorded => recorded, TimeSpan.FromSeconds(10), $"the heartbeat of {instanceId} is recorded");
    }

    /// <summary>
    /// One pass of the presence sweeper now, at the fake clock's time (the background sweeper runs too; both are
    /// idempotent): after it, every transition due by now has been made, so a status that should not change can be
    /// asserted at once instead of after a pause.
    /// </summary>
    public Task SweepAsync() =>
        Factory.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<PresenceSweeper>().Single().SweepAsync(CancellationToken.None);

    /// <summary>Publishes a conversation's creation with these members, as Messaging does, and waits until Presence knows it.</summary>
    public async Task<Guid> ShareConversationAsync(params Guid[] members)
    {
        var conversationId = Guid.CreateVersion7();
        await Bus.PublishAsync(Event(conversationId, 1, ConversationEventTypes.ConversationCreated, members[0],
            new { id = conversationId, kind = "group", members = members.Select(m => new { userId = m, role = "member" }) }));
        using var http = Client(members[0]);
        await Eventually.Returns(() => http.GetAsync($"/api/v1/conversations/{conversationId}/occupancy"), r => r.IsSuccessStatusCode,
            TimeSpan.FromSeconds(10), "Presence learnt the conversation");
        return conversationId;
    }

    public static ConversationEvent Event(Guid conversationId, long seq, string type, Guid actorId, object data) => new()
    {
        EventId = Guid.CreateVersion7(),
        ConversationId = conversationId,
        Seq = seq,
        Type = type,
        OccurredAt = DateTimeOffset.UtcNow,
        ActorId = actorId,
        Data = JsonSerializer.SerializeToElement(data, JsonSerializerOptions.Web),
    };

    /// <summary>The presence of <paramref name="userId"/> as <paramref name="viewer"/> sees it.</summary>
    public async Task<JsonElement> PresenceAsync(Guid viewer, Guid userId, ServiceFactory<Program>? replica = null)
    {
        using var http = Client(viewer, replica);
        var body = await http.GetFromJsonAsync<JsonElement>($"/api/v1/presence?userIds={userId}");
        return body.GetProperty("items")[0];
    }

    public async Task<string> StatusAsync(Guid viewer, Guid userId, ServiceFactory<Program>? replica = null) =>
        (await PresenceAsync(viewer, userId, replica)).GetProperty("status").GetString()!;

    public Task WaitForStatusAsync(Guid viewer, Guid userId, string status) =>
        Eventually.Returns(() => StatusAsync(viewer, userId), s => s == status, TimeSpan.FromSeconds(10), $"{userId} shows {status}");

    /// <summary>The open connections Presence counts for the user (waits until it is <paramref name="count"/>).</summary>
    public Task WaitForDevicesAsync(Guid userId, int count) => Eventually.Returns(async () =>
    {
        using var http = Client(userId);
        return (await http.GetFromJsonAsync<JsonElement>("/api/v1/presence/me")).GetProperty("devices").GetArrayLength();
    }, n => n == count, TimeSpan.FromSeconds(10), $"{userId} has {count} devices");

    /// <summary>Every change published for the user so far (waits <paramref name="quiet"/> for stragglers).</summary>
    public async Task<IReadOnlyList<PresenceChanged>> ChangesAsync(Guid userId, TimeSpan? quiet = null)
    {
        var arrived = await Bus.DrainAsync(quiet ?? TimeSpan.FromMilliseconds(700));
        lock (_seen)
        {
            _seen.AddRange(arrived);
            return _seen.Where(c => c.UserId == userId).OrderBy(c => c.Version).ToList();
        }
    }
}
