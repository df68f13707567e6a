using System.Diagnostics;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Platform.Benchmarks;

/// <summary>
/// What one password sign-in costs in hashing: ASP.NET Core Identity's V3 hasher (PBKDF2-HMAC-SHA512), the one
/// Identity uses, verifying a stored hash, one at a time on one thread. Wall time is what a user waits on an idle
/// machine; CPU time is what each attempt takes from the machine (the figure that matters for floods).
/// </summary>
public static class PasswordHashCost
{
    public static int Run(string[] args)
    {
        // The configured cost, and the one it replaced; or the counts given.
        List<int> counts = args.Skip(1).Any() ? args.Skip(1).Select(int.Parse).ToList() : [210_000, 600_000];
        Console.WriteLine($"PBKDF2-HMAC-SHA512 (ASP.NET Core Identity V3), {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine("| iterations | verifies | wall min | wall median | wall p90 | CPU per verify |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var iterations in counts)
        {
            var hasher = new PasswordHasher<object>(Options.Create(new PasswordHasherOptions
            {
                CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3,
                IterationCount = iterations,
            }));
            var user = new object();
            var hash = hasher.HashPassword(user, "a-long-test-password");
            for (var i = 0; i < 3; i++)
                hasher.VerifyHashedPassword(user, hash, "a-long-test-password");

            const int verifies = 50;
            var wall = new List<double>(verifies);
            var process = Process.GetCurrentProcess();
            var cpuBefore = process.TotalProcessorTime;
            for (var i = 0; i < verifies; i++)
            {
                var started = Stopwatch.GetTimestamp();
                hasher.VerifyHashedPassword(user, hash, "a-long-test-password");
                wall.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            process.Refresh();
            var cpuPerVerify = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / verifies;
            wall.Sort();
            Console.WriteLine($"| {iterations:N0} | {verifies} | {wall[0]:F0} ms | {wall[verifies / 2]:F0} ms | {wall[verifies * 9 / 10]:F0} ms | {cpuPerVerify:F0} ms |");
        }
        return 0;
    }
}
