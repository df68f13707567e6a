using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class CallTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static async Task<JsonElement> Call(ChatClient client, string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await client.Http.PostAsync(path, null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode} POST {path}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<JsonElement> Start(ChatClient caller, Guid conversation, string kind = "video", HttpStatusCode expected = HttpStatusCode.Created)
    {
        var response = await caller.Post($"/api/v1/conversations/{conversation}/calls", new { kind });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Guid Id(JsonElement call) => call.GetProperty("id").GetGuid();

    private static List<Guid> Ids(JsonElement call, string property) => call.GetProperty(property).EnumerateArray().Select(e => e.GetGuid()).ToList();

    private static async Task<List<JsonElement>> Log(ChatClient client, Guid conversation) =>
        (await client.Get($"/api/v1/conversations/{conversation}/events?after=0")).GetProperty("items").EnumerateArray().ToList();

    [Fact]
    public async Task Call_StartJoinLeave_RecordsStartAndEndWithDurationAndParticipantsInTheLogAndHistory()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);

        var started = await Start(alice, conversation, "audio");
        Assert.Equal("ringing", started.GetProperty("state").GetString());
        Assert.Equal("audio", started.GetProperty("kind").GetString());
        Assert.Equal([alice.UserId], Ids(started, "joined"));
        Assert.Equal([bob.UserId], Ids(started, "ringing"));
        var ringFor = started.GetProperty("ringsUntil").GetDateTimeOffset() - started.GetProperty("startedAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromSeconds(45), ringFor);

        var joined = await Call(bob, $"/api/v1/calls/{Id(started)}/join");
        Assert.Equal("active", joined.GetProperty("state").GetString());
        Assert.Equal([alice.UserId, bob.UserId], Ids(joined, "joined"));
        Assert.Equal(joined, await bob.Get($"/api/v1/calls/{Id(started)}"), JsonElementComparer.Instance);

        host.Clock.Advance(TimeSpan.FromSeconds(90));
        var ended = await Call(alice, $"/api/v1/calls/{Id(started)}/leave");
        Assert.Equal("ended", ended.GetProperty("state").GetString());
        Assert.Equal("completed", ended.GetProperty("endReason").GetString());
        Assert.InRange(ended.GetProperty("durationSeconds").GetInt64(), 90, 91);

        var log = await Log(bob, conversation);
        var callStarted = log.Single(e => e.GetProperty("type").GetString() == "call.started");
        var callEnded = log.Single(e => e.GetProperty("type").GetString() == "call.ended");
        Assert.Equal(started.GetProperty("startedSeq").GetInt64(), callStarted.GetProperty("seq").GetInt64());
        Assert.Equal(ended.GetProperty("endedSeq").GetInt64(), callEnded.GetProperty("seq").GetInt64());
        Assert.Equal(Id(started), callStarted.GetProperty("data").GetProperty("callId").GetGuid());
        Assert.Equal(alice.UserId, callStarted.GetProperty("actorId").GetGuid());
        var data = callEnded.GetProperty("data");
        Assert.Equal("completed", data.GetProperty("reason").GetString());
        Assert.InRange(data.GetProperty("durationSeconds").GetInt64(), 90, 91);
        Assert.Equal([alice.UserId, bob.UserId], Ids(data, "participants"));

        var history = await bob.Get($"/api/v1/conversations/{conversation}/calls");
        var row = Assert.Single(history.GetProperty("items").EnumerateArray());
        Assert.Equal(Id(started), Id(row));
        Assert.Equal("completed", row.GetProperty("endReason").GetString());
    }

    [Fact]
    public async Task Call_NotAnsweredWithinTheRingTimeout_EndsAsMissed_WhenTheClockMoves()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var call = await Start(alice, conversation);

        host.Clock.Advance(TimeSpan.FromSeconds(44));
        Assert.Equal("ringing", (await bob.Get($"/api/v1/calls/{Id(call)}")).GetProperty("state").GetString());
        host.Clock.Advance(TimeSpan.FromSeconds(2));

        var ended = await Eventually.Returns(() => bob.Get($"/api/v1/calls/{Id(call)}"),
            c => c.GetProperty("state").GetString() == "ended", TimeSpan.FromSeconds(20), "the unanswered call ends");
        Assert.Equal("missed", ended.GetProperty("endReason").GetString());
        Assert.Equal(0, ended.GetProperty("durationSeconds").GetInt64());
        var callEnded = (await Log(bob, conversation)).Single(e => e.GetProperty("type").GetString() == "call.ended");
        Assert.Equal("missed", callEnded.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal(Guid.Empty, callEnded.GetProperty("actorId").GetGuid());
        // Joining a call that ended is a conflict; a new call can start.
        await Call(bob, $"/api/v1/calls/{Id(call)}/join", HttpStatusCode.Conflict);
        Assert.NotEqual(Id(call), Id(await Start(bob, conversation)));
    }

    [Fact]
    public async Task StartCall_WhileACallIsActive_Returns200WithThatCall()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var first = await Start(alice, conversation);

        var second = await Start(bob, conversation, "audio", HttpStatusCode.OK);

        Assert.Equal(Id(first), Id(second));
        Assert.Single(await Log(alice, conversation), e => e.GetProperty("type").GetString() == "call.started");
    }

    [Fact]
    public async Task Decline_ByTheOnlyCallee_EndsTheCallAsDeclined_AndEndByAParticipantCompletes()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = (await alice.Json200(await alice.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } }))).GetProperty("id").GetGuid();

        var declined = await Call(bob, $"/api/v1/calls/{Id(await Start(alice, conversation))}/decline");
        Assert.Equal("ended", declined.GetProperty("state").GetString());
        Assert.Equal("declined", declined.GetProperty("endReason").GetString());
        Assert.Equal([bob.UserId], Ids(declined, "declined"));

        var second = await Start(bob, conversation, "audio");
        await Call(alice, $"/api/v1/calls/{Id(second)}/join");
        var ended = await Call(alice, $"/api/v1/calls/{Id(second)}/end");
        Assert.Equal("completed", ended.GetProperty("endReason").GetString());
        // Ending again changes nothing.
        Assert.Equal(ended.GetProperty("endedSeq").GetInt64(), (await Call(bob, $"/api/v1/calls/{Id(second)}/end")).GetProperty("endedSeq").GetInt64());
        var reasons = (await Log(alice, conversation)).Where(e => e.GetProperty("type").GetString() == "call.ended")
            .Select(e => e.GetProperty("data").GetProperty("reason").GetString()).ToList();
        Assert.Equal(["declined", "completed"], reasons);
    }

    [Fact]
    public async Task End_WithReasonFailed_RecordsFailed()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var call = await Start(alice, conversation);
        await Call(bob, $"/api/v1/calls/{Id(call)}/join");

        var ended = await alice.Json200(await alice.Post($"/api/v1/calls/{Id(call)}/end", new { reason = "failed" }));

        Assert.Equal("failed", ended.GetProperty("endReason").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.Post($"/api/v1/calls/{Id(call)}/end", new { reason = "exploded" })).StatusCode);
    }

    [Fact]
    public async Task Calls_InAConversationIAmNotIn_Are404()
    {
        var alice = host.Client();
        var bob = host.Client();
        var mallory = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var call = await Start(alice, conversation);

        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Post($"/api/v1/conversations/{conversation}/calls", new { kind = "audio" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Http.GetAsync($"/api/v1/calls/{Id(call)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Http.GetAsync($"/api/v1/conversations/{conversation}/calls")).StatusCode);
        foreach (var action in new[] { "join", "leave", "decline", "end" })
            await Call(mallory, $"/api/v1/calls/{Id(call)}/{action}", HttpStatusCode.NotFound);
        await Call(mallory, $"/api/v1/calls/{Guid.NewGuid()}/join", HttpStatusCode.NotFound);
        Assert.Equal("ringing", (await bob.Get($"/api/v1/calls/{Id(call)}")).GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("""{"kind":"hologram"}""")]
    [InlineData("""{"kind":"1"}""")]
    [InlineData("""{}""")]
    [InlineData("""{"kind":""")]
    public async Task StartCall_WithBadInput_Returns400(string body)
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());

        var response = await alice.Http.PostAsync($"/api/v1/conversations/{conversation}/calls", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Join_ANinthParticipant_IsRefusedSayingAnSfuIsNeeded()
    {
        var owner = host.Client();
        var members = Enumerable.Range(0, 8).Select(_ => host.Client()).ToList();
        var conversation = await owner.CreateGroup(members.Select(m => m.UserId).ToArray());
        var call = await Start(owner, conversation);
        foreach (var member in members.Take(7))
            await Call(member, $"/api/v1/calls/{Id(call)}/join");

        var response = await members[7].Http.PostAsync($"/api/v1/calls/{Id(call)}/join", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("SFU", await response.Content.ReadAsStringAsync());
        Assert.Equal(8, Ids(await owner.Get($"/api/v1/calls/{Id(call)}"), "joined").Count);
        // Room again once someone leaves.
        await Call(members[0], $"/api/v1/calls/{Id(call)}/leave");
        await Call(members[7], $"/api/v1/calls/{Id(call)}/join");
    }

    [Fact]
    public async Task IceServers_GiveTurnCredentialsThatVerifyWithTheSharedSecret_AndExpireAfterTheirLifetime()
    {
        var alice = host.Client();
        var now = host.Clock.GetUtcNow();

        var answer = await alice.Get("/api/v1/calls/ice-servers");

        var servers = answer.GetProperty("iceServers").EnumerateArray().ToList();
        Assert.Equal(["stun:stun.test.example:3478"], servers[0].GetProperty("urls").EnumerateArray().Select(u => u.GetString()));
        Assert.False(servers[0].TryGetProperty("username", out _), "STUN servers carry no credentials");
        var turn = servers[1];
        Assert.Equal(2, turn.GetProperty("urls").GetArrayLength());
        var username = turn.GetProperty("username").GetString()!;
        var parts = username.Split(':');
        Assert.Equal(alice.UserId, Guid.Parse(parts[1]));
        var expiry = DateTimeOffset.FromUnixTimeSeconds(long.Parse(parts[0]));
        Assert.InRange(expiry - now, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        Assert.Equal(expiry, answer.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.Equal(3600, answer.GetProperty("ttl").GetInt64());
        var expected = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(MessagingHost.TurnSecret), Encoding.UTF8.GetBytes(username)));
        Assert.Equal(expected, turn.GetProperty("credential").GetString());

        host.Clock.Advance(TimeSpan.FromHours(2));
        var later = (await alice.Get("/api/v1/calls/ice-servers")).GetProperty("iceServers")[1].GetProperty("username").GetString()!;
        Assert.True(long.Parse(later.Split(':')[0]) > host.Clock.GetUtcNow().ToUnixTimeSeconds(), "fresh credentials after the first expired");
        Assert.True(long.Parse(parts[0]) < host.Clock.GetUtcNow().ToUnixTimeSeconds(), "the first credentials have expired");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Factory.CreateClient().GetAsync("/api/v1/calls/ice-servers")).StatusCode);
    }

    [Fact]
    public void IceServerOptions_TurnWithoutASecret_IsRefusedAtStart()
    {
        var problems = IceServerOptions.Problems(new IceServerOptions { TurnUrls = ["turn:x:3478"], StunUrls = ["http://x"] }).ToList();

        Assert.Contains(problems, p => p.Contains("TurnSecret"));
        Assert.Contains(problems, p => p.Contains("StunUrls"));
        Assert.Empty(IceServerOptions.Problems(new IceServerOptions()));
    }

    private static readonly CallsOptions Options = new();
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-01-01T00:00:00Z");

    private static Membership Member(Guid conversation, Guid user) => Membership.Joined(conversation, user, MemberRole.Member, 1, Now);

    [Fact]
    public void Rules_GroupCall_StaysActiveUntilFewerThanTwoRemain_AndLateDeclinesDoNotEndIt()
    {
        var conversation = Guid.NewGuid();
        var (a, b, c) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var view = new ConversationView { Id = conversation, Kind = ConversationKind.Group };
        var call = CallRules.Start(view, Member(conversation, a), null, [a, b, c], CallKind.Video, Guid.NewGuid(), Options, Now).Call!;

        call = CallRules.Join(call, Member(conversation, b), 8, Now.AddSeconds(5)).Call!;
        call = CallRules.Decline(call, Member(conversation, c), Now.AddSeconds(6)).Call!;
        Assert.Equal(CallState.Active, call.State);
        var afterLeave = CallRules.Leave(call, Member(conversation, a), Now.AddSeconds(65));

        var ended = Assert.IsType<CallEnded>(Assert.Single(afterLeave.Events));
        Assert.Equal(CallEndReason.Completed, ended.Reason);
        Assert.Equal(60, ended.DurationSeconds);
        Assert.Equal([a, b], ended.Participants);
        Assert.Equal(CallState.Ringing, CallRules.Expire(call with { State = CallState.Ringing }, Options, Now.AddSeconds(44)).Call!.State);
        Assert.IsType<CallEnded>(Assert.Single(CallRules.Expire(call with { State = CallState.Ringing }, Options, Now.AddSeconds(45)).Events));
        Assert.Empty(CallRules.Expire(call, Options, Now.AddSeconds(45)).Events);
    }

    private sealed class JsonElementComparer : IEqualityComparer<JsonElement>
    {
        public static readonly JsonElementComparer Instance = new();

        public bool Equals(JsonElement x, JsonElement y) => x.GetRawText() == y.GetRawText();

        public int GetHashCode(JsonElement obj) => obj.GetRawText().GetHashCode();
    }
}
