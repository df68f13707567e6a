using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Platform.Contracts.Identity;
using Platform.Testing;

namespace Platform.Identity.Tests;

public sealed class ContactTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    private static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    [Fact]
    public async Task Import_OfAThousandEmailsAndPhones_AnswersExactlyTheRegisteredOnes()
    {
        var byEmail = await _http.RegisterAsync(email: Api.UniqueEmail("friend"));
        var byPhone = await _http.RegisterAsync(phone: Api.UniquePhone());
        await identity.VerifyAsync(byEmail, byPhone);
        var me = await _http.RegisterAsync();
        var token = await _http.TokenAsync(me);
        var emails = Enumerable.Range(0, 599).Select(i => $"stranger{i}-{Guid.NewGuid():N}@example.com").Append(byEmail.Email!.ToUpperInvariant()).ToArray();
        var national = $"({byPhone.Phone![2..5]}) {byPhone.Phone[5..8]}-{byPhone.Phone[8..]}";
        var phones = Enumerable.Range(0, 399).Select(i => $"+1202{Random.Shared.Next(300, 400)}{i:0000}").Where(p => p != byPhone.Phone).Take(399).Append(national).ToArray();

        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { emails, phones });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(["matches"], body.EnumerateObject().Select(p => p.Name));
        var matches = body.GetProperty("matches").EnumerateArray()
            .Select(m => (m.GetProperty("userId").GetGuid(), m.GetProperty("match").GetString()!)).OrderBy(m => m.Item2).ToList();
        Assert.Equal(new[] { (byPhone.Id, national), (byEmail.Id, byEmail.Email!.ToUpperInvariant()) }.OrderBy(m => m.Item2), matches);
    }

    [Fact]
    public async Task Import_OfAThousandHashes_AnswersExactlyTheRegisteredOnes_AndAddsThemAsContacts()
    {
        var byEmail = await _http.RegisterAsync(email: Api.UniqueEmail("hashed"));
        var byPhone = await _http.RegisterAsync(phone: Api.UniquePhone());
        await identity.VerifyAsync(byEmail, byPhone);
        var me = await _http.RegisterAsync();
        var token = await _http.TokenAsync(me);
        var hashes = Enumerable.Range(0, 998).Select(i => Sha256($"nobody{i}-{Guid.NewGuid():N}@example.com"))
            .Append(Sha256(byEmail.Email!)).Append(Sha256(byPhone.Phone!).ToUpperInvariant()).ToArray();

        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { hashes });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var matched = (await response.JsonAsync()).GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("userId").GetGuid()).ToHashSet();
        Assert.Equal(new HashSet<Guid> { byEmail.Id, byPhone.Id }, matched);
        var contacts = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", token)).JsonAsync();
        var listed = contacts.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(matched, listed.Select(c => c.GetProperty("userId").GetGuid()).ToHashSet());
        Assert.All(listed, c => Assert.True(c.GetProperty("registered").GetBoolean()));
        Assert.All(listed, c => Assert.False(c.TryGetProperty("email", out _)));
    }

    [Fact]
    public async Task Import_OfMoreThanAThousandEntries_Returns400()
    {
        var token = await _http.TokenAsync(await _http.RegisterAsync());
        var hashes = Enumerable.Range(0, 1001).Select(i => Sha256(i.ToString())).ToArray();

        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { hashes });

        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("""{"hashes": ["abc"]}""")]
    [InlineData("""{"emails": ["not-an-email"]}""")]
    [InlineData("""{"phones": ["12"]}""")]
    [InlineData("""{"emails": "a@example.com"}""")]
    [InlineData("""{"emails": [1, 2]}""")]
    [InlineData("""{"contacts": []}""")]
    [InlineData("""{"emails": [""")]
    public async Task Import_WithBadInput_Returns400(string json)
    {
        var token = await _http.TokenAsync(await _http.RegisterAsync());

        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new StringContent(json, Encoding.UTF8, "application/json"));

        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task DeleteContact_RemovesItFromMyList_AndUnknownOnesAre404()
    {
        var friend = await _http.RegisterAsync();
        await identity.VerifyAsync(friend);
        var token = await _http.TokenAsync(await _http.RegisterAsync());
        await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { emails = new[] { friend.Email } });

        var deleted = await _http.SendAsync(HttpMethod.Delete, $"/api/v1/contacts/{friend.Id}", token);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var contacts = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", token)).JsonAsync();
        Assert.Empty(contacts.GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/contacts/{friend.Id}", token)).StatusCode);
    }

    [Fact]
    public async Task Import_BeyondTheRateLimit_Returns429ProblemDetails()
    {
        await using var limited = identity.NewFactory();
        limited.WithSetting("Identity:ContactImport:PermitLimit", "2");
        var http = await identity.StartAsync(limited);
        var token = await http.TokenAsync(await http.RegisterAsync());
        var body = new { hashes = new[] { Sha256("someone") } };

        var first = await http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, body);
        var second = await http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, body);
        var third = await http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, body);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        await Api.AssertProblemAsync(third, HttpStatusCode.TooManyRequests);
        // The limit is per user: somebody else still gets through.
        var other = await http.TokenAsync(await http.RegisterAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", other, body)).StatusCode);
    }

    [Fact]
    public async Task Invite_ThenRegisterWithItsToken_MakesBothContacts_AndPublishesInviteCreatedAndUserRegistered()
    {
        await using var events = await EventRecorder.StartAsync<InviteCreated, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var inviter = await _http.RegisterAsync();
        var inviterToken = await _http.TokenAsync(inviter);
        var inviteeEmail = Api.UniqueEmail("invitee");

        var created = await _http.SendAsync(HttpMethod.Post, "/api/v1/invites", inviterToken, new { email = inviteeEmail });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var invite = await created.JsonAsync();
        var token = invite.GetProperty("token").GetString()!;
        var published = await events.WaitForAsync<InviteCreated>(e => e.InviteId == invite.GetProperty("id").GetGuid());
        Assert.Equal(inviter.Id, published.InvitedBy);
        Assert.Equal(inviteeEmail, published.Email);
        Assert.Equal(token, published.Token);

        var invitee = await _http.RegisterAsync(email: inviteeEmail, inviteToken: token);

        var registered = await events.WaitForAsync<UserRegistered>(e => e.UserId == invitee.Id);
        Assert.Equal(inviter.Id, registered.InvitedBy);
        var inviterContacts = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", inviterToken)).JsonAsync();
        Assert.Contains(invitee.Id, inviterContacts.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("userId").GetGuid()));
        var inviteeContacts = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", await _http.TokenAsync(invitee))).JsonAsync();
        Assert.Contains(inviter.Id, inviteeContacts.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("userId").GetGuid()));

        // An invite works once.
        var again = await _http.PostAsJsonAsync("/api/v1/users", new { email = Api.UniqueEmail(), password = Api.Password, displayName = "Late", inviteToken = token });
        await Api.AssertProblemAsync(again, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ImportAndDelete_PublishContactsChanged_ForPresenceToShareOnlyWithContacts()
    {
        await using var events = await EventRecorder.StartAsync<ContactsChanged, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var friend = await _http.RegisterAsync(email: Api.UniqueEmail("friend"));
        await identity.VerifyAsync(friend);
        var me = await _http.RegisterAsync();
        var token = await _http.TokenAsync(me);

        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token, new { emails = new[] { friend.Email } })).StatusCode);
        var added = await events.WaitForAsync<ContactsChanged>(e => e.OwnerId == me.Id && e.Added.Count > 0);
        Assert.Equal([friend.Id], added.Added);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/contacts/{friend.Id}", token)).StatusCode);
        var removed = await events.WaitForAsync<ContactsChanged>(e => e.OwnerId == me.Id && e.Removed.Count > 0);
        Assert.Equal([friend.Id], removed.Removed);
        Assert.True(removed.ChangedAt >= added.ChangedAt);

        // Deleting someone who is not a contact changes nothing and publishes nothing.
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/contacts/{friend.Id}", token)).StatusCode);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"email": "a@example.com", "phone": "+12025550100"}""")]
    [InlineData("""{"email": "nope"}""")]
    [InlineData("""{"phone": 12}""")]
    public async Task Invite_WithBadInput_Returns400(string json)
    {
        var token = await _http.TokenAsync(await _http.RegisterAsync());

        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/invites", token, new StringContent(json, Encoding.UTF8, "application/json"));

        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }
}
