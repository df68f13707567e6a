using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Calls through the Gateways: signaling between participants on different instances, its refusals, and two real browsers.</summary>
public sealed class CallTests(CallPlatform platform) : IClassFixture<CallPlatform>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Channel<CallSignalNotice> Signals(User user)
    {
        var signals = Channel.CreateUnbounded<CallSignalNotice>();
        user.Sdk.Realtime.Signal += signal => signals.Writer.TryWrite(signal);
        return signals;
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public async Task Signal_BetweenParticipantsOnDifferentGatewayInstances_IsRelayedBothWays_JsonAndMessagePack()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress, messagePack: true);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "call");
        var toBob = Signals(bob);
        var toAlice = Signals(alice);
        await alice.Sdk.Realtime.StartAsync();
        await bob.Sdk.Realtime.StartAsync();
        var call = await alice.Sdk.StartCallAsync(conversation.Id, "video");

        // Bob is still ringing: the caller's offer reaches him.
        var offer = Json("""{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","nested":{"list":[1,2.5,true,null,"x"]}}""");
        await alice.Sdk.Realtime.SignalAsync(call.Id, bob.Id, offer);
        var atBob = await toBob.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(call.Id, atBob.CallId);
        Assert.Equal(alice.Id, atBob.FromUserId);
        Assert.True(JsonElement.DeepEquals(offer, atBob.Payload), atBob.Payload.GetRawText());

        await bob.Sdk.JoinCallAsync(call.Id);
        var answer = Json("""{"type":"answer","sdp":"v=0\r\n"}""");
        await bob.Sdk.Realtime.SignalAsync(call.Id, alice.Id, answer);
        await bob.Sdk.Realtime.SignalAsync(call.Id, alice.Id, "a plain string payload");
        var atAlice = await toAlice.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(bob.Id, atAlice.FromUserId);
        Assert.True(JsonElement.DeepEquals(answer, atAlice.Payload), atAlice.Payload.GetRawText());
        Assert.Equal("a plain string payload", (await toAlice.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).Payload.GetString());
    }

    [Fact]
    public async Task Sdk_CallLifecycle_RingsThroughTheEventStreamOnAnotherInstance_AndShowsInHistory()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "call");
        await bob.Sdk.Realtime.StartAsync();

        var declined = await alice.Sdk.StartCallAsync(conversation.Id, "video");
        Assert.Equal(declined.Id, (await bob.Sdk.StartCallAsync(conversation.Id, "audio")).Id);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new List<ConversationEvent>();
        try
        {
            await foreach (var e in bob.Sdk.Realtime.ReadEventsAsync(timeout.Token))
            {
                events.Add(e);
                if (e.Type == EventTypes.CallStarted)
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            var log = await bob.Sdk.GetEventsAsync(conversation.Id, 0);
            Assert.Fail($"call.started did not reach bob's stream within 60 s (state {bob.Sdk.Realtime.State}, reconnects " +
                $"{bob.Sdk.Realtime.Reconnects}); received [{string.Join(", ", events.Select(e => $"{e.Seq} {e.Type}"))}]; the log has " +
                $"[{string.Join(", ", log.Items.Select(e => $"{e.Seq} {e.Type}"))}]\n{platform.Gateway2.Output[^Math.Min(4000, platform.Gateway2.Output.Length)..]}");
        }
        Assert.Equal(declined.Id, events[^1].Data.GetProperty("callId").GetGuid());
        Assert.Equal("declined", (await bob.Sdk.DeclineCallAsync(declined.Id)).EndReason);

        var completed = await bob.Sdk.StartCallAsync(conversation.Id, "audio");
        await alice.Sdk.JoinCallAsync(completed.Id);
        var ended = await alice.Sdk.LeaveCallAsync(completed.Id);
        Assert.Equal(("ended", "completed"), (ended.State, ended.EndReason));
        var joinEnded = await Assert.ThrowsAsync<PlatformException>(() => alice.Sdk.JoinCallAsync(completed.Id));
        Assert.Equal(409, joinEnded.Status);

        var history = await alice.Sdk.GetCallsAsync(conversation.Id);
        Assert.Equal([completed.Id, declined.Id], history.Items.Select(c => c.Id));
        Assert.Equal([bob.Id, alice.Id], history.Items[0].Participants);
        var ice = await alice.Sdk.GetIceServersAsync();
        var turn = Assert.Single(ice.Servers, s => s.Username is not null);
        Assert.EndsWith($":{alice.Id}", turn.Username);
        Assert.StartsWith("turn:127.0.0.1:", Assert.Single(turn.Urls));
        Assert.True(ice.ExpiresAt > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Signal_ToOrFromSomeoneNotInTheCall_IsRefusedAndNotDelivered()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var mallory = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "call");
        var toMallory = Signals(mallory);
        var toAlice = Signals(alice);
        await alice.Sdk.Realtime.StartAsync();
        await bob.Sdk.Realtime.StartAsync();
        await mallory.Sdk.Realtime.StartAsync();
        var call = await alice.Sdk.StartCallAsync(conversation.Id, "audio");
        var payload = Json("""{"type":"candidate"}""");

        var toOutsider = await Assert.ThrowsAsync<HubException>(() => alice.Sdk.Realtime.SignalAsync(call.Id, mallory.Id, payload));
        Assert.Contains("not a participant", toOutsider.Message);
        var fromOutsider = await Assert.ThrowsAsync<HubException>(() => mallory.Sdk.Realtime.SignalAsync(call.Id, alice.Id, payload));
        Assert.Contains("not in it", fromOutsider.Message);
        // Invited but not joined: may receive (the offer), may not send yet.
        await Assert.ThrowsAsync<HubException>(() => bob.Sdk.Realtime.SignalAsync(call.Id, alice.Id, payload));
        await Assert.ThrowsAsync<HubException>(() => alice.Sdk.Realtime.SignalAsync(Guid.NewGuid(), bob.Id, payload));
        await Assert.ThrowsAsync<HubException>(() => alice.Sdk.Realtime.SignalAsync(call.Id, alice.Id, payload));

        // After the call ended, nobody signals in it.
        await bob.Sdk.JoinCallAsync(call.Id);
        await bob.Sdk.Realtime.SignalAsync(call.Id, alice.Id, payload);
        Assert.Equal(bob.Id, (await toAlice.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).FromUserId);
        await alice.Sdk.EndCallAsync(call.Id);
        await Eventually.Returns(async () =>
        {
            try
            {
                await bob.Sdk.Realtime.SignalAsync(call.Id, alice.Id, payload);
                return false;
            }
            catch (HubException)
            {
                return true;
            }
        }, ok => ok, Timeout, "signals in an ended call are refused");

        // A marker through the same path proves the refused ones were not merely slow.
        await Assert.ThrowsAsync<HubException>(() => alice.Sdk.Realtime.SignalAsync(call.Id, mallory.Id, payload));
        Assert.False(toMallory.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Signal_WithAMalformedOrOversizedPayload_FailsForTheCaller_AndTheConnectionStays()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "call");
        var toBob = Signals(bob);
        await alice.Sdk.Realtime.StartAsync();
        await bob.Sdk.Realtime.StartAsync();
        var call = await alice.Sdk.StartCallAsync(conversation.Id, "video");

        var oversized = await Assert.ThrowsAsync<HubException>(() =>
            alice.Sdk.Realtime.SignalAsync(call.Id, bob.Id, Json($$"""{"sdp":"{{new string('a', 61 * 1024)}}"}""")));
        Assert.Contains("larger than", oversized.Message);
        foreach (var malformed in new[] { "42", "[1,2]", "null", "true" })
        {
            var error = await Assert.ThrowsAsync<HubException>(() => alice.Sdk.Realtime.SignalAsync(call.Id, bob.Id, Json(malformed)));
            Assert.Contains("payload", error.Message);
        }

        await alice.Sdk.Realtime.SignalAsync(call.Id, bob.Id, Json("""{"type":"after"}"""));
        var first = await toBob.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("after", first.Payload.GetProperty("type").GetString());
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, alice.Sdk.Realtime.State);
    }

    [Fact]
    public async Task Signal_Flood_IsRateLimitedPerConnection()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "call");
        var toBob = Signals(bob);
        await alice.Sdk.Realtime.StartAsync();
        await bob.Sdk.Realtime.StartAsync();
        var call = await alice.Sdk.StartCallAsync(conversation.Id, "video");

        var flood = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            try
            {
                await alice.Sdk.Realtime.SignalAsync(call.Id, bob.Id, Json($$"""{"i":{{i}}}"""));
                return null;
            }
            catch (HubException exception)
            {
                return exception.Message;
            }
        }));

        flood.Stop();

        var refused = outcomes.Where(o => o is not null).ToList();
        Assert.All(refused, message => Assert.Contains("signals per second", message));
        // The bucket gains SignalsPerSecond tokens each second; the calls are handled one at a time, so on a loaded
        // machine the flood can span more than one replenishment.
        var replenished = CallPlatform.SignalsPerSecond * ((int)flood.Elapsed.TotalSeconds + 1);
        Assert.InRange(refused.Count, 40 - CallPlatform.SignalBurst - replenished, 40 - CallPlatform.SignalBurst);
        var delivered = 0;
        await Eventually.Returns(() =>
        {
            while (toBob.Reader.TryRead(out _))
                delivered++;
            return Task.FromResult(delivered);
        }, count => count == 40 - refused.Count, Timeout, "every accepted signal arrives");
    }

    [Fact]
    public async Task Hub_PreflightFromAnAllowedOrigin_IsAnswered_SoBrowsersCanConnect()
    {
        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
        var origin = platform.Pages.GetLeftPart(UriPartial.Authority);
        using var request = new HttpRequestMessage(HttpMethod.Options, "hubs/chat/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,x-requested-with,x-signalr-user-agent");

        using var response = await http.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(origin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    [Theory]
    [InlineData("all")]
    [InlineData("relay")]
    public async Task TwoHeadlessChromiums_EstablishACall_ThroughOurSignalingAndIceServers(string policy)
    {
        var caller = platform.Client(platform.Gateway1.BaseAddress);
        var callee = Guid.CreateVersion7();
        var conversation = await caller.Sdk.CreateConversationAsync("direct", [callee]);
        var call = await caller.Sdk.StartCallAsync(conversation.Id, "video");
        var run = Guid.NewGuid().ToString("N");
        Uri Page(string role, Uri gateway, Guid user, Guid peer) => new(platform.Pages,
            $"call.html?role={role}&run={run}&policy={policy}&callId={call.Id}&peer={peer}" +
            $"&gateway={Uri.EscapeDataString(gateway.ToString())}&token={Uri.EscapeDataString(platform.Issuer.CreateToken(user))}");

        var callerResult = platform.ResultAsync(run, "caller");
        var calleeResult = platform.ResultAsync(run, "callee");
        await using var callerBrowser = Chromium.Open(Page("caller", platform.Gateway1.BaseAddress, caller.Id, callee));
        var ready = platform.ResultAsync(run, "caller-ready");
        await Task.WhenAny(ready, callerResult).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(ready.IsCompleted, $"the caller page failed before it was ready: {(callerResult.IsCompleted ? (await callerResult).GetRawText() : "")}");
        await using var calleeBrowser = Chromium.Open(Page("callee", platform.Gateway2.BaseAddress, callee, caller.Id));

        var results = await Task.WhenAll(callerResult, calleeResult).WaitAsync(TimeSpan.FromSeconds(90));

        foreach (var result in results)
        {
            var role = result.GetProperty("role").GetString();
            Assert.False(result.TryGetProperty("error", out _), $"{role}: {result.GetRawText()}\n{platform.TurnOutput}");
            Assert.Equal("connected", result.GetProperty("connectionState").GetString());
            var tracks = result.GetProperty("tracks").EnumerateArray().Select(t => t.GetString()).Order().ToList();
            Assert.Equal(["audio", "video"], tracks);
            Assert.True(result.GetProperty("videoBytesReceived").GetInt64() > 0, $"{role}: {result.GetRawText()}");
            Assert.True(result.GetProperty("audioBytesReceived").GetInt64() > 0, $"{role}: {result.GetRawText()}");
            Assert.True(result.GetProperty("framesDecoded").GetInt64() > 0, $"{role}: {result.GetRawText()}");
            if (policy == "relay")
                Assert.Equal("relay", result.GetProperty("localCandidateType").GetString());
        }
        Assert.Equal("hello from the callee", results[0].GetProperty("dataChannelMessage").GetString());
        Assert.Equal("hello from the caller", results[1].GetProperty("dataChannelMessage").GetString());
        Assert.Equal("active", (await caller.Sdk.GetCallAsync(call.Id)).State);
    }

    /// <summary>Debian's headless Chromium with fake camera and microphone, permission granted.</summary>
    private sealed class Chromium : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly DirectoryInfo _profile;

        private Chromium(Process process, DirectoryInfo profile) => (_process, _profile) = (process, profile);

        public static Chromium Open(Uri url)
        {
            var executable = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
            Assert.True(executable is not null, "Chromium is not installed: `apt-get install chromium` (./platform test installs it).");
            var profile = Directory.CreateTempSubdirectory("platform-chromium-");
            var info = new ProcessStartInfo(executable,
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--mute-audio",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                "--disable-features=WebRtcHideLocalIpsWithMdns", $"--user-data-dir={profile.FullName}", url.ToString(),
            ])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return new Chromium(process, profile);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
            try
            {
                _profile.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
