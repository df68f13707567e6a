using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>
/// Password hashes run in turns (PasswordWork): a burst of sign-ups and sign-ins waits for its turn instead of filling
/// every thread with hashing, and what the queue cannot hold is refused at once with 503 and Retry-After.
/// </summary>
public sealed class PasswordWorkTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    [Fact]
    public async Task ABurstOfSignUpsAndSignIns_WaitsItsTurn_OneHashAtATime_AndAllSucceed()
    {
        var hashing = new HashingTracker();
        await using var factory = Factory(hashing, concurrency: 1, queueLimit: 100);
        var http = await identity.StartAsync(factory);
        var accounts = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => http.RegisterAsync()));

        var signIns = await Task.WhenAll(accounts.Select(account => http.PasswordGrantAsync(account.Username, account.Password)));

        Assert.All(signIns, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(12, hashing.Calls);
        Assert.Equal(1, hashing.MostAtOnce);
    }

    [Fact]
    public async Task SignUps_BeyondWhatTheQueueHolds_AreRefusedAtOnce_With503AndRetryAfter_AndNothingHalfDone()
    {
        await using var factory = Factory(new HashingTracker(), concurrency: 1, queueLimit: 1);
        var http = await identity.StartAsync(factory);
        var before = await identity.CountUsersAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            http.PostAsJsonAsync("/api/v1/users", new { email = Api.UniqueEmail(), password = Api.Password, displayName = "Burst" })));

        var created = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Equal(responses.Length, created + refused.Count);
        Assert.NotEmpty(refused);
        Assert.True(created >= 2, $"only {created} created");
        foreach (var response in refused)
        {
            await Api.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
        }
        Assert.Equal(before + created, await identity.CountUsersAsync());
    }

    [Fact]
    public async Task SignUpsOfTheSameName_AtTheSameMoment_AllSucceed_EachWithItsOwnUsername()
    {
        await using var factory = identity.NewFactory();
        var http = await identity.StartAsync(factory);
        var displayName = "Same " + Guid.NewGuid().ToString("N")[..8];

        var accounts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => http.RegisterAsync(displayName: displayName)));

        Assert.Equal(8, accounts.Select(a => a.Username).Distinct().Count());
    }

    private ServiceFactory<Program> Factory(HashingTracker hashing, int concurrency, int queueLimit) => identity.NewFactory()
        .WithSetting("Identity:PasswordWork:Concurrency", concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .WithSetting("Identity:PasswordWork:QueueLimit", queueLimit.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .WithServices(services => services.AddScoped<IPasswordHasher<User>>(provider =>
            new TrackedHasher(provider.GetRequiredService<IOptions<PasswordHasherOptions>>(), hashing)));

    /// <summary>How many hashes and verifies ran, and the most that ran at the same time.</summary>
    private sealed class HashingTracker
    {
        private int _running;
        private int _calls;
        private int _most;

        public int Calls => Volatile.Read(ref _calls);

        public int MostAtOnce => Volatile.Read(ref _most);

        public T Run<T>(Func<T> work)
        {
            Interlocked.Increment(ref _calls);
            var now = Interlocked.Increment(ref _running);
            for (var most = Volatile.Read(ref _most); now > most; most = Volatile.Read(ref _most))
                Interlocked.CompareExchange(ref _most, now, most);
            try
            {
                return work();
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    private sealed class TrackedHasher(IOptions<PasswordHasherOptions> options, HashingTracker hashing) : IPasswordHasher<User>
    {
        private readonly ExactCostPasswordHasher _hasher = new(options);

        public string HashPassword(User user, string password) => hashing.Run(() => _hasher.HashPassword(user, password));

        public PasswordVerificationResult VerifyHashedPassword(User user, string hashedPassword, string providedPassword) =>
            hashing.Run(() => _hasher.VerifyHashedPassword(user, hashedPassword, providedPassword));
    }
}
