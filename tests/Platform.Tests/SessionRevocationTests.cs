using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Npgsql;

namespace Platform.Tests;

/// <summary>
/// Signing out everywhere and disabling a user take effect across the platform within seconds: both Gateways close
/// the user's live connections and every service refuses the user's earlier access tokens.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class SessionRevocationTests(WholePlatform platform)
{
    [Fact]
    public async Task SignOutEverywhere_ClosesTheUsersConnectionsOnEveryGateway_AndEveryServiceRefusesTheEarlierToken()
    {
        var alice = await platform.SignUpAsync("Alice Signs Out");
        var bob = await platform.SignUpAsync("Bob Stays");
        var conversation = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        await platform.SendAsync(alice, conversation, "signing out everywhere now");
        await using var onOne = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var onTwo = await platform.ConnectAsync(alice, platform.Gateway2);
        await AcceptedEverywhereAsync(alice.Http, alice.Id);

        var revoked = await alice.Http.PostAsync("api/v1/users/me/sessions/revoke-all", null);

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.Contains("signed out everywhere", await onOne.ClosedAsync("is closed by Gateway 1"));
        Assert.Contains("signed out everywhere", await onTwo.ClosedAsync("is closed by Gateway 2"));
        await RefusedEverywhereAsync(alice.Http, alice.Id);
        // Bob is untouched, and Alice signs in again as usual.
        await AcceptedEverywhereAsync(bob.Http, bob.Id);
        using var again = await platform.SignInWithRolesAsync(alice.Email);
        await AcceptedEverywhereAsync(again, alice.Id);
    }

    [Fact]
    public async Task AGatewayStartedAfterASignOutEverywhere_RefusesTheEarlierToken_AsTheOthersDo()
    {
        var alice = await platform.SignUpAsync("Alice Signs Out Early");
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.PostAsync("api/v1/users/me/sessions/revoke-all", null)).StatusCode);
        await RefusedEverywhereAsync(alice.Http, alice.Id);

        // An instance that did not exist when the bus told the others: it asks Identity at start.
        await using var late = await platform.StartGatewayAsync("gateway-late", new Dictionary<string, string?>());
        using var stale = platform.Anonymous(late);
        stale.DefaultRequestHeaders.Authorization = alice.Http.DefaultRequestHeaders.Authorization;
        await platform.EventuallyAsync(() => stale.PostAsync("hubs/chat/negotiate?negotiateVersion=1", null), response => response.StatusCode == HttpStatusCode.Unauthorized,
            "the late Gateway refuses the token issued before the sign-out", late, platform.Identity);
        var reconnect = await Record.ExceptionAsync(async () => await (await platform.ConnectAsync(alice, late)).DisposeAsync());
        Assert.NotNull(reconnect);
        // A token issued after it is welcome there.
        using var again = await platform.SignInWithRolesAsync(alice.Email);
        using var fresh = platform.Anonymous(late);
        fresh.DefaultRequestHeaders.Authorization = again.DefaultRequestHeaders.Authorization;
        Assert.Equal(HttpStatusCode.OK, (await fresh.PostAsync("hubs/chat/negotiate?negotiateVersion=1", null)).StatusCode);
    }

    [Fact]
    public async Task DisablingAUser_ClosesTheirConnections_AndEveryServiceRefusesTheirToken()
    {
        var admin = await platform.SignUpAsync("Admin Disables");
        using var adminHttp = await platform.SignInAsAdminAsync(admin);
        var mallory = await platform.SignUpAsync("Mallory Misbehaves");
        var conversation = (await platform.CreateConversationAsync(mallory, "direct", [admin])).GetProperty("id").GetGuid();
        await platform.SendAsync(mallory, conversation, "spam");
        await using var connection = await platform.ConnectAsync(mallory, platform.Gateway2);
        await AcceptedEverywhereAsync(mallory.Http, mallory.Id);

        var disabled = await adminHttp.PostAsync($"api/v1/users/{mallory.Id}/disable", null);

        Assert.Equal(HttpStatusCode.NoContent, disabled.StatusCode);
        Assert.Contains("disabled", await connection.ClosedAsync("is closed by Gateway 2"));
        await RefusedEverywhereAsync(mallory.Http, mallory.Id);
        var reconnect = await Record.ExceptionAsync(async () => await (await platform.ConnectAsync(mallory, platform.Gateway1)).DisposeAsync());
        Assert.NotNull(reconnect);
    }

    /// <summary>A user's API in every service, through the Gateway: Identity, Messaging, Presence, Notifications, Media.</summary>
    private static string[] Probes(Guid userId) =>
    [
        "api/v1/users/me", "api/v1/conversations", $"api/v1/presence?userIds={userId}", "api/v1/notifications",
        $"api/v1/media/{Guid.NewGuid()}",
    ];

    private async Task AcceptedEverywhereAsync(HttpClient http, Guid userId)
    {
        foreach (var path in Probes(userId))
        {
            var status = (await http.GetAsync(path)).StatusCode;
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NotFound,
                $"{path}: {(int)status}" + platform.OutputOf(platform.Identity, platform.Messaging, platform.Presence, platform.Notifications, platform.Media));
        }
    }

    private async Task RefusedEverywhereAsync(HttpClient http, Guid userId)
    {
        foreach (var path in Probes(userId))
            await platform.EventuallyAsync(async () => (await http.GetAsync(path)).StatusCode, status => status == HttpStatusCode.Unauthorized,
                $"{path} refuses the token", platform.Identity, platform.Messaging, platform.Presence, platform.Notifications, platform.Media);
    }
}
