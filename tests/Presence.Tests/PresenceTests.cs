using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts.Gateway;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Presence.Tests;

public sealed class PresenceTests(PresenceHost host) : IClassFixture<PresenceHost>
{
    private static string Instance() => "gw-" + Guid.NewGuid().ToString("N")[..12];

    private static string Connection() => Guid.NewGuid().ToString("N");

    [Fact]
    public async Task TwoDevices_OnlineWhileEitherIsConnected_OfflineOnlyAfterBothClosePlusTheGrace()
    {
        var user = Guid.CreateVersion7();
        var instance = Instance();
        string phone = Connection(), laptop = Connection();
        await host.OpenAsync(user, phone, instance, "mobile");
        await host.OpenAsync(user, laptop, instance, "desktop");
        await host.WaitForDevicesAsync(user, 2);
        Assert.Equal("online", await host.StatusAsync(user, user));

        await host.CloseAsync(user, phone, instance);
        await host.WaitForDevicesAsync(user, 1);
        host.Clock.Advance(PresenceHost.Grace * 2);
        await host.HeartbeatAsync(instance);
        await host.SweepAsync();
        Assert.Equal("online", await host.StatusAsync(user, user));

        await host.CloseAsync(user, laptop, instance);
        await host.WaitForDevicesAsync(user, 0);
        host.Clock.Advance(PresenceHost.Grace - TimeSpan.FromSeconds(2));
        await host.SweepAsync();
        Assert.Equal("online", await host.StatusAsync(user, user));

        host.Clock.Advance(TimeSpan.FromSeconds(3));
        await host.WaitForStatusAsync(user, user, "offline");
        var changes = await host.ChangesAsync(user);
        Assert.Equal(["online", "offline"], changes.Select(c => c.Status));
        Assert.NotNull(changes[1].LastActiveAt);
    }

    [Fact]
    public async Task ReconnectWithinTheGrace_MakesNoOfflineOnlineFlap()
    {
        var user = Guid.CreateVersion7();
        var instance = Instance();
        var first = Connection();
        await host.OpenAsync(user, first, instance);
        await host.WaitForStatusAsync(user, user, "online");

        await host.CloseAsync(user, first, instance);
        await host.WaitForDevicesAsync(user, 0);
        host.Clock.Advance(TimeSpan.FromSeconds(5));
        await host.OpenAsync(user, Connection(), instance);
        await host.WaitForDevicesAsync(user, 1);
        host.Clock.Advance(PresenceHost.Grace * 2);
        await host.HeartbeatAsync(instance);
        await host.SweepAsync();

        Assert.Equal("online", await host.StatusAsync(user, user));
        Assert.Equal(["online"], (await host.ChangesAsync(user)).Select(c => c.Status));
    }

    [Fact]
    public async Task InstanceThatStopsHeartbeating_ItsUsersGoOfflineAfterTheTtl()
    {
        var (alive, dying) = (Instance(), Instance());
        Guid stays = Guid.CreateVersion7(), lost = Guid.CreateVersion7();
        await host.OpenAsync(stays, Connection(), alive);
        await host.OpenAsync(lost, Connection(), dying);
        await host.HeartbeatAsync(alive);
        await host.HeartbeatAsync(dying);
        await host.WaitForStatusAsync(lost, lost, "online");

        host.Clock.Advance(PresenceHost.Ttl - TimeSpan.FromSeconds(5));
        await host.HeartbeatAsync(alive);
        await host.SweepAsync();
        Assert.Equal("online", await host.StatusAsync(lost, lost));

        host.Clock.Advance(TimeSpan.FromSeconds(6));
        await host.HeartbeatAsync(alive);
        await host.WaitForStatusAsync(lost, lost, "offline");
        Assert.Equal("online", await host.StatusAsync(stays, stays));
        var went = (await host.ChangesAsync(lost)).Last();
        Assert.Equal("offline", went.Status);
    }

    [Fact]
    public async Task InstanceThatSaysItStops_ItsUsersGoOfflineAfterTheGraceUnlessTheyReconnectElsewhere()
    {
        var (stopping, other) = (Instance(), Instance());
        Guid moves = Guid.CreateVersion7(), leaves = Guid.CreateVersion7();
        await host.OpenAsync(moves, Connection(), stopping);
        await host.OpenAsync(leaves, Connection(), stopping);
        await host.WaitForDevicesAsync(moves, 1);
        await host.WaitForDevicesAsync(leaves, 1);

        await host.HeartbeatAsync(stopping, stopping: true);
        await host.OpenAsync(moves, Connection(), other);
        await host.WaitForDevicesAsync(moves, 1);
        host.Clock.Advance(PresenceHost.Grace + TimeSpan.FromSeconds(1));
        await host.HeartbeatAsync(other);

        await host.WaitForStatusAsync(leaves, leaves, "offline");
        Assert.Equal("online", await host.StatusAsync(moves, moves));
        Assert.Equal(["online"], (await host.ChangesAsync(moves)).Select(c => c.Status));
    }

    [Fact]
    public async Task DuplicateAndReorderedConnectionEvents_LeaveTheStateRight()
    {
        var user = Guid.CreateVersion7();
        var instance = Instance();
        var connection = Connection();
        var openedAt = host.Clock.GetUtcNow();
        var opened = new ConnectionOpened { ConnectionId = connection, UserId = user, InstanceId = instance, DeviceKind = "web", OpenedAt = openedAt };
        var closed = new ConnectionClosed { ConnectionId = connection, UserId = user, InstanceId = instance, ClosedAt = openedAt.AddSeconds(1) };

        // The closing overtakes the opening, and both arrive twice.
        await Consumed.WhenAsync<ConnectionClosed>(host.Factory.Services, c => c.ConnectionId == connection, count: 2, async () =>
        {
            await host.PublishAsync(closed);
            await host.PublishAsync(closed);
        });
        await Consumed.WhenAsync<ConnectionOpened>(host.Factory.Services, o => o.ConnectionId == connection, count: 2, async () =>
        {
            await host.PublishAsync(opened);
            await host.PublishAsync(opened);
        });
        await host.WaitForDevicesAsync(user, 0);
        Assert.Equal("offline", await host.StatusAsync(user, user));

        // A second connection opened twice counts once: one closing ends it.
        var second = Connection();
        var openedTwice = opened with { ConnectionId = second };
        await host.PublishAsync(openedTwice);
        await host.PublishAsync(openedTwice);
        await host.WaitForDevicesAsync(user, 1);
        await host.PublishAsync(closed with { ConnectionId = second });
        await host.WaitForDevicesAsync(user, 0);
        host.Clock.Advance(PresenceHost.Grace + TimeSpan.FromSeconds(1));
        await host.HeartbeatAsync(instance);
        await host.WaitForStatusAsync(user, user, "offline");

        Assert.Equal(["online", "offline"], (await host.ChangesAsync(user)).Select(c => c.Status));
    }

    [Fact]
    public async Task InvisibleStatus_ShowsOfflineToOthers_AndTheUserTheirOwnSetting()
    {
        Guid me = Guid.CreateVersion7(), friend = Guid.CreateVersion7();
        await host.ShareConversationAsync(me, friend);
        var instance = Instance();
        await host.OpenAsync(me, Connection(), instance);
        await host.WaitForStatusAsync(friend, me, "online");

        using var http = host.Client(me);
        var set = await http.PutAsJsonAsync("/api/v1/presence/me", new { status = "invisible" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("offline", await host.StatusAsync(friend, me));
        var mine = await http.GetFromJsonAsync<JsonElement>("/api/v1/presence/me");
        Assert.Equal("invisible", mine.GetProperty("availability").GetString());
        Assert.Equal(1, mine.GetProperty("devices").GetArrayLength());

        await http.PutAsJsonAsync("/api/v1/presence/me", new { status = "dnd", statusText = "Focusing" });
        var seen = await host.PresenceAsync(friend, me);
        Assert.Equal("online", seen.GetProperty("status").GetString());
        Assert.Equal("dnd", seen.GetProperty("availability").GetString());
        Assert.Equal("Focusing", seen.GetProperty("statusText").GetString());

        Assert.Equal(["online", "offline", "online"], (await host.ChangesAsync(me)).Select(c => c.Status));
    }

    [Fact]
    public async Task StatusWithAnExpiry_FallsBackToAvailableWhenItExpires()
    {
        var me = Guid.CreateVersion7();
        await host.OpenAsync(me, Connection(), Instance());
        await host.WaitForStatusAsync(me, me, "online");
        using var http = host.Client(me);
        var set = await http.PutAsJsonAsync("/api/v1/presence/me",
            new { status = "away", statusText = "Lunch", expiresAt = host.Clock.GetUtcNow().AddSeconds(5) });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("away", (await host.PresenceAsync(me, me)).GetProperty("availability").GetString());

        host.Clock.Advance(TimeSpan.FromSeconds(6));
        await Eventually.Returns(() => host.PresenceAsync(me, me), p => p.GetProperty("availability").GetString() == "available",
            TimeSpan.FromSeconds(10), "the status expired");
        Assert.Equal(JsonValueKind.Null, (await host.PresenceAsync(me, me)).GetProperty("statusText").ValueKind);
    }

    [Fact]
    public async Task Privacy_OnlyUsersWhoShareAConversationOrAContactSeePresence()
    {
        Guid target = Guid.CreateVersion7(), member = Guid.CreateVersion7(), contact = Guid.CreateVersion7(), stranger = Guid.CreateVersion7();
        await host.OpenAsync(target, Connection(), Instance());
        var conversation = await host.ShareConversationAsync(target, member);
        await host.WaitForStatusAsync(target, target, "online");

        Assert.Equal("online", await host.StatusAsync(member, target));
        Assert.Equal("unknown", await host.StatusAsync(stranger, target));
        Assert.Equal("unknown", await host.StatusAsync(contact, target));

        // A contact relation, in either direction, shows presence; removing it hides it again.
        await host.PublishAsync(new ContactsChanged { OwnerId = contact, Added = [target], ChangedAt = DateTimeOffset.UtcNow });
        await host.WaitForStatusAsync(contact, target, "online");
        Assert.Equal("offline", await host.StatusAsync(target, contact));
        await host.PublishAsync(new ContactsChanged { OwnerId = contact, Removed = [target], ChangedAt = DateTimeOffset.UtcNow });
        await host.WaitForStatusAsync(contact, target, "unknown");

        // Leaving the conversation ends the sharing; the stranger never learns anything, not even last active.
        await host.PublishAsync(PresenceHost.Event(conversation, 2, ConversationEventTypes.MemberLeft, member, new { userId = member }));
        await host.WaitForStatusAsync(member, target, "unknown");
        var hidden = await host.PresenceAsync(stranger, target);
        Assert.Equal(JsonValueKind.Null, hidden.GetProperty("lastActiveAt").ValueKind);

        // A late duplicate of the joining (older seq) does not bring the member back.
        var late = PresenceHost.Event(conversation, 1, ConversationEventTypes.ConversationCreated, target,
            new { members = new[] { new { userId = target }, new { userId = member } } });
        await Consumed.WhenAsync<ConversationEvent>(host.Factory.Services, e => e.EventId == late.EventId, count: 1, () => host.PublishAsync(late));
        Assert.Equal("unknown", await host.StatusAsync(member, target));
    }

    [Fact]
    public async Task Occupancy_ListsTheMembersOnlineNow_ForMembersOnly()
    {
        Guid a = Guid.CreateVersion7(), b = Guid.CreateVersion7(), c = Guid.CreateVersion7(), outsider = Guid.CreateVersion7();
        var conversation = await host.ShareConversationAsync(a, b, c);
        var instance = Instance();
        await host.OpenAsync(a, Connection(), instance);
        await host.OpenAsync(b, Connection(), instance);
        await host.WaitForStatusAsync(a, b, "online");
        await host.WaitForStatusAsync(a, a, "online");

        using var http = host.Client(c);
        var occupancy = await http.GetFromJsonAsync<JsonElement>($"/api/v1/conversations/{conversation}/occupancy");
        Assert.Equal(3, occupancy.GetProperty("members").GetInt32());
        Assert.Equal(2, occupancy.GetProperty("online").GetInt32());
        Assert.Equal(new[] { a, b }.Order(), occupancy.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("userId").GetGuid()).Order());

        using var stranger = host.Client(outsider);
        var refused = await stranger.GetAsync($"/api/v1/conversations/{conversation}/occupancy");
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task LastActive_MovesWithActivity_AndSurvivesARestart()
    {
        Guid me = Guid.CreateVersion7(), friend = Guid.CreateVersion7();
        var conversation = await host.ShareConversationAsync(me, friend);
        var typedAt = host.Clock.GetUtcNow();
        await host.PublishAsync(new TypingChanged { ConversationId = conversation, UserId = me, InstanceId = "gw", StartedAt = typedAt, ExpiresAt = typedAt.AddSeconds(5) });
        var seen = await Eventually.Returns(() => host.PresenceAsync(friend, me), p => p.GetProperty("lastActiveAt").ValueKind != JsonValueKind.Null,
            TimeSpan.FromSeconds(10), "typing counts as activity");
        Assert.Equal(typedAt, seen.GetProperty("lastActiveAt").GetDateTimeOffset(), TimeSpan.FromMilliseconds(1));

        host.Clock.Advance(TimeSpan.FromMinutes(1));
        var postedAt = host.Clock.GetUtcNow();
        // A message sent through a Gateway, as it reports its senders.
        await host.PublishAsync(new UsersActive { InstanceId = "gw", Items = [new UserActivity { UserId = me, At = postedAt }] });
        await Eventually.Returns(() => host.PresenceAsync(friend, me), p => p.GetProperty("lastActiveAt").GetDateTimeOffset() >= postedAt.AddMilliseconds(-1),
            TimeSpan.FromSeconds(10), "sending counts as activity");

        // A fresh process on the same store answers the same.
        await using var restarted = host.NewReplica();
        var after = await host.PresenceAsync(friend, me, restarted);
        Assert.Equal(postedAt, after.GetProperty("lastActiveAt").GetDateTimeOffset(), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task ActivityFromSeveralGateways_EachUsersLatestTimeCounts_AndAJoinShowsTheNewcomersActivity()
    {
        // The Gateways report the senders of messages in batches; a later time counts, an earlier one delivered late does not.
        Guid viewer = Guid.CreateVersion7(), first = Guid.CreateVersion7(), second = Guid.CreateVersion7(), newcomer = Guid.CreateVersion7();
        var conversation = await host.ShareConversationAsync(viewer, first, second);
        var now = host.Clock.GetUtcNow();
        UsersActive Report(string gateway, params (Guid UserId, int SecondsAgo)[] items) => new()
        {
            InstanceId = gateway, Items = items.Select(item => new UserActivity { UserId = item.UserId, At = now.AddSeconds(-item.SecondsAgo) }).ToList(),
        };
        var reports = new[]
        {
            Report("gw-1", (first, 50), (second, 40)),
            Report("gw-2", (first, 10), (newcomer, 5)),
            Report("gw-1", (first, 30)),
        };
        await Consumed.WhenAsync<UsersActive>(host.Factory.Services, report => report.Items.Any(item => item.UserId == first || item.UserId == newcomer), count: reports.Length,
            () => Task.WhenAll(reports.Select(host.PublishAsync)));
        await Consumed.WhenAsync<ConversationEvent>(host.Factory.Services, e => e.ConversationId == conversation && e.Seq == 2, count: 1,
            () => host.PublishAsync(PresenceHost.Event(conversation, 2, ConversationEventTypes.MemberJoined, newcomer, new { userId = newcomer })));

        DateTimeOffset LastActive(JsonElement presence) => presence.GetProperty("lastActiveAt").GetDateTimeOffset();
        Assert.Equal(now.AddSeconds(-10), LastActive(await host.PresenceAsync(viewer, first)), TimeSpan.FromMilliseconds(1));
        Assert.Equal(now.AddSeconds(-40), LastActive(await host.PresenceAsync(viewer, second)), TimeSpan.FromMilliseconds(1));
        // The join was applied: the newcomer's presence is visible to the other members, with their activity.
        Assert.Equal(now.AddSeconds(-5), LastActive(await host.PresenceAsync(viewer, newcomer)), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task TwoReplicas_AnswerAlike_AndPublishEachTransitionOnce()
    {
        await using var second = host.NewReplica();
        using (var ready = second.CreateClient())
            await Readiness.WaitUntilConsumingAsync(ready, "the second replica");

        var users = Enumerable.Range(0, 6).Select(_ => Guid.CreateVersion7()).ToList();
        var instance = Instance();
        var connections = users.ToDictionary(u => u, _ => Connection());
        foreach (var user in users)
            await host.OpenAsync(user, connections[user], instance);
        foreach (var user in users)
        {
            await host.WaitForStatusAsync(user, user, "online");
            Assert.Equal("online", await host.StatusAsync(user, user, second));
        }

        foreach (var user in users)
            await host.CloseAsync(user, connections[user], instance);
        foreach (var user in users)
            await host.WaitForDevicesAsync(user, 0);
        host.Clock.Advance(PresenceHost.Grace + TimeSpan.FromSeconds(1));
        await host.HeartbeatAsync(instance);
        foreach (var user in users)
        {
            await host.WaitForStatusAsync(user, user, "offline");
            Assert.Equal("offline", await host.StatusAsync(user, user, second));
        }
        foreach (var user in users)
            Assert.Equal(["online", "offline"], (await host.ChangesAsync(user, TimeSpan.FromMilliseconds(300))).Select(c => c.Status));
    }

    [Theory]
    [InlineData("/api/v1/presence")]
    [InlineData("/api/v1/presence?userIds=not-a-guid")]
    [InlineData("/api/v1/presence?userIds=,")]
    public async Task BadBatchRequests_Answer400ProblemDetails(string path)
    {
        using var http = host.Client(Guid.CreateVersion7());
        var response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Batch_Of501Ids_Is400_Of500IsAnswered_UnknownIdsAreUnknown()
    {
        using var http = host.Client(Guid.CreateVersion7());
        var ids = Enumerable.Range(0, 501).Select(_ => Guid.NewGuid()).ToList();
        var tooMany = await http.PostAsJsonAsync("/api/v1/presence/query", new { userIds = ids });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);

        var answered = await http.GetFromJsonAsync<JsonElement>("/api/v1/presence?userIds=" + string.Join(',', ids.Take(500)));
        var items = answered.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(500, items.Count);
        Assert.All(items, item => Assert.Equal("unknown", item.GetProperty("status").GetString()));
        Assert.Equal(ids.Take(500), items.Select(i => i.GetProperty("userId").GetGuid()));
    }

    [Theory]
    [InlineData("""{"status":"busy"}""")]
    [InlineData("""{"statusText":"no status"}""")]
    [InlineData("""{"status":"away","expiresAt":"2001-01-01T00:00:00Z"}""")]
    [InlineData("""{"status":"away","unexpected":1}""")]
    [InlineData("""{"status":"away","statusText":"line\u0007bell"}""")]
    public async Task BadStatus_Is400_AndKeepsTheStoredOne(string body)
    {
        var me = Guid.CreateVersion7();
        using var http = host.Client(me);
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/api/v1/presence/me", new { status = "dnd", statusText = "Deep work" })).StatusCode);

        var response = await http.PutAsync("/api/v1/presence/me", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var mine = await http.GetFromJsonAsync<JsonElement>("/api/v1/presence/me");
        Assert.Equal("dnd", mine.GetProperty("availability").GetString());
        Assert.Equal("Deep work", mine.GetProperty("statusText").GetString());
    }

    [Fact]
    public async Task WithoutAToken_Is401()
    {
        using var http = host.Factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync($"/api/v1/presence?userIds={Guid.NewGuid()}")).StatusCode);
    }
}
