using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary><c>DELETE /api/v1/users/me</c>: with the password, the account is erased at once, leaving a tombstone; otherwise nothing happens.</summary>
public sealed class AccountDeletionTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Delete_WithThePassword_ErasesTheAccountAtOnce_LeavesATombstone_AndPublishesUserDeleted()
    {
        await using var events = await EventRecorder.StartAsync<UserDeleted, UserDisabled>(identity.Infrastructure.VirtualHost.ConnectionString);
        var marker = "zq" + Guid.NewGuid().ToString("N")[..12];
        var friend = await _http.RegisterAsync();
        var blocked = await _http.RegisterAsync();
        var account = await _http.RegisterAsync(email: $"{marker}@example.com", phone: Api.UniquePhone(), displayName: $"Erin {marker}", username: $"erin_{marker}");
        var grant = await (await _http.PasswordGrantAsync(account.Username, account.Password)).JsonAsync();
        var token = grant.GetProperty("access_token").GetString()!;
        var refresh = grant.GetProperty("refresh_token").GetString()!;
        Assert.True((await _http.SendAsync(HttpMethod.Patch, "/api/v1/users/me", token, new { statusText = $"about {marker}" })).IsSuccessStatusCode);
        Assert.True((await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { emails = new[] { friend.Email, $"{marker}.x@example.com" } })).IsSuccessStatusCode);
        var friendToken = await _http.TokenAsync(friend);
        Assert.True((await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", friendToken, new { emails = new[] { account.Email } })).IsSuccessStatusCode);
        Assert.True((await _http.SendAsync(HttpMethod.Put, $"/api/v1/users/me/blocks/{blocked.Id}", token)).IsSuccessStatusCode);
        Assert.True((await _http.SendAsync(HttpMethod.Put, "/api/v1/users/me/privacy", token, new { lastSeen = "contacts", readReceipts = false, whoCanAdd = "contacts" })).IsSuccessStatusCode);
        Assert.True((await _http.SendAsync(HttpMethod.Post, "/api/v1/invites", token, new { email = $"{marker}.invitee@example.com" })).IsSuccessStatusCode);

        // Refused without erasing anything: no body, a wrong password.
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token, new { password = "" }), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token, new { password = "not the password" }), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).StatusCode);
        Assert.NotEmpty(await TracesAsync(marker));

        var deleted = await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token, new { password = account.Password });

        Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.PasswordGrantAsync(account.Email!, account.Password)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.PasswordGrantAsync(account.Username, account.Password)).StatusCode);
        var refreshed = await _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-cli", ["refresh_token"] = refresh,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode);
        var published = await events.WaitForAsync<UserDeleted>(e => e.UserId == account.Id);
        Assert.True(published.DeletedAt <= DateTimeOffset.UtcNow);
        Assert.Empty(await TracesAsync(marker));

        var tombstone = await identity.InScopeAsync(services => services.GetRequiredService<IdentityDb>().Users.AsNoTracking().SingleAsync(u => u.Id == account.Id));
        Assert.Equal("Deleted user", tombstone.DisplayName);
        Assert.True(tombstone.IsDisabled);
        Assert.Null(tombstone.Email);
        Assert.Null(tombstone.PhoneNumber);
        Assert.Null(tombstone.PasswordHash);
        Assert.Null(tombstone.StatusText);
        var rows = await identity.InScopeAsync(async services =>
        {
            var db = services.GetRequiredService<IdentityDb>();
            var id = account.Id;
            return await db.Contacts.CountAsync(c => c.OwnerId == id || c.ContactUserId == id) + await db.Blocks.CountAsync(b => b.OwnerId == id || b.BlockedUserId == id)
                + await db.PrivacySettings.CountAsync(p => p.UserId == id) + await db.Invites.CountAsync(i => i.InvitedBy == id)
                + await db.SignInAddresses.CountAsync(a => a.UserId == id);
        });
        Assert.Equal(0, rows);
        // The public profile still resolves, as a deleted user; the address is free for a new account.
        var profile = await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/{account.Id}", friendToken)).JsonAsync();
        Assert.Equal("Deleted user", profile.GetProperty("displayName").GetString());
        await _http.RegisterAsync(email: account.Email);
    }

    [Fact]
    public async Task Delete_WithWrongPasswords_IsThrottledLikeSignIn()
    {
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);
        HttpResponseMessage last = null!;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            last = await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token, new { password = "guess " + attempt });
            if (last.StatusCode == HttpStatusCode.TooManyRequests)
                break;
            await Api.AssertProblemAsync(last, HttpStatusCode.Forbidden);
        }
        await Api.AssertProblemAsync(last, HttpStatusCode.TooManyRequests);
        Assert.NotNull(last.Headers.RetryAfter);
        // Throttled means not even the right password is checked until the wait is over.
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me", token, new { password = account.Password }), HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).StatusCode);
    }

    /// <summary>Rows of Identity's tables holding <paramref name="marker"/>.</summary>
    private async Task<List<string>> TracesAsync(string marker)
    {
        await using var connection = new NpgsqlConnection(identity.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity' AND table_type = 'BASE TABLE'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                tables.Add(reader.GetString(0));
        var traces = new List<string>();
        foreach (var table in tables)
        {
            await using var dump = new NpgsqlCommand($"SELECT row_to_json(t)::text FROM identity.\"{table}\" t WHERE row_to_json(t)::text ILIKE '%' || $1 || '%'", connection)
            {
                Parameters = { new() { Value = marker } },
            };
            await using var rows = await dump.ExecuteReaderAsync();
            while (await rows.ReadAsync())
                traces.Add($"{table}: {rows.GetString(0)}");
        }
        return traces;
    }
}
