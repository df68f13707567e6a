using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Npgsql;

namespace Platform.Tests;

/// <summary>
/// <c>DELETE /api/v1/users/me</c> erases an account across the platform: afterwards no table of any service (nor a
/// stored file) holds anything the user wrote or was called, the user's tokens are refused and their connections closed,
/// and the other members still read the conversation, with the user's messages as tombstones.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class AccountDeletionTests(WholePlatform platform)
{
    [Fact]
    public async Task DeletingTheAccount_ErasesEveryTraceOfTheUser_InEveryServiceAndFile()
    {
        var marker = "zq" + Guid.NewGuid().ToString("N")[..14];
        var phoneDigits = $"202{Random.Shared.Next(200, 999)}{Random.Shared.Next(0, 10000):0000}";
        string[] markers = [marker, phoneDigits];
        var erin = await RegisterAsync(marker, phoneDigits);
        // A verified email, and a phone code still pending: both name her addresses.
        await platform.VerifyEmailAsync(erin);
        await platform.ReadAsync(await erin.Http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "phone" }), HttpStatusCode.Accepted,
            "Erin asks for a phone code", platform.Identity);
        var frank = await platform.SignUpAsync("Frank Remains");
        var grace = await platform.SignUpAsync("Grace Blocked");

        // Erin uses everything: a group with Frank (whose notifications quote her name and text), a reaction, an image and
        // a text file attached to a message, a push subscription, a status text, a contact import, a block, a live connection.
        var conversationId = (await platform.CreateConversationAsync(erin, "group", [frank], "Deletion group")).GetProperty("id").GetGuid();
        var image = await UploadAsync(erin, TestImages.RandomPng(64, 48), "image/png", $"{marker}-photo.png");
        var notes = await UploadAsync(erin, Encoding.UTF8.GetBytes($"private notes of {marker}\n"), "text/plain", $"{marker}-notes.txt");
        await platform.SendAsync(erin, conversationId, $"hello from {marker}, see the files", image, notes);
        await platform.SendAsync(erin, conversationId, $"second words of {marker.ToUpperInvariant()}");
        var franks = (await platform.SendAsync(frank, conversationId, "welcome")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await erin.Http.PutAsync($"api/v1/conversations/{conversationId}/messages/{franks}/reactions/{Uri.EscapeDataString("👍")}", null),
            HttpStatusCode.OK, "Erin reacts", platform.Messaging);
        await platform.ReadAsync(await erin.Http.PostAsJsonAsync("api/v1/push-subscriptions", new { platform = "fcm", token = $"fcm{marker}" }),
            HttpStatusCode.Created, "Erin subscribes to pushes", platform.Notifications);
        await platform.ReadAsync(await erin.Http.PutAsJsonAsync("api/v1/presence/me", new { status = "available", statusText = $"busy with {marker}" }),
            HttpStatusCode.OK, "Erin's status text", platform.Presence);
        await platform.ReadAsync(await erin.Http.PatchAsJsonAsync("api/v1/users/me", new { statusText = $"about {marker}" }),
            HttpStatusCode.OK, "Erin's profile status", platform.Identity);
        await platform.ReadAsync(await erin.Http.PostAsJsonAsync("api/v1/contacts/import", new { emails = new[] { frank.Email, $"{marker}.friend@example.com" } }),
            HttpStatusCode.OK, "Erin imports contacts", platform.Identity);
        await platform.ReadAsync(await erin.Http.PutAsync($"api/v1/users/me/blocks/{grace.Id}", null), HttpStatusCode.OK, "Erin blocks Grace", platform.Identity);
        var exportId = (await platform.ReadAsync(await erin.Http.PostAsync("api/v1/users/me/exports", null), HttpStatusCode.Accepted, "Erin exports", platform.Identity))
            .GetProperty("id").GetGuid();
        await platform.EventuallyAsync(async () => (await platform.ReadAsync(await erin.Http.GetAsync($"api/v1/users/me/exports/{exportId}"), HttpStatusCode.OK,
            "the export", platform.Identity)).GetProperty("status").GetString(), status => status == "ready", "Erin's export is ready", platform.Identity);
        await using var live = await platform.ConnectAsync(erin, platform.Gateway2);
        await platform.EventuallyAsync(async () => (await platform.ReadAsync(await frank.Http.GetAsync("api/v1/notifications"), HttpStatusCode.OK, "Frank's feed",
                platform.Notifications)).GetRawText(), feed => feed.Contains(marker, StringComparison.OrdinalIgnoreCase),
            "Frank's notifications quote Erin", platform.Notifications);
        // The dump sees the markers before the deletion (so its silence afterwards means something).
        var before = await TracesAsync(markers);
        foreach (var place in new[] { "identity.users", "identity.outbox", "messaging.mt_events", "messaging.mt_doc_message", "notifications.mt_doc_notification",
                     "notifications.mt_doc_push_subscription", "presence.users", "media.mt_doc_media", "the stored file" })
            Assert.Contains(before, trace => trace.StartsWith(place, StringComparison.Ordinal));

        // A wrong password or none deletes nothing.
        var wrong = await erin.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/v1/users/me") { Content = JsonContent.Create(new { password = "not the password" }) });
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal("application/problem+json", wrong.Content.Headers.ContentType?.MediaType);
        var none = await erin.Http.DeleteAsync("api/v1/users/me");
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
        await platform.ReadAsync(await erin.Http.GetAsync("api/v1/users/me"), HttpStatusCode.OK, "Erin's account is still there", platform.Identity);

        var deleted = await erin.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/v1/users/me") { Content = JsonContent.Create(new { password = WholePlatform.UserPassword }) });
        Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);

        Assert.Contains("deleted", await live.ClosedAsync("Erin's connection is closed by Gateway 2"));
        await platform.EventuallyAsync(() => TracesAsync(markers), traces => traces.Count == 0, "no table or stored file holds a trace of Erin",
            platform.Identity, platform.Messaging, platform.Presence, platform.Notifications, platform.Media);

        // The export (which held all of it) is gone with the account.
        await using (var connection = new NpgsqlConnection(platform.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var exports = new NpgsqlCommand("""SELECT count(*) FROM identity.data_exports WHERE "UserId" = $1""", connection) { Parameters = { new() { Value = erin.Id } } };
            Assert.Equal(0L, (long)(await exports.ExecuteScalarAsync())!);
        }
        await platform.EventuallyAsync(async () => (await erin.Http.GetAsync("api/v1/conversations")).StatusCode, status => status == HttpStatusCode.Unauthorized,
            "the Gateway refuses Erin's old token", platform.Messaging);
        Assert.Equal(HttpStatusCode.Unauthorized, (await erin.Http.GetAsync("api/v1/users/me")).StatusCode);
        using var anonymous = platform.Anonymous(platform.Gateway1);
        var signIn = await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = $"{marker}@example.com", ["password"] = WholePlatform.UserPassword,
            ["scope"] = "openid api",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);

        // Frank still reads the conversation: Erin's messages are tombstones, his own stays, Erin's reaction is gone.
        var history = await platform.ReadAsync(await frank.Http.GetAsync($"api/v1/conversations/{conversationId}/messages"), HttpStatusCode.OK, "Frank reads", platform.Messaging);
        var messages = history.GetProperty("items").EnumerateArray().ToList();
        var erins = messages.Where(m => m.GetProperty("senderId").GetGuid() == erin.Id).ToList();
        Assert.Equal(2, erins.Count);
        Assert.All(erins, m => Assert.True(m.GetProperty("deleted").GetBoolean()));
        Assert.All(erins, m => Assert.Equal("", m.GetProperty("text").GetString()));
        var his = messages.Single(m => m.GetProperty("id").GetGuid() == franks);
        Assert.Equal("welcome", his.GetProperty("text").GetString());
        Assert.Empty(his.GetProperty("reactions").EnumerateArray());
        var profile = await platform.ReadAsync(await frank.Http.GetAsync($"api/v1/users/{erin.Id}"), HttpStatusCode.OK, "Erin's tombstone", platform.Identity);
        Assert.Equal("Deleted user", profile.GetProperty("displayName").GetString());
    }

    [Fact]
    public async Task AServiceDownAtTheDeletion_ErasesWhenItIsBack()
    {
        var marker = "zq" + Guid.NewGuid().ToString("N")[..14];
        var erin = await RegisterAsync(marker, $"202{Random.Shared.Next(200, 999)}{Random.Shared.Next(0, 10000):0000}");
        await UploadAsync(erin, Encoding.UTF8.GetBytes($"kept while Media is down {marker}\n"), "text/plain", "notes.txt");
        Assert.Contains(await TracesAsync([marker]), trace => trace.StartsWith("the stored file", StringComparison.Ordinal));

        await platform.Media.StopAsync();
        try
        {
            var deleted = await erin.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/v1/users/me") { Content = JsonContent.Create(new { password = WholePlatform.UserPassword }) });
            Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);
            // Everything else is erased meanwhile; Media's queue keeps the event.
            await platform.EventuallyAsync(() => TracesAsync([marker]), traces => traces.All(t => t.StartsWith("media.", StringComparison.Ordinal) || t.StartsWith("the stored file", StringComparison.Ordinal)),
                "every service but Media has erased Erin", platform.Identity, platform.Messaging, platform.Notifications, platform.Presence);
            Assert.Contains(await TracesAsync([marker]), trace => trace.StartsWith("the stored file", StringComparison.Ordinal));
        }
        finally
        {
            await platform.Media.StartAsync();
            await platform.ConsumingAsync(platform.Media);
        }
        await platform.EventuallyAsync(() => TracesAsync([marker]), traces => traces.Count == 0, "Media erases Erin's file once it is back", platform.Media);
    }

    private async Task<User> RegisterAsync(string marker, string phoneDigits)
    {
        using var anonymous = platform.Anonymous(platform.Gateway1);
        var email = $"{marker}@example.com";
        var registered = await platform.ReadAsync(await anonymous.PostAsJsonAsync("api/v1/users", new
        {
            email, phone = "+1" + phoneDigits, password = WholePlatform.UserPassword, displayName = $"Erin {marker}", username = $"erin_{marker}",
        }), HttpStatusCode.Created, "registration", platform.Identity);
        var signedIn = await platform.ReadAsync(await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = email, ["password"] = WholePlatform.UserPassword,
            ["scope"] = "openid profile email offline_access api",
        })), HttpStatusCode.OK, "sign-in", platform.Identity);
        var token = signedIn.GetProperty("access_token").GetString()!;
        var http = platform.Anonymous(platform.Gateway1);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new User(registered.GetProperty("id").GetGuid(), registered.GetProperty("username").GetString()!, token, http) { Email = email };
    }

    private async Task<Guid> UploadAsync(User uploader, byte[] bytes, string contentType, string fileName)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        form.Add(file, "file", fileName);
        return (await platform.ReadAsync(await uploader.Http.PostAsync("api/v1/media", form), HttpStatusCode.Created, "uploading " + fileName, platform.Media))
            .GetProperty("id").GetGuid();
    }

    /// <summary>
    /// Where any of <paramref name="markers"/> (case-insensitive) still is: every row of every table of every schema of the
    /// platform's database, as JSON, and every file Media stores.
    /// </summary>
    private async Task<List<string>> TracesAsync(string[] markers)
    {
        var traces = new List<string>();
        await using var connection = new NpgsqlConnection(platform.Database.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<(string Schema, string Table)>();
        await using (var list = new NpgsqlCommand("""
            SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
            """, connection))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                tables.Add((reader.GetString(0), reader.GetString(1)));
        Assert.Contains(tables, t => t is { Schema: "messaging", Table: "mt_events" });
        foreach (var (schema, table) in tables)
        {
            await using var dump = new NpgsqlCommand($"""SELECT row_to_json(t)::text FROM "{schema}"."{table}" t""", connection);
            await using var rows = await dump.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                var row = rows.GetString(0);
                foreach (var marker in markers.Where(m => row.Contains(m, StringComparison.OrdinalIgnoreCase)))
                    traces.Add($"{schema}.{table}: {marker} in {(row.Length > 300 ? row[..300] + "..." : row)}");
            }
        }
        if (Directory.Exists(platform.MediaBlobs))
            foreach (var path in Directory.EnumerateFiles(platform.MediaBlobs, "*", SearchOption.AllDirectories))
            {
                var content = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(path));
                foreach (var marker in markers.Where(m => content.Contains(m, StringComparison.OrdinalIgnoreCase) || path.Contains(m, StringComparison.OrdinalIgnoreCase)))
                    traces.Add($"the stored file {path}: {marker}");
            }
        return traces;
    }
}
