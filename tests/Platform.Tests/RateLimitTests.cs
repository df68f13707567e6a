using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Tests;

/// <summary>
/// The Gateway's rate limits with their default settings, met by a client on the public internet. The test processes
/// exempt loopback callers (appsettings.Testing.json), so these requests name another client address in
/// <c>X-Forwarded-For</c>, which the Gateway takes from a trusted hop as an ingress controller would send it.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class RateLimitTests(WholePlatform platform)
{
    private static int _addresses;

    // A documentation address (RFC 5737) of its own for each use: buckets of other tests are not shared.
    private static string NewClientAddress() => $"198.51.100.{Interlocked.Increment(ref _addresses)}";

    private static HttpRequestMessage From(string address, HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-Forwarded-For", address);
        return request;
    }

    private static async Task AssertTooManyRequestsAsync(HttpResponseMessage response, string rule)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(response.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, "429 names when to come back");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Equal(rule, problem.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task SixtySendsInASecond_AreNotAllAccepted_AndEveryAcceptedOneIsStored()
    {
        var alice = await platform.SignUpAsync("Alice Floods");
        var bob = await platform.SignUpAsync("Bob Flooded");
        var conversationId = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        var address = NewClientAddress();

        var accepted = 0;
        HttpResponseMessage? refused = null;
        var started = DateTime.UtcNow;
        for (var i = 0; i < 60; i++)
        {
            var response = await alice.Http.SendAsync(From(address, HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages",
                new { clientMessageId = $"flood-{i}", text = $"flood {i}" }));
            if (response.StatusCode == HttpStatusCode.Created)
                accepted++;
            else
                refused ??= response;
        }
        var elapsed = DateTime.UtcNow - started;

        Assert.NotNull(refused);
        await AssertTooManyRequestsAsync(refused, "send");
        // The default: a burst of 20, then one more every 200 ms.
        Assert.InRange(accepted, 20, 21 + (int)(elapsed.TotalMilliseconds / 200));
        var messages = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{conversationId}/messages?limit=100"),
            HttpStatusCode.OK, "Bob reads the conversation", platform.Messaging);
        Assert.Equal(accepted, messages.GetProperty("items").GetArrayLength());

        // The limit is Alice's, not the address's: Bob sends from the same address.
        var bobSends = await bob.Http.SendAsync(From(address, HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages",
            new { clientMessageId = "bob-1", text = "still here" }));
        Assert.Equal(HttpStatusCode.Created, bobSends.StatusCode);
        // And Alice may send again once the bucket refills: waiting the Retry-After she was given is what is under test.
        await Task.Delay(refused.Headers.RetryAfter!.Delta!.Value);
        var later = await alice.Http.SendAsync(From(address, HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages",
            new { clientMessageId = "flood-later", text = "after waiting" }));
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
    }

    [Fact]
    public async Task Registrations_AreLimitedPerClientAddress()
    {
        using var anonymous = platform.Anonymous(platform.Gateway2);
        var address = NewClientAddress();
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 12; i++)
            answers.Add(await anonymous.SendAsync(From(address, HttpMethod.Post, "api/v1/users",
                new { email = $"{Guid.NewGuid():N}@example.com", password = WholePlatform.UserPassword, displayName = $"Squatter {i}" })));

        Assert.Equal(10, answers.Count(answer => answer.StatusCode == HttpStatusCode.Created));
        await AssertTooManyRequestsAsync(answers.Last(), "register");
        var elsewhere = await anonymous.SendAsync(From(NewClientAddress(), HttpMethod.Post, "api/v1/users",
            new { email = $"{Guid.NewGuid():N}@example.com", password = WholePlatform.UserPassword, displayName = "From Elsewhere" }));
        Assert.Equal(HttpStatusCode.Created, elsewhere.StatusCode);
    }

    [Fact]
    public async Task PasswordGuessesAtTheTokenEndpoint_AreLimitedPerClientAddress_WhateverTheAccount()
    {
        using var anonymous = platform.Anonymous(platform.Gateway1);
        var address = NewClientAddress();
        // At once, as a spraying script would: the Gateway decides on arrival, before Identity spends a hash on any.
        var answers = await Task.WhenAll(Enumerable.Range(0, 45).Select(i =>
        {
            var request = From(address, HttpMethod.Post, "connect/token");
            request.Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["client_id"] = "platform-cli",
                ["username"] = $"victim{i}@example.com",
                ["password"] = "guess",
                ["scope"] = "openid api",
            });
            return anonymous.SendAsync(request);
        }));

        var refused = answers.Where(answer => answer.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        // A burst of 30, then one more every 2 s.
        Assert.InRange(refused.Count, 5, 15);
        await AssertTooManyRequestsAsync(refused[0], "sign-in");
        // The rest reached Identity: wrong guesses (400), or 503 with Retry-After while thirty hashes at once exceed it.
        Assert.All(answers.Except(refused), answer => Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.ServiceUnavailable }));
    }

    [Fact]
    public async Task VerificationRequests_AreLimitedPerUser_WhateverTheAddress()
    {
        // Codes by mail or SMS cost money and annoy their recipient; guessing a code is bounded by Identity too.
        var alice = await platform.SignUpAsync("Alice Asks For Codes");
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 7; i++)
            answers.Add(await alice.Http.SendAsync(From(NewClientAddress(), HttpMethod.Post, "api/v1/users/me/verification/confirm", new { channel = "email", code = "000000" })));

        Assert.Equal(5, answers.Count(answer => answer.StatusCode == HttpStatusCode.BadRequest));
        await AssertTooManyRequestsAsync(answers.Last(), "verification");
        var bob = await platform.SignUpAsync("Bob Asks Once");
        var other = await bob.Http.SendAsync(From(NewClientAddress(), HttpMethod.Post, "api/v1/users/me/verification", new { channel = "email" }));
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
    }

    [Fact]
    public async Task ALinkPreviewFlood_IsRefusedAtTheGateway()
    {
        var alice = await platform.SignUpAsync("Alice Previews");
        var address = NewClientAddress();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 40 && refused is null; i++)
        {
            var response = await alice.Http.SendAsync(From(address, HttpMethod.Get, $"api/v1/link-previews?url={Uri.EscapeDataString($"{platform.Site}articles/p{i}")}"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                refused = response;
        }
        Assert.NotNull(refused);
        await AssertTooManyRequestsAsync(refused, "link-preview");
    }

    [Fact]
    public async Task ASearchFlood_IsRefusedAtTheGateway_BeforeItReachesTheDatabase()
    {
        // A full-text query over a user's whole history is the most expensive read there is: 40 at once would hold
        // Messaging's database (at a million messages a frequent word takes Messaging seconds; see BENCHMARKS.md).
        var alice = await platform.SignUpAsync("Alice Searches");
        var address = NewClientAddress();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 40 && refused is null; i++)
        {
            var response = await alice.Http.SendAsync(From(address, HttpMethod.Get, $"api/v1/search/messages?q=word{i}"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                refused = response;
            else
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.NotNull(refused);
        await AssertTooManyRequestsAsync(refused, "search");
    }

    [Fact]
    public async Task HubConnections_AreLimitedPerUser_WithOrWithoutNegotiation()
    {
        // A client may skip SignalR's negotiate request (WebSockets straight away): the connection request itself counts.
        var alice = await platform.SignUpAsync("Alice Reconnects");
        var address = NewClientAddress();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 60 && refused is null; i++)
        {
            var response = await alice.Http.SendAsync(From(address, HttpMethod.Get, "hubs/chat"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                refused = response;
        }
        Assert.NotNull(refused);
        await AssertTooManyRequestsAsync(refused, "connect");

        // The later requests of a negotiated connection (a long-polling client's polls) were counted when it negotiated.
        var polls = new List<HttpStatusCode>();
        for (var i = 0; i < 60; i++)
            polls.Add((await alice.Http.SendAsync(From(address, HttpMethod.Get, "hubs/chat?id=unknown-connection"))).StatusCode);
        Assert.DoesNotContain(HttpStatusCode.TooManyRequests, polls);
    }
}
