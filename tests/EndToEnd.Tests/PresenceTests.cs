using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Messaging, Presence and two Gateways as processes, with short presence timings so the tests stay quick.</summary>
public sealed class PresencePlatform : RealtimePlatform
{
    // Long enough for a reconnect's report to reach Presence through the broker on a loaded 2-core CI machine.
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4);

    public ServiceProcess Presence { get; private set; } = null!;

    public ServiceProcess Notifications { get; private set; } = null!;

    protected override IReadOnlyDictionary<string, string?> GatewaySettings => new Dictionary<string, string?>
    {
        ["Realtime:HeartbeatInterval"] = "00:00:00.500",
    };

    protected override async Task<IReadOnlyDictionary<string, string?>> StartMoreServicesAsync(IReadOnlyDictionary<string, string?> common)
    {
        // The test issuer answers client credentials too: both backfill from Messaging's log as in production.
        var clients = ServiceClients.ConversationLogReaders();
        Presence = await ServiceProcess.StartAsync("Presence", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("presence", Messaging.BaseAddress)))
        {
            ["Presence:OfflineGrace"] = Grace.ToString(),
            ["Presence:InstanceTtl"] = Ttl.ToString(),
            ["Presence:SweepInterval"] = "00:00:00.100",
        });
        Notifications = await ServiceProcess.StartAsync("Notifications", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("notifications", Messaging.BaseAddress))));
        return new Dictionary<string, string?>
        {
            ["ReverseProxy:Clusters:presence:Destinations:primary:Address"] = Presence.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:notifications:Destinations:primary:Address"] = Notifications.BaseAddress.ToString(),
        };
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Presence is not null)
            await Presence.DisposeAsync();
        if (Notifications is not null)
            await Notifications.DisposeAsync();
    }
}

/// <summary>Presence as clients see it through the Gateway: devices connecting and disconnecting, watched over the hub.</summary>
public sealed class PresenceTests(PresencePlatform platform) : IClassFixture<PresencePlatform>
{
    private sealed class Watch
    {
        public ConcurrentQueue<(PresenceInfo Presence, TimeSpan At)> Changes { get; } = new();

        public Stopwatch Clock { get; } = Stopwatch.StartNew();

        public Task<(PresenceInfo Presence, TimeSpan At)> NextAsync(Guid userId, string status, TimeSpan timeout) =>
            Eventually.Returns(() => Task.FromResult(Changes.FirstOrDefault(c => c.Presence.UserId == userId && c.Presence.Status == status)),
                c => c.Presence is not null, timeout, $"{userId} is reported {status}");
    }

    private static async Task<RealtimeStream> ConnectAsync(User user)
    {
        await user.Sdk.Realtime.StartAsync();
        return user.Sdk.Realtime;
    }

    [Fact]
    public async Task TwoDevices_WatcherSeesOnlineOnce_AndOfflineOnlyAfterBothCloseAndTheGrace()
    {
        var user = platform.Client(platform.Gateway1.BaseAddress);
        var watcherId = Guid.CreateVersion7();
        await user.Sdk.CreateConversationAsync("direct", [watcherId]);

        var phone = platform.Client(platform.Gateway1.BaseAddress, user.Id);
        var laptop = platform.Client(platform.Gateway2.BaseAddress, user.Id);
        await ConnectAsync(phone);
        await ConnectAsync(laptop);
        var watcher = platform.Client(platform.Gateway2.BaseAddress, watcherId);
        var stream = await ConnectAsync(watcher);
        var watch = new Watch();
        stream.Presence += presence => watch.Changes.Enqueue((presence, watch.Clock.Elapsed));
        var now = await Eventually.Returns(() => stream.WatchPresenceAsync([user.Id]), p => p[0].Status == "online", TimeSpan.FromSeconds(10), "the user is online");

        await phone.Sdk.Realtime.DisposeAsync();
        // The grace is what is under test: nothing may reach the watcher while it passes (Presence runs as a process
        // here, on the real clock; tests/Presence.Tests checks the same on a fake clock with SweepAsync).
        await Task.Delay(PresencePlatform.Grace + TimeSpan.FromSeconds(1));
        Assert.Empty(watch.Changes);
        Assert.Equal("online", (await watcher.Sdk.GetPresenceAsync([user.Id]))[0].Status);

        var closedAt = watch.Clock.Elapsed;
        await laptop.Sdk.Realtime.DisposeAsync();
        var (offline, at) = await watch.NextAsync(user.Id, "offline", TimeSpan.FromSeconds(15));
        Assert.True(at - closedAt >= PresencePlatform.Grace - TimeSpan.FromMilliseconds(200), $"offline after {(at - closedAt).TotalSeconds:0.0} s, before the grace");
        Assert.NotNull(offline.LastActiveAt);
        Assert.Single(watch.Changes);
    }

    [Fact]
    public async Task ReconnectWithinTheGrace_WatcherSeesNoFlap()
    {
        var user = platform.Client(platform.Gateway1.BaseAddress);
        var watcherId = Guid.CreateVersion7();
        await user.Sdk.CreateConversationAsync("direct", [watcherId]);
        await ConnectAsync(user);
        var watcher = platform.Client(platform.Gateway1.BaseAddress, watcherId);
        var stream = await ConnectAsync(watcher);
        await Eventually.Returns(() => stream.WatchPresenceAsync([user.Id]), p => p[0].Status == "online", TimeSpan.FromSeconds(10), "the user is online");
        var watch = new Watch();
        stream.Presence += presence => watch.Changes.Enqueue((presence, watch.Clock.Elapsed));

        // A page reload: the old connection goes, a new one comes a moment later on the other instance.
        await user.Sdk.Realtime.DisposeAsync();
        // The moment a reload takes, and then the grace, are the scenario under test (on the real clock, as above).
        await Task.Delay(500);
        var again = platform.Client(platform.Gateway2.BaseAddress, user.Id);
        await ConnectAsync(again);
        await Task.Delay(PresencePlatform.Grace + TimeSpan.FromSeconds(1.5));

        Assert.Empty(watch.Changes);
        Assert.Equal("online", (await watcher.Sdk.GetPresenceAsync([user.Id]))[0].Status);
    }

    [Fact]
    public async Task GatewayKilled_ItsUsersGoOfflineAfterTheTtl_ForWatchersOnTheOtherInstance()
    {
        // A Gateway of its own, killed without a goodbye.
        var doomed = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = platform.Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = platform.Infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = platform.Issuer.Issuer,
            ["Auth:MetadataAddress"] = platform.Issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = platform.Messaging.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:presence:Destinations:primary:Address"] = platform.Presence.BaseAddress.ToString(),
            ["Realtime:HeartbeatInterval"] = "00:00:00.500",
        });
        await using var _ = doomed;
        var user = platform.Client(doomed.BaseAddress);
        var watcherId = Guid.CreateVersion7();
        await user.Sdk.CreateConversationAsync("direct", [watcherId]);
        await ConnectAsync(user);
        var watcher = platform.Client(platform.Gateway1.BaseAddress, watcherId);
        var stream = await ConnectAsync(watcher);
        await Eventually.Returns(() => stream.WatchPresenceAsync([user.Id]), p => p[0].Status == "online", TimeSpan.FromSeconds(10), "the user is online");
        var watch = new Watch();
        stream.Presence += presence => watch.Changes.Enqueue((presence, watch.Clock.Elapsed));

        var killedAt = watch.Clock.Elapsed;
        await doomed.KillAsync();
        var (_, at) = await watch.NextAsync(user.Id, "offline", TimeSpan.FromSeconds(20));
        Assert.True(at - killedAt >= PresencePlatform.Ttl - TimeSpan.FromSeconds(1), $"offline after {(at - killedAt).TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Status_InvisibleAndDnd_ReachWatchers_AndStrangersSeeUnknown()
    {
        var user = platform.Client(platform.Gateway1.BaseAddress);
        var watcherId = Guid.CreateVersion7();
        var conversation = await user.Sdk.CreateConversationAsync("group", [watcherId], "Team");
        await ConnectAsync(user);
        var watcher = platform.Client(platform.Gateway2.BaseAddress, watcherId);
        var stream = await ConnectAsync(watcher);
        await Eventually.Returns(() => stream.WatchPresenceAsync([user.Id]), p => p[0].Status == "online", TimeSpan.FromSeconds(10), "the user is online");
        var watch = new Watch();
        stream.Presence += presence => watch.Changes.Enqueue((presence, watch.Clock.Elapsed));

        await user.Sdk.SetStatusAsync("invisible");
        await watch.NextAsync(user.Id, "offline", TimeSpan.FromSeconds(10));
        var dnd = await user.Sdk.SetStatusAsync("dnd", "In a meeting");
        Assert.Equal("dnd", dnd.Availability);
        var (online, _) = await watch.NextAsync(user.Id, "online", TimeSpan.FromSeconds(10));
        Assert.Equal(("dnd", "In a meeting"), (online.Availability, online.StatusText));

        var occupancy = await watcher.Sdk.GetOccupancyAsync(conversation.Id);
        Assert.Contains(user.Id, occupancy.Items.Select(i => i.UserId));

        var stranger = platform.Client(platform.Gateway1.BaseAddress);
        Assert.Equal("unknown", (await stranger.Sdk.GetPresenceAsync([user.Id]))[0].Status);
        var strangerStream = await ConnectAsync(stranger);
        Assert.Equal("unknown", (await strangerStream.WatchPresenceAsync([user.Id]))[0].Status);
        var error = await Assert.ThrowsAsync<PlatformException>(() => stranger.Sdk.GetOccupancyAsync(conversation.Id));
        Assert.Equal(404, error.Status);
    }

    [Fact]
    public async Task BatchThroughTheGateway_Takes500IdsInTheUrl_AndRefuses501()
    {
        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", platform.Issuer.CreateToken(Guid.CreateVersion7()));
        var ids = Enumerable.Range(0, 501).Select(_ => Guid.NewGuid()).ToList();

        var answered = await http.GetAsync("api/v1/presence?userIds=" + string.Join(',', ids.Take(500)));
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(500, (await answered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());

        var refused = await http.GetAsync("api/v1/presence?userIds=" + string.Join(',', ids));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task DirectMessage_ArrivesAsALiveNotification_AndInTheFeed_ThroughTheGateway()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("direct", [bob.Id]);
        var stream = await ConnectAsync(bob);
        var live = new TaskCompletionSource<NotificationItem>(TaskCreationOptions.RunContinuationsAsynchronously);
        stream.Notification += notification => live.TrySetResult(notification);

        await alice.Sdk.SendMessageAsync(conversation.Id, "ping through the platform");

        var notification = await live.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("direct-message", notification.Kind);
        Assert.Equal("ping through the platform", notification.Body);
        var feed = await bob.Sdk.GetNotificationsAsync();
        Assert.Equal(notification.Id, Assert.Single(feed.Items).Id);
        Assert.Equal(0, await bob.Sdk.MarkNotificationsReadAsync([notification.Id]));
    }

    [Fact]
    public async Task SendingAMessageThroughAGateway_MovesTheSendersLastActiveTime()
    {
        // Never connected to the hub, so nothing else has made the sender active: their send does, as their Gateway reports it.
        var sender = platform.Client(platform.Gateway1.BaseAddress);
        var member = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await sender.Sdk.CreateConversationAsync("direct", [member.Id]);
        Assert.Null((await member.Sdk.GetPresenceAsync([sender.Id]))[0].LastActiveAt);

        var before = DateTimeOffset.UtcNow;
        await sender.Sdk.SendMessageAsync(conversation.Id, "am I active?");

        var seen = await Eventually.Returns(() => member.Sdk.GetPresenceAsync([sender.Id]), p => p[0].LastActiveAt is not null,
            TimeSpan.FromSeconds(15), "the sender's last-active time is set");
        Assert.InRange(seen[0].LastActiveAt!.Value, before.AddSeconds(-1), DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task WatchPresence_Of501Users_IsRefused_AndTheConnectionStays()
    {
        var user = platform.Client(platform.Gateway1.BaseAddress);
        var stream = await ConnectAsync(user);
        var error = await Assert.ThrowsAsync<HubException>(() => stream.WatchPresenceAsync(Enumerable.Range(0, 501).Select(_ => Guid.NewGuid())));
        Assert.Contains("500", error.Message);
        Assert.Equal(HubConnectionState.Connected, stream.State);
    }
}
