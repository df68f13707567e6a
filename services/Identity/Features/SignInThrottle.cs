using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Platform.Identity.Data;

namespace Platform.Identity.Features;

/// <summary>
/// Slows down password guessing without ever locking an account. Failed sign-ins are counted under three keys: the
/// sign-in name from the client's address, the address alone, and the name alone. Past a number of free failures each
/// further failure doubles how long the key refuses attempts (<see cref="IdentityServiceOptions.SignInThrottleOptions"/>);
/// a refused attempt is answered at once, without hashing, and does not count. The name's own key does not hold back
/// addresses the account has signed in from, so an attacker elsewhere cannot keep the owner out.
/// Unknown names are counted exactly like known ones: the answers cannot tell them apart.
/// </summary>
public sealed class SignInThrottle(IdentityDb db, TimeProvider time, IOptions<IdentityServiceOptions> options)
{
    private IdentityServiceOptions.SignInThrottleOptions Settings => options.Value.SignInThrottle;

    /// <summary>How long this attempt must wait before it will be checked; zero when it may go ahead.</summary>
    public async Task<TimeSpan> WaitAsync(string account, Guid? userId, string address)
    {
        var now = time.GetUtcNow();
        // Asked for unknown names too, so both cost the same queries.
        var trusted = await db.SignInAddresses.AnyAsync(a => a.UserId == (userId ?? Guid.Empty) && a.Address == address
            && a.LastSuccessAt > now - Settings.TrustedAddressLifetime);
        var keys = trusted ? [PairKey(account, address), AddressKey(address)] : Keys(account, address);
        var until = await db.SignInCounters.Where(c => keys.Contains(c.Key) && c.BlockedUntil > now)
            .MaxAsync(c => c.BlockedUntil);
        return until is { } blocked ? blocked - now : TimeSpan.Zero;
    }

    public async Task RecordFailureAsync(string account, string address)
    {
        var settings = Settings;
        await CountAsync(PairKey(account, address), settings.FreeFailuresPerAccountAndAddress, settings.MaxDelay);
        await CountAsync(AddressKey(address), settings.FreeFailuresPerAddress, settings.MaxDelay);
        await CountAsync(AccountKey(account), settings.FreeFailuresPerAccount, settings.MaxAccountDelay);
        if (Random.Shared.Next(200) == 0)
            await ForgetOldFailuresAsync();
    }

    /// <summary>The right password: this name from this address starts afresh, and the address is one of the account's.</summary>
    public async Task RecordSuccessAsync(string account, Guid userId, string address)
    {
        var now = time.GetUtcNow();
        await db.SignInCounters.Where(c => c.Key == PairKey(account, address)).ExecuteDeleteAsync();
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO identity.sign_in_addresses ("UserId", "Address", "LastSuccessAt") VALUES ({userId}, {address}, {now})
            ON CONFLICT ("UserId", "Address") DO UPDATE SET "LastSuccessAt" = excluded."LastSuccessAt"
            """);
    }

    /// <summary>How long a key refuses attempts after its <paramref name="failures"/>-th failure.</summary>
    public static TimeSpan Delay(int failures, int free, TimeSpan first, TimeSpan max)
    {
        if (failures <= free)
            return TimeSpan.Zero;
        var doublings = Math.Min(failures - free - 1, 40);
        var ticks = first.Ticks * Math.Pow(2, doublings);
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// The client's address as throttling sees it: IPv4 as is (also when mapped into IPv6), IPv6 by its /64, the
    /// smallest block a single subscriber is usually given.
    /// </summary>
    public static string AddressOf(HttpContext context) => context.Connection.RemoteIpAddress switch
    {
        null => "unknown",
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        { AddressFamily: AddressFamily.InterNetworkV6 } v6 => new IPNetwork(v6, 64).BaseAddress + "/64",
        var v4 => v4.ToString(),
    };

    private async Task CountAsync(string key, int free, TimeSpan max)
    {
        var now = time.GetUtcNow();
        var settings = Settings;
        var stale = now - settings.Window;
        var failures = (await db.Database.SqlQuery<int>($"""
            INSERT INTO identity.sign_in_counters AS c ("Key", "Failures", "LastFailureAt") VALUES ({key}, 1, {now})
            ON CONFLICT ("Key") DO UPDATE SET
                "Failures" = CASE WHEN c."LastFailureAt" < {stale} THEN 1 ELSE c."Failures" + 1 END,
                "BlockedUntil" = CASE WHEN c."LastFailureAt" < {stale} THEN NULL ELSE c."BlockedUntil" END,
                "LastFailureAt" = excluded."LastFailureAt"
            RETURNING "Failures" AS "Value"
            """).ToListAsync()).Single();
        var delay = Delay(failures, free, settings.FirstDelay, max);
        if (delay > TimeSpan.Zero)
        {
            var until = now + delay;
            await db.SignInCounters.Where(c => c.Key == key).ExecuteUpdateAsync(set => set.SetProperty(c => c.BlockedUntil, until));
        }
    }

    private async Task ForgetOldFailuresAsync()
    {
        var now = time.GetUtcNow();
        var stale = now - Settings.Window;
        await db.SignInCounters.Where(c => c.LastFailureAt < stale && (c.BlockedUntil == null || c.BlockedUntil < now)).ExecuteDeleteAsync();
        var untrusted = now - Settings.TrustedAddressLifetime;
        await db.SignInAddresses.Where(a => a.LastSuccessAt < untrusted).ExecuteDeleteAsync();
    }

    private static string[] Keys(string account, string address) => [PairKey(account, address), AddressKey(address), AccountKey(account)];

    private static string PairKey(string account, string address) => Truncate($"pair:{address}|{account}");

    private static string AddressKey(string address) => Truncate($"address:{address}");

    private static string AccountKey(string account) => Truncate($"account:{account}");

    private static string Truncate(string key) => key.Length <= SignInCounter.KeyMaxLength ? key : key[..SignInCounter.KeyMaxLength];
}
