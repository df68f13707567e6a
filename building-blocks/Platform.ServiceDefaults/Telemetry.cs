using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Platform.ServiceDefaults;

public static class Telemetry
{
    /// <summary>Prefix of every ActivitySource and Meter the Platform's own code creates.</summary>
    public const string SourcePrefix = "Platform.";

    internal static IHostApplicationBuilder AddPlatformTelemetry(this IHostApplicationBuilder builder)
    {
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName;

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithTracing(tracing => tracing
                .AddSource(SourcePrefix + "*")
                .AddSource("MassTransit")
                .AddSource("Marten")
                .AddSource("Yarp.ReverseProxy")
                // Not traced: probes, scrapes, and realtime connections (a WebSocket or long-lived transport is not a
                // request: its span would last for hours and be held in memory with the connection all that time).
                .AddAspNetCoreInstrumentation(options => options.Filter = context =>
                    !context.Request.Path.StartsWithSegments("/health") && !context.Request.Path.StartsWithSegments("/metrics") &&
                    !(context.Request.Path.StartsWithSegments("/hubs") && !context.Request.Path.Value!.EndsWith("/negotiate", StringComparison.Ordinal)))
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .ConfigureSampler(builder.Configuration))
            .WithMetrics(metrics => metrics
                .AddMeter(SourcePrefix + "*")
                .AddMeter("MassTransit")
                .AddView(instrument => RecordedPerMessageAndDropped(instrument) ? MetricStreamConfiguration.Drop : null)
                .AddMeter("Marten")
                .AddMeter("Npgsql")
                .AddMeter(AspNetCoreMeters)
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());

        if (Exporting(builder.Configuration))
            otel.UseOtlpExporter();

        return builder;
    }

    /// <summary>
    /// The ASP.NET Core meters recorded: requests (<c>http.server.request.duration</c>, what the dashboard and alerts read),
    /// Kestrel's and SignalR's connections, unhandled exceptions, rate limiting (429s) and Identity's sign-ins. Not the
    /// others <c>AddAspNetCoreInstrumentation</c> would add: <c>Microsoft.AspNetCore.MemoryPool</c> records every buffer
    /// Kestrel rents and returns (every WebSocket frame of a fan-out: about 2% of the Gateway's CPU in a 1,000-member
    /// room), and routing's, authentication's and authorization's per-request counters repeat what the request duration's
    /// route and status code already tell.
    /// </summary>
    public static readonly string[] AspNetCoreMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.RateLimiting",
        "Microsoft.AspNetCore.Identity",
    ];

    /// <summary>
    /// MassTransit's in-flight gauges and duration histograms (<c>messaging.masstransit.*.active</c>, <c>*.duration</c>):
    /// each message received, consumed or sent records five of them, with the message type, consumer and address as tags,
    /// about 2-3% of a consuming service's CPU (perf, 200 messages/s). The counters (<c>messaging.masstransit.receive</c>,
    /// <c>consume</c>, <c>send</c>), their errors and the retries are kept; how long a consume took is in its trace.
    /// </summary>
    public static bool RecordedPerMessageAndDropped(System.Diagnostics.Metrics.Instrument instrument) =>
        instrument.Meter.Name == "MassTransit"
        && (instrument.Name.EndsWith(".active", StringComparison.Ordinal) || instrument.Name.EndsWith(".duration", StringComparison.Ordinal));

    /// <summary>The share of traces that start in a service and are recorded (<c>Platform:Telemetry:TraceSampleRatio</c>, 0 to 1).</summary>
    public const string TraceSampleRatioKey = "Platform:Telemetry:TraceSampleRatio";

    private static bool Exporting(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    // Which traces are recorded. Parent-based: a request that arrives in a sampled trace is recorded, so a trace is whole
    // or absent; of the traces that start here, TraceSampleRatio when configured, even where OTEL_TRACES_SAMPLER is set
    // too (Aspire's orchestration sets always_on for every project, which would record and export every trace under
    // ./platform run's load); else OTEL_TRACES_SAMPLER when it is set (the SDK reads it); else all of them when they are
    // exported and none when they are not (nothing would ever read them; recording them costs CPU on every request and
    // database command). Then at most TracesPerSecond of them a second, when that is set.
    private static TracerProviderBuilder ConfigureSampler(this TracerProviderBuilder tracing, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration[TraceSampleRatioKey]) && !string.IsNullOrWhiteSpace(configuration["OTEL_TRACES_SAMPLER"]))
            return tracing;
        var ratio = Setting(configuration, TraceSampleRatioKey, 0, 1, "a number from 0 to 1") ?? (Exporting(configuration) ? 1.0 : 0.0);
        Sampler root = ratio switch
        {
            >= 1 => new AlwaysOnSampler(),
            <= 0 => new AlwaysOffSampler(),
            _ => new TraceIdRatioBasedSampler(ratio),
        };
        if (Setting(configuration, TracesPerSecondKey, 0, double.MaxValue, "a number of traces per second, 0 or more (0: no limit)") is > 0 and var perSecond
            && ratio > 0)
            root = new RateLimitedSampler(root, perSecond, TimeProvider.System);
        return tracing.SetSampler(new ParentBasedSampler(root));
    }

    // A number setting within [min, max], null when not set; anything else stops the service at startup.
    private static double? Setting(Microsoft.Extensions.Configuration.IConfiguration configuration, string key, double min, double max, string expected) =>
        configuration[key] is not { Length: > 0 } configured
            ? null
            : double.TryParse(configured, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && value >= min && value <= max
                ? value
                : throw new InvalidOperationException($"{key} must be {expected}; it is '{configured}'.");

    /// <summary>
    /// At most this many traces that start in a service are recorded per second (<c>Platform:Telemetry:TracesPerSecond</c>;
    /// unset or 0: no limit), after <see cref="TraceSampleRatioKey"/>. A developer's few requests are all traced, and a
    /// load cannot make the traces exported, and what receives them (the dashboard, a collector), grow with it.
    /// </summary>
    public const string TracesPerSecondKey = "Platform:Telemetry:TracesPerSecond";
}

/// <summary>
/// Records what <paramref name="inner"/> would, but no more than <paramref name="perSecond"/> traces a second (a token
/// bucket holding at most one second's worth, at least one trace). Used as the root sampler, under the parent-based one:
/// only traces that start here count, and a trace recorded here is recorded whole downstream.
/// </summary>
public sealed class RateLimitedSampler(Sampler inner, double perSecond, TimeProvider time) : Sampler
{
    private readonly Lock _gate = new();
    private readonly double _capacity = Math.Max(1, perSecond);
    private double _tokens = Math.Max(1, perSecond);
    private long _refilledAt = time.GetTimestamp();

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var result = inner.ShouldSample(samplingParameters);
        return result.Decision == SamplingDecision.Drop || TryTake() ? result : new SamplingResult(SamplingDecision.Drop);
    }

    private bool TryTake()
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + time.GetElapsedTime(_refilledAt, now).TotalSeconds * perSecond);
            _refilledAt = now;
            if (_tokens < 1)
                return false;
            _tokens -= 1;
            return true;
        }
    }
}
