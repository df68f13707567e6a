using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Features;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>
/// Failed sign-ins slow further attempts down per name and address, per address and per name; nothing locks an
/// account. The clock is fake, so each wait is crossed by moving it, never by sleeping. Each request says which
/// client address it comes from (a test-only header read before everything else).
/// </summary>
public sealed class SignInThrottleTests(IdentityHost identity) : IClassFixture<IdentityHost>, IAsyncLifetime
{
    private const string AddressHeader = "X-Test-Client-Address";

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private ServiceFactory<Program> _identity = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _identity = identity.NewFactory();
        _identity.WithSetting("Identity:SignInThrottle:FreeFailuresPerAddress", "12")
            .WithServices(services =>
            {
                services.AddSingleton<TimeProvider>(_clock);
                services.AddSingleton<IStartupFilter, ClientAddressFromHeader>();
            });
        _http = await identity.StartAsync(_identity);
    }

    public async Task DisposeAsync() => await _identity.DisposeAsync();

    [Fact]
    public void Delay_IsZeroForTheFreeFailures_ThenDoublesUpToTheCap()
    {
        var first = TimeSpan.FromSeconds(1);
        var max = TimeSpan.FromMinutes(15);

        Assert.Equal([0, 0, 0, 1, 2, 4, 8], Enumerable.Range(1, 7).Select(f => SignInThrottle.Delay(f, 3, first, max).TotalSeconds));
        Assert.Equal(max, SignInThrottle.Delay(20, 3, first, max));
        Assert.Equal(max, SignInThrottle.Delay(int.MaxValue, 3, first, max));
    }

    [Fact]
    public async Task AWrongPasswordAndAnUnknownName_GetTheSameAnswers_WrongOrThrottled()
    {
        var account = await _http.RegisterAsync();

        var known = await AttemptsAsync(account.Username, "198.51.100.1", 6);
        var unknown = await AttemptsAsync("nobody-" + Guid.NewGuid().ToString("N")[..12], "198.51.100.2", 6);

        Assert.Equal(known, unknown);
        Assert.Equal(["wrong", "wrong", "wrong", "wrong", "throttled 1", "throttled 1"], known);
    }

    [Fact]
    public async Task TheRightPassword_FromAThrottledNameAndAddress_WaitsLikeAWrongOne_ThenWorks_AndNothingLocksTheAccount()
    {
        var account = await _http.RegisterAsync();
        for (var i = 0; i < 5; i++)
        {
            await SignInAsync(account.Username, "wrong-password", "198.51.100.10");
            _clock.Advance(TimeSpan.FromSeconds(1));
        }
        // Five failures: the fifth asks for 2 s before the next attempt is even checked.
        Assert.Equal("throttled 1", Describe(await SignInAsync(account.Username, account.Password, "198.51.100.10")));

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(account.Username, account.Password, "198.51.100.10")).Status);
        // The success cleared this name and address: the next mistake is free again.
        Assert.Equal("wrong", Describe(await SignInAsync(account.Username, "wrong-password", "198.51.100.10")));
    }

    [Fact]
    public async Task AnAttackerOnManyAddresses_CannotKeepTheOwnerOutOfTheirUsualAddress()
    {
        var owner = await _http.RegisterAsync();
        const string home = "203.0.113.50";
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(owner.Username, owner.Password, home)).Status);

        // 11 failures spread over 6 addresses: no single address is held back, but the account's own counter is.
        for (var i = 0; i < 11; i++)
            Assert.Equal("wrong", Describe(await SignInAsync(owner.Username, "guess-" + i, $"192.0.2.{i / 2 + 1}")));
        Assert.StartsWith("throttled", Describe(await SignInAsync(owner.Username, "another-guess", "192.0.2.99")));

        var atHome = await SignInAsync(owner.Username, owner.Password, home);

        Assert.Equal(HttpStatusCode.OK, atHome.Status);
    }

    [Fact]
    public async Task AnAttackerHammeringOneAddress_DoesNotHoldBackTheOwnerElsewhere()
    {
        var owner = await _http.RegisterAsync();
        for (var i = 0; i < 6; i++)
            await SignInAsync(owner.Username, "guess-" + i, "192.0.2.200");
        Assert.StartsWith("throttled", Describe(await SignInAsync(owner.Username, owner.Password, "192.0.2.200")));

        // An address the owner never used before: the attacker's six failures are below the account's free ten.
        var elsewhere = await SignInAsync(owner.Username, owner.Password, "203.0.113.77");

        Assert.Equal(HttpStatusCode.OK, elsewhere.Status);
    }

    [Fact]
    public async Task PasswordSpraying_FromOneAddress_IsThrottledAcrossNames_WithoutCheckingPasswords()
    {
        var victim = await _http.RegisterAsync();
        const string sprayer = "192.0.2.150";
        for (var i = 0; i < 12; i++)
            Assert.Equal("wrong", Describe(await SignInAsync($"sprayed-{i}-{Guid.NewGuid():N}", "Summer2026!", sprayer)));
        Assert.Equal("wrong", Describe(await SignInAsync(victim.Username, "Summer2026!", sprayer)));

        var right = await SignInAsync(victim.Username, victim.Password, sprayer);

        Assert.Equal("throttled 1", Describe(right));
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(victim.Username, victim.Password, "203.0.113.9")).Status);
    }

    [Fact]
    public async Task TheLoginForm_IsThrottledToo_With429AndRetryAfter()
    {
        var account = await _http.RegisterAsync();
        using var browser = _identity.CreateClient();
        browser.DefaultRequestHeaders.Add(AddressHeader, "198.51.100.77");
        HttpResponseMessage response = null!;
        for (var i = 0; i < 5; i++)
        {
            var page = await browser.GetStringAsync("/account/login");
            var token = new AngleSharp.Html.Parser.HtmlParser().ParseDocument(page).QuerySelector("input[type=hidden]")!;
            response = await browser.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                [token.GetAttribute("name")!] = token.GetAttribute("value")!,
                ["username"] = account.Username,
                ["password"] = i < 4 ? "wrong-password" : account.Password,
            }));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("Too many failed sign-ins", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(100_000)]
    [InlineData(600_000)]
    public async Task SignIn_WithAHashOfAnotherIterationCount_StillWorks_AndRehashesToTheConfiguredCount(int iterations)
    {
        var account = await _http.RegisterAsync();
        await _identity.InScopeAsync<bool>(async services =>
        {
            var users = services.GetRequiredService<UserManager<User>>();
            var user = (await users.FindByIdAsync(account.Id.ToString()))!;
            var other = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = iterations }));
            user.PasswordHash = other.HashPassword(user, Api.Password);
            await users.UpdateAsync(user);
            return true;
        });
        Assert.Equal(iterations, await StoredIterationsAsync(account.Id));

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(account.Username, Api.Password, "198.51.100.200")).Status);

        Assert.Equal(210_000, await StoredIterationsAsync(account.Id));
    }

    private Task<int?> StoredIterationsAsync(Guid userId) => _identity.InScopeAsync(async services =>
        ExactCostPasswordHasher.StoredIterations((await services.GetRequiredService<UserManager<User>>().FindByIdAsync(userId.ToString()))!.PasswordHash!));

    private async Task<List<string>> AttemptsAsync(string name, string address, int count)
    {
        var answers = new List<string>();
        for (var i = 0; i < count; i++)
            answers.Add(Describe(await SignInAsync(name, "wrong-password-" + i, address)));
        return answers;
    }

    private async Task<Answer> SignInAsync(string name, string password, string address)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = name, ["password"] = password,
                ["scope"] = "openid api",
            }),
        };
        request.Headers.Add(AddressHeader, address);
        var response = await _http.SendAsync(request);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return new Answer(response.StatusCode, json.TryGetProperty("error", out var error) ? error.GetString() : null,
            json.TryGetProperty("error_description", out var description) ? description.GetString() : null, response.Headers.RetryAfter?.Delta);
    }

    /// <summary>What a client can tell from the answer.</summary>
    private static string Describe(Answer answer) => answer switch
    {
        { Status: HttpStatusCode.OK } => "ok",
        { Error: "invalid_grant", Description: "The sign-in name or password is wrong.", RetryAfter: null } => "wrong",
        { Error: "invalid_grant", RetryAfter: { } wait } when answer.Description!.StartsWith("Too many failed sign-ins") => $"throttled {wait.TotalSeconds}",
        _ => $"unexpected {(int)answer.Status} {answer.Error} {answer.Description} {answer.RetryAfter}",
    };

    private sealed record Answer(HttpStatusCode Status, string? Error, string? Description, TimeSpan? RetryAfter);

    /// <summary>Sets the connection's remote address from <see cref="AddressHeader"/>, before any other middleware.</summary>
    private sealed class ClientAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, Func<Task> proceed) =>
            {
                if (context.Request.Headers.TryGetValue(AddressHeader, out var address))
                    context.Connection.RemoteIpAddress = IPAddress.Parse(address.ToString());
                return proceed();
            });
            next(app);
        };
    }
}
