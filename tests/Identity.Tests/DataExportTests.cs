using System.IO.Compression;
using System.Net;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>Data exports as Identity alone serves them (no other service configured: the manifest says which parts are missing).</summary>
public sealed class DataExportTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Export_HoldsTheProfileContactsBlocksPrivacyAndSessions_AndOnlyItsOwnerReadsIt()
    {
        var other = await _http.RegisterAsync(displayName: "Other Person");
        // Contact import finds verified addresses only.
        await identity.VerifyAsync(other);
        var account = await _http.RegisterAsync(displayName: "Exporting Person");
        var token = await _http.TokenAsync(account);
        var otherToken = await _http.TokenAsync(other);
        Assert.True((await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { emails = new[] { other.Email } })).IsSuccessStatusCode);
        Assert.True((await _http.SendAsync(HttpMethod.Put, "/api/v1/users/me/privacy", token, new { lastSeen = "nobody" })).IsSuccessStatusCode);

        var created = await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/exports", token);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = (await created.JsonAsync()).GetProperty("id").GetGuid();
        var status = await Eventually.Returns(async () => await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/me/exports/{id}", token)).JsonAsync(),
            s => s.GetProperty("status").GetString() != "pending", TimeSpan.FromSeconds(20), "the export is built");
        Assert.Equal("ready", status.GetProperty("status").GetString());
        var archivePath = new Uri(status.GetProperty("downloadUrl").GetString()!).PathAndQuery;
        Assert.Equal($"/api/v1/users/me/exports/{id}/archive", archivePath);

        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/me/exports/{id}", otherToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Get, archivePath, otherToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, archivePath, null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/me/exports/{Guid.NewGuid()}", token)).StatusCode);

        var download = await _http.SendAsync(HttpMethod.Get, archivePath, token);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        using var zip = new ZipArchive(new MemoryStream(await download.Content.ReadAsByteArrayAsync()), ZipArchiveMode.Read);
        JsonElement Read(string name)
        {
            var entry = zip.GetEntry(name);
            Assert.NotNull(entry);
            using var stream = entry.Open();
            return JsonDocument.Parse(stream).RootElement.Clone();
        }
        Assert.Equal(account.Email, Read("identity/profile.json").GetProperty("email").GetString());
        Assert.Equal(other.Id, Read("identity/contacts.json")[0].GetProperty("userId").GetGuid());
        Assert.Equal("nobody", Read("identity/privacy.json").GetProperty("lastSeen").GetString());
        Assert.True(Read("identity/sessions.json").GetArrayLength() >= 1);
        Assert.Equal(0, Read("identity/blocks.json").GetArrayLength());
        var parts = Read("manifest.json").GetProperty("parts");
        Assert.Equal("included", parts.GetProperty("identity").GetString());
        Assert.Equal("not configured", parts.GetProperty("messaging").GetString());
    }

    [Fact]
    public async Task Exports_AreRateLimitedPerUser()
    {
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);
        HttpResponseMessage answer = null!;
        for (var i = 0; i < 10; i++)
        {
            answer = await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/exports", token);
            if (answer.StatusCode == HttpStatusCode.TooManyRequests)
                break;
            // One at a time: a second while the first is pending is a conflict naming the first.
            if (answer.StatusCode == HttpStatusCode.Conflict)
            {
                Assert.True((await answer.JsonAsync()).TryGetProperty("id", out _));
                continue;
            }
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            var id = (await answer.JsonAsync()).GetProperty("id").GetGuid();
            await Eventually.Returns(async () => (await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/me/exports/{id}", token)).JsonAsync()).GetProperty("status").GetString(),
                s => s != "pending", TimeSpan.FromSeconds(20), "the export is built");
        }
        await Api.AssertProblemAsync(answer, HttpStatusCode.TooManyRequests);
        Assert.NotNull(answer.Headers.RetryAfter);
    }
}
