using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Testing;
using Xunit.Abstractions;

namespace Platform.Tests;

/// <summary>
/// The reference web app (<c>clients/web</c>, built into <c>clients/web/dist</c>) as the Gateways serve it, driven in the
/// Debian Chromium by <c>tests/browser/web-app.mjs</c> (playwright-core): users sign in through Identity's login page
/// (authorization code + PKCE) and chat against all six services.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class WebAppTests(WholePlatform platform, ITestOutputHelper output)
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Gateway_ServesTheAppAtItsPages_WithoutShadowingTheApiOrSignIn()
    {
        RequireBuiltApp();
        using var http = platform.Anonymous(platform.Gateway1);

        foreach (var page in new[] { "/", "/c/0196f3c1-0000-7000-8000-000000000000", "/callback", "/invite/abc" })
        {
            using var response = await http.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Contains("<div id=\"root\">", await response.Content.ReadAsStringAsync());
        }

        // Paths of the API, the hub, sign-in, health, metrics and OpenAPI answer as without the app.
        foreach (var path in new[] { "/api/v1/nothing-here", "/api/v2/conversations", "/connect/nothing", "/account/nothing", "/.well-known/nothing", "/hubs/nothing", "/openapi/nothing", "/assets/missing.js" })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode}");
            Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
        }
        using (var discovery = await http.GetAsync("/.well-known/openid-configuration"))
            Assert.Equal("application/json", discovery.Content.Headers.ContentType?.MediaType);
        using (var unauthorized = await http.GetAsync("/api/v1/conversations"))
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        using (var health = await http.GetAsync("/health/live"))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var post = await http.PostAsync("/some/page", new StringContent("")))
            Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);

        // The bundle the page names is served, cached for good (its name changes with its content).
        var html = await http.GetStringAsync("/");
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;
        using var bundle = await http.GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Contains("immutable", bundle.Headers.CacheControl?.ToString());
    }

    /// <summary>
    /// Two browser contexts (a desktop and a phone-sized page) sign in through the login page; Bob finds Alice by her
    /// username and writes; Alice sees it in her inbox and the conversation; typing shows and clears; ticks move to read;
    /// a reaction, a reply, an edit and a delete propagate; an image Bob sends shows its thumbnail to Alice; Alice mentions
    /// Bob through the autocomplete; Bob's reload
    /// shows the same history and nothing twice. The screenshot of Alice's page goes to .local/web-app.png, or to the
    /// README's docs/web-app.png with PLATFORM_UPDATE_SCREENSHOT=1 (so a test run leaves the tree as it was).
    /// </summary>
    [Fact]
    public async Task TwoUsersInBrowsers_SignInWithPkce_ChatTypeReactEditDeleteSendAnImageMentionAndReload()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Alice Web"), platform.SignUpAsync("Bob Web"));
        var (alice, bob) = (users[0], users[1]);

        var result = await RunAsync("chat", new Dictionary<string, string>
        {
            ["ALICE_EMAIL"] = alice.Email, ["ALICE_NAME"] = "Alice Web", ["ALICE_USERNAME"] = alice.Username, ["ALICE_TOKEN"] = alice.Token,
            ["BOB_EMAIL"] = bob.Email, ["BOB_NAME"] = "Bob Web", ["BOB_USERNAME"] = bob.Username,
            ["SCREENSHOT"] = Environment.GetEnvironmentVariable("PLATFORM_UPDATE_SCREENSHOT") == "1"
                ? Path.Combine(TestInfrastructure.RepositoryRoot, "docs", "web-app.png")
                : Path.Combine(TestInfrastructure.RepositoryRoot, ".local", "web-app.png"),
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    /// <summary>A page that goes offline while the other side sends 50 messages shows all 50, once each and in order, when it is back.</summary>
    [Fact]
    public async Task OfflinePage_ShowsEveryMessageSentMeanwhileOnceInOrder_WhenBackOnline()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Offline Sender"), platform.SignUpAsync("Offline Receiver"));
        var (sender, receiver) = (users[0], users[1]);
        var conversation = await platform.CreateConversationAsync(sender, "direct", [receiver]);

        var result = await RunAsync("offline", new Dictionary<string, string>
        {
            ["SENDER_TOKEN"] = sender.Token, ["RECEIVER_EMAIL"] = receiver.Email,
            ["CONVERSATION_ID"] = conversation.GetProperty("id").GetString()!, ["COUNT"] = "50",
        });

        Assert.Equal(50, result.GetProperty("shown").GetInt32());
        output.WriteLine($"shown while offline: {result.GetProperty("seenWhileOffline").GetInt32()} of 50");
    }

    /// <summary>
    /// 200 XSS vectors as messages, five as display names, one as the conversation's title and three as link preview
    /// titles execute nothing (an exposed function and a dialog listener watch), live and from history.
    /// </summary>
    [Fact]
    public async Task XssVectors_InMessagesNamesTitlesAndLinkPreviews_ExecuteNothing()
    {
        string[] names =
        [
            "<img src=x onerror=__xss(8001)>", "<script>__xss(8002)</script>", "\"><svg onload=alert(8003)>",
            "javascript:__xss(8004)", "<iframe src=javascript:__xss(8005)>",
        ];
        var users = await Task.WhenAll(new[] { "Vector Sender", "Victim" }.Concat(names).Select(name => platform.SignUpAsync(name)));
        var (sender, victim, named) = (users[0], users[1], users[2..]);
        var conversation = await platform.CreateConversationAsync(sender, "group", [victim, .. named], title: "<img src=x onerror=__xss(7777)>");
        var conversationId = conversation.GetProperty("id").GetGuid();
        await Task.WhenAll(named.Select(user => platform.SendAsync(user, conversationId, "from a named user")));

        var result = await RunAsync("xss", new Dictionary<string, string>
        {
            ["SENDER_TOKEN"] = sender.Token, ["VICTIM_EMAIL"] = victim.Email, ["CONVERSATION_ID"] = conversationId.ToString(),
            ["SITE"] = platform.Site.ToString(), ["XSS_NAMES"] = JsonSerializer.Serialize(names),
        });

        Assert.Equal(0, result.GetProperty("executed").GetInt32());
        Assert.Equal(200 + 3 + names.Length, result.GetProperty("vectors").GetInt32());
    }

    /// <summary>
    /// The pages around the chat, in the browser for Carol while Dave acts through the API: a mention reaches the
    /// notification feed live and opening it reads it, "Mark all read" reads the rest; the Web Push opt-in registers the
    /// service worker and says what the browser's push service answered; settings (status, notification level, quiet
    /// hours, privacy) are saved where the services keep them; contacts import finds Dave and opens a conversation; an
    /// invite link's page shows its group and joins it; an access token about to expire is renewed with the refresh token
    /// on the next call; and a new user registers through an invite's page and has the inviter as a contact. axe-core
    /// checks every page for WCAG 2.1 AA violations.
    /// </summary>
    [Fact]
    public async Task Pages_NotificationFeedPushSettingsContactsInviteLinkTokenRefreshAndInvitePage()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Carol Pages"), platform.SignUpAsync("Dave Pages"), platform.SignUpAsync("Erin Pages"));
        var (carol, dave, erin) = (users[0], users[1], users[2]);
        var group = await platform.CreateConversationAsync(dave, "group", [carol], title: "Reports");
        var group2 = await platform.CreateConversationAsync(dave, "group", [carol], title: "Budget");
        var linkTitle = $"Open channel {Guid.NewGuid():N}"[..24];
        var channel = await platform.CreateConversationAsync(dave, "group", [erin], title: linkTitle);
        var link = await platform.ReadAsync(await dave.Http.PostAsJsonAsync($"api/v1/conversations/{channel.GetProperty("id").GetGuid()}/invite-links", new { }),
            HttpStatusCode.Created, "creating an invite link", platform.Messaging);
        Assert.EndsWith($"/join/{link.GetProperty("token").GetString()}", link.GetProperty("url").GetString());
        var newbie = $"newbie-{Guid.NewGuid():N}@example.com";
        // Contact import finds verified addresses only.
        await platform.VerifyEmailAsync(dave);
        await platform.ReadAsync(await dave.Http.PostAsJsonAsync("api/v1/invites", new { email = newbie }), HttpStatusCode.Created, "inviting", platform.Identity);
        // The link in the invite email, as the invitee gets it.
        var mail = await platform.EventuallyAsync(() => Task.FromResult(platform.Smtp.Messages.FirstOrDefault(m => m.To.Mailboxes.Any(to => to.Address == newbie))),
            found => found is not null, "the invite email arrives", platform.Notifications);
        var invited = System.Text.RegularExpressions.Regex.Match(mail!.TextBody ?? "", @"https?://\S+/invite\?invite=([A-Za-z0-9_%-]+)");
        Assert.True(invited.Success, mail.TextBody);

        var result = await RunAsync("pages", new Dictionary<string, string>
        {
            ["CAROL_EMAIL"] = carol.Email, ["CAROL_TOKEN"] = carol.Token, ["CAROL_USERNAME"] = carol.Username,
            ["DAVE_TOKEN"] = dave.Token, ["DAVE_EMAIL"] = dave.Email, ["DAVE_NAME"] = "Dave Pages",
            ["GROUP_ID"] = group.GetProperty("id").GetString()!, ["GROUP2_ID"] = group2.GetProperty("id").GetString()!,
            ["LINK_TOKEN"] = link.GetProperty("token").GetString()!, ["LINK_TITLE"] = linkTitle,
            ["LINK_CONVERSATION_ID"] = channel.GetProperty("id").GetString()!,
            ["INVITE_TOKEN"] = Uri.UnescapeDataString(invited.Groups[1].Value), ["NEWBIE_EMAIL"] = newbie,
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    /// <summary>
    /// A video call in two browsers (Chromium's fake camera and microphone): the caller starts it from the conversation,
    /// the callee's page rings and joins, each sees the other's camera playing over a WebRTC connection signaled through
    /// the hub, and hanging up ends it for both, recorded as completed.
    /// </summary>
    /// <summary>
    /// Conversation depth in the web app: Erin searches a word, the hit (word marked) opens the group at that message;
    /// she pins it (Frank's API sees the pin), sees the pinned list, unpins; saves it, finds it in the saved list,
    /// unsaves; and joins a public channel from the directory. axe-core passes on each of those views.
    /// </summary>
    [Fact]
    public async Task Depth_SearchOpensAtTheMessage_PinsAndSavedListsAndTheChannelDirectory()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Erin Depth"), platform.SignUpAsync("Frank Depth"));
        var (erin, frank) = (users[0], users[1]);
        var word = new string(Enumerable.Range(0, 10).Select(_ => (char)('a' + Random.Shared.Next(26))).ToArray());
        var group = (await platform.CreateConversationAsync(frank, "group", [erin], "depth")).GetProperty("id").GetGuid();
        await platform.SendAsync(frank, group, "good morning");
        await platform.SendAsync(frank, group, $"the report about {word} is ready");
        await platform.SendAsync(frank, group, "see you later");
        var channel = (await platform.CreateConversationAsync(frank, "channel", [], word)).GetProperty("id").GetGuid();

        var result = await RunAsync("depth", new Dictionary<string, string>
        {
            ["ERIN_EMAIL"] = erin.Email, ["FRANK_TOKEN"] = frank.Token, ["GROUP_ID"] = group.ToString(), ["CHANNEL_ID"] = channel.ToString(), ["WORD"] = word,
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    /// <summary>
    /// Scheduled messages and time travel in the web app: Erin schedules two messages from the composer, edits and cancels
    /// one in the conversation's scheduled list and sees the other arrive by itself at its time (once); then, after she
    /// edits a message (Gina having joined and Frank reacted since), "Time travel" to a time before the edit shows the old
    /// text without the reaction and the members of then, read-only, and the same by seq; "Back to now" returns.
    /// </summary>
    [Fact]
    public async Task Later_ScheduleSendEditCancelAndArrive_TimeTravelShowsTheTextBeforeAnEdit()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Erin Later"), platform.SignUpAsync("Frank Later"), platform.SignUpAsync("Gina Later"));
        var (erin, frank, gina) = (users[0], users[1], users[2]);
        var group = (await platform.CreateConversationAsync(frank, "group", [erin], "later")).GetProperty("id").GetGuid();

        var result = await RunAsync("later", new Dictionary<string, string>
        {
            ["ERIN_EMAIL"] = erin.Email, ["ERIN_TOKEN"] = erin.Token, ["FRANK_TOKEN"] = frank.Token, ["GROUP_ID"] = group.ToString(),
            ["GINA_ID"] = gina.Id.ToString(), ["GINA_NAME"] = "Gina Later", ["WORD"] = Guid.NewGuid().ToString("N")[..8],
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    /// <summary>
    /// Reading together in the web app: Frank's <c>@channel</c> shows as a mass mention and Erin's composer offers it
    /// (her own then notifies everyone); "Mark unread" puts the unread marker at the message and the badge back (as
    /// Messaging counts it) until she leaves and comes back; a forward shows its origin to Erin, who opens it, and says
    /// it is unavailable to Gina, who is not in the origin conversation.
    /// </summary>
    [Fact]
    public async Task Reading_MassMentionMarkUnreadAndForwardWithAnOriginOnlyMembersOpen()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Erin Reading"), platform.SignUpAsync("Frank Reading"), platform.SignUpAsync("Gina Reading"));
        var (erin, frank, gina) = (users[0], users[1], users[2]);
        var word = Guid.NewGuid().ToString("N")[..8];
        var origin = (await platform.CreateConversationAsync(frank, "group", [erin], "origin")).GetProperty("id").GetGuid();
        foreach (var text in new[] { $"first of three {word}", $"second of three {word}", $"third of three {word}", $"@channel standup {word}" })
            await platform.SendAsync(frank, origin, text);
        var elsewhere = (await platform.CreateConversationAsync(erin, "group", [gina], "elsewhere")).GetProperty("id").GetGuid();

        var result = await RunAsync("reading", new Dictionary<string, string>
        {
            ["ERIN_EMAIL"] = erin.Email, ["ERIN_TOKEN"] = erin.Token, ["GINA_EMAIL"] = gina.Email, ["FRANK_TOKEN"] = frank.Token,
            ["ORIGIN_ID"] = origin.ToString(), ["ELSEWHERE_ID"] = elsewhere.ToString(), ["WORD"] = word,
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    /// <summary>
    /// The followed threads in the web app: Alice follows a thread by replying in it and finds it on the Threads page; Bob
    /// replies twice, mentioning her once, and the row shows 2 unread and 1 mention live; the row opens the thread view, and
    /// back on the Threads page (and in Messaging) the counts are cleared. axe-core passes on the Threads page.
    /// </summary>
    [Fact]
    public async Task Threads_FollowedThreadsListShowsUnreadAndMentionsLive_OpeningTheThreadClearsThem()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Alice Threads"), platform.SignUpAsync("Bob Threads"));
        var (alice, bob) = (users[0], users[1]);
        var word = Guid.NewGuid().ToString("N")[..8];
        var group = (await platform.CreateConversationAsync(bob, "group", [alice], "threads")).GetProperty("id").GetGuid();
        var root = (await platform.SendAsync(bob, group, $"the plan for {word}")).GetProperty("id").GetGuid();

        var result = await RunAsync("threads", new Dictionary<string, string>
        {
            ["ALICE_EMAIL"] = alice.Email, ["ALICE_TOKEN"] = alice.Token, ["ALICE_USERNAME"] = alice.Username,
            ["BOB_TOKEN"] = bob.Token, ["BOB_USERNAME"] = bob.Username, ["GROUP_ID"] = group.ToString(), ["ROOT_ID"] = root.ToString(), ["WORD"] = word,
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task VideoCall_RingsJoinsShowsBothCamerasAndHangsUp()
    {
        var users = await Task.WhenAll(platform.SignUpAsync("Caller Web"), platform.SignUpAsync("Callee Web"));
        var (caller, callee) = (users[0], users[1]);
        var conversation = await platform.CreateConversationAsync(caller, "direct", [callee]);

        var result = await RunAsync("call", new Dictionary<string, string>
        {
            ["CALLER_EMAIL"] = caller.Email, ["CALLER_TOKEN"] = caller.Token, ["CALLEE_EMAIL"] = callee.Email,
            ["CONVERSATION_ID"] = conversation.GetProperty("id").GetString()!,
        });

        Assert.True(result.GetProperty("ok").GetBoolean());
    }

    private async Task<JsonElement> RunAsync(string scenario, Dictionary<string, string> environment)
    {
        RequireBuiltApp();
        Assert.True(File.Exists(Path.Combine(TestInfrastructure.RepositoryRoot, "tests", "browser", "node_modules", "playwright-core", "package.json")),
            "Install the browser tests' packages first: `npm ci --prefix tests/browser` (./platform test does).");
        environment["SCENARIO"] = scenario;
        environment["GATEWAY"] = platform.Gateway1.BaseAddress.ToString();
        environment["PASSWORD"] = WholePlatform.UserPassword;
        var result = await NodeScript.RunAsync(Path.Combine("tests", "browser", "web-app.mjs"), environment, ScenarioTimeout,
            () => platform.OutputOf(platform.Gateway1, platform.Identity, platform.Messaging));
        output.WriteLine(result.ToString());
        return result;
    }

    private static void RequireBuiltApp() =>
        Assert.True(File.Exists(Path.Combine(TestInfrastructure.RepositoryRoot, "clients", "web", "dist", "index.html")),
            "Build the web app first: `npm ci --prefix clients/typescript && npm run build --prefix clients/typescript && " +
            "npm ci --prefix clients/web && npm run build --prefix clients/web` (./platform test does).");
}
