using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

/// <summary>Which traces a service records: unexported spans cost CPU on every request, so none are recorded without an exporter.</summary>
public sealed class TelemetrySamplingTests
{
    private static readonly ActivitySource Source = new(Telemetry.SourcePrefix + "SamplingTests");

    [Theory]
    [InlineData(null, null, null, 0)]       // nothing exports the spans: none recorded
    [InlineData("http://127.0.0.1:9/", null, null, 100)] // exported: every trace
    [InlineData("http://127.0.0.1:9/", "0.25", null, 25)]
    [InlineData(null, "1", null, 100)]
    // Aspire's orchestration (./platform run) sets OTEL_TRACES_SAMPLER=always_on for every project: the ratio still holds.
    [InlineData("http://127.0.0.1:9/", "0.25", "always_on", 25)]
    // Without a ratio of ours, the standard variable decides.
    [InlineData("http://127.0.0.1:9/", null, "always_off", 0)]
    public async Task TracesThatStartHere_AreRecordedAsConfigured(string? exporter, string? ratio, string? otelSampler, int expectedPercent)
    {
        using var host = await StartAsync(exporter, ratio, otelSampler);

        var recorded = Enumerable.Range(0, 2000).Count(_ =>
        {
            using var activity = Source.StartActivity("probe");
            return activity is { Recorded: true };
        });

        Assert.InRange(recorded / 20.0, expectedPercent - 5, expectedPercent + 5);
    }

    [Fact]
    public async Task ATraceThatArrivesSampled_IsRecorded_EvenWhereNoneStartsSampled()
    {
        using var host = await StartAsync(exporter: "http://127.0.0.1:9/", ratio: "0");
        var sampledParent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

        using (var activity = Source.StartActivity("probe", ActivityKind.Server, sampledParent))
            Assert.True(activity is { Recorded: true });

        Assert.Null(Activity.Current);
        using var root = Source.StartActivity("root");
        Assert.False(root is { Recorded: true });
    }

    [Fact]
    public async Task TracesThatStartHere_AreLimitedPerSecond_AndATraceArrivingSampledIsStillRecorded()
    {
        using var host = await StartAsync(exporter: "http://127.0.0.1:9/", ratio: "1", tracesPerSecond: "10");

        // A burst far above the limit: one second's worth is recorded (and what refills while it runs).
        var recorded = Enumerable.Range(0, 2000).Count(_ =>
        {
            using var activity = Source.StartActivity("probe");
            return activity is { Recorded: true };
        });
        Assert.InRange(recorded, 10, 15);

        // The limit is on the traces that start here: one that arrives sampled is recorded whole.
        var sampledParent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        using var arrived = Source.StartActivity("probe", ActivityKind.Server, sampledParent);
        Assert.True(arrived is { Recorded: true });
    }

    [Fact]
    public void TheRateLimitedSampler_RefillsOneSecondsWorthAtMost_AndCountsOnlyWhatItsInnerSamplerKeeps()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var keep = true;
        var sampler = new RateLimitedSampler(new Decided(() => keep), 5, time);
        int Recorded(int attempts) => Enumerable.Range(0, attempts).Count(_ =>
            sampler.ShouldSample(new OpenTelemetry.Trace.SamplingParameters(default, ActivityTraceId.CreateRandom(), "probe", ActivityKind.Internal)).Decision
                == OpenTelemetry.Trace.SamplingDecision.RecordAndSample);

        Assert.Equal(5, Recorded(20));
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal(2, Recorded(20));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(5, Recorded(20));
        // What the inner sampler drops takes nothing from the bucket.
        time.Advance(TimeSpan.FromSeconds(1));
        keep = false;
        Assert.Equal(0, Recorded(20));
        keep = true;
        Assert.Equal(5, Recorded(20));
    }

    private sealed class Decided(Func<bool> keep) : OpenTelemetry.Trace.Sampler
    {
        public override OpenTelemetry.Trace.SamplingResult ShouldSample(in OpenTelemetry.Trace.SamplingParameters samplingParameters) =>
            new(keep() ? OpenTelemetry.Trace.SamplingDecision.RecordAndSample : OpenTelemetry.Trace.SamplingDecision.Drop);
    }

    [Fact]
    public void ANegativeTracesPerSecond_StopsTheServiceAtStartup()
    {
        var builder = Builder(exporter: "http://127.0.0.1:9/", ratio: "1", tracesPerSecond: "-1");
        var exception = Assert.ThrowsAny<Exception>(() =>
        {
            builder.AddServiceDefaults();
            builder.Build().Services.GetService(typeof(OpenTelemetry.Trace.TracerProvider));
        });
        Assert.Contains(Telemetry.TracesPerSecondKey, exception.ToString());
    }

    [Fact]
    public void ARatioOutsideZeroToOne_StopsTheServiceAtStartup()
    {
        var builder = Builder(exporter: null, ratio: "10%");
        var exception = Assert.ThrowsAny<Exception>(() =>
        {
            builder.AddServiceDefaults();
            builder.Build().Services.GetService(typeof(OpenTelemetry.Trace.TracerProvider));
        });
        Assert.Contains(Telemetry.TraceSampleRatioKey, exception.ToString());
    }

    private static async Task<IHost> StartAsync(string? exporter, string? ratio, string? otelSampler = null, string? tracesPerSecond = null)
    {
        var builder = Builder(exporter, ratio, otelSampler, tracesPerSecond);
        builder.AddServiceDefaults();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static HostApplicationBuilder Builder(string? exporter, string? ratio, string? otelSampler = null, string? tracesPerSecond = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = exporter,
            [Telemetry.TraceSampleRatioKey] = ratio,
            ["OTEL_TRACES_SAMPLER"] = otelSampler,
            [Telemetry.TracesPerSecondKey] = tracesPerSecond,
        });
        return builder;
    }
}
