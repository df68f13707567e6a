using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

public sealed class PeriodicJobTests
{
    private sealed class CountingJob(FakeTimeProvider clock, bool runsAtStart, int failOnPass) : PeriodicJob
    {
        public int Passes;
        public readonly SemaphoreSlim Ran = new(0);

        protected override ILogger Logger => NullLogger.Instance;

        protected override TimeProvider Clock => clock;

        protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

        protected override bool RunsAtStart => runsAtStart;

        protected override Task RunPassAsync(CancellationToken cancellationToken)
        {
            var pass = Interlocked.Increment(ref Passes);
            Ran.Release();
            return pass == failOnPass ? throw new InvalidOperationException("this pass fails") : Task.CompletedTask;
        }
    }

    [Fact]
    public async Task PassesRunAtStart_ThenOnePerInterval_AndAFailedPassDoesNotStopTheJob()
    {
        var clock = new FakeTimeProvider();
        var job = new CountingJob(clock, runsAtStart: true, failOnPass: 2);
        await job.StartAsync(CancellationToken.None);

        Assert.True(await job.Ran.WaitAsync(TimeSpan.FromSeconds(5)), "the first pass runs at start");
        for (var pass = 2; pass <= 4; pass++)
            Assert.True(await AdvanceUntilAPassAsync(job, clock), $"pass {pass} runs after the interval (pass 2 fails)");
        await job.StopAsync(CancellationToken.None);
        Assert.Equal(4, job.Passes);
    }

    [Fact]
    public async Task AJobThatWaitsFirst_RunsNothingBeforeOneInterval()
    {
        var clock = new FakeTimeProvider();
        var job = new CountingJob(clock, runsAtStart: false, failOnPass: 0);
        await job.StartAsync(CancellationToken.None);

        Assert.False(await job.Ran.WaitAsync(TimeSpan.FromMilliseconds(300)), "no pass at start");
        Assert.True(await AdvanceUntilAPassAsync(job, clock));
        await job.StopAsync(CancellationToken.None);
        Assert.Equal(1, job.Passes);
    }

    /// <summary>
    /// Moves the fake clock an interval at a time until a pass runs. An advance made before the job started its pause is
    /// lost (the pause counts from the new time), so one advance may not be enough; each waits briefly for the pass.
    /// </summary>
    private static async Task<bool> AdvanceUntilAPassAsync(CountingJob job, FakeTimeProvider clock)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            if (await job.Ran.WaitAsync(TimeSpan.FromMilliseconds(50)))
                return true;
        }
        return false;
    }
}
