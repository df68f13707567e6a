extern alias gateway;

using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Platform.Client;
using Platform.Testing;
using YamlDotNet.Serialization;

namespace Platform.Deploy.Tests;

/// <summary>The dashboard, the alerts and the collector configuration name what the services really export and run.</summary>
public sealed class ObservabilityTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    private static readonly string Component = Path.Combine(Repository.Root, "deploy", "k8s", "components");

    // Metric families the services export themselves; kube_*, container_* and up come from the cluster's exporters.
    private static readonly Regex ServiceMetric = new(@"\b((?:http_server|http_client|kestrel|dotnet|platform)_[a-z0-9_]+)\b");

    [Fact]
    public async Task EveryMetricTheDashboardAlertsAndAutoscalerUse_IsExportedByTheServices()
    {
        await using var platform = await InProcessPlatform.StartAsync(infrastructure);
        // Real traffic: a conversation, a live delivery to a connected client, a message sent.
        Guid alice = Guid.CreateVersion7(), bob = Guid.CreateVersion7();
        PlatformClient Client(Guid user) => new(new PlatformClientOptions
        {
            GatewayUrl = platform.GatewayUrl,
            AccessTokenProvider = _ => Task.FromResult(platform.Issuer.CreateToken(user, $"user-{user:N}"[..13])),
        });
        await using var aliceSdk = Client(alice);
        await using var bobSdk = Client(bob);
        var conversation = (await aliceSdk.CreateConversationAsync("group", [bob], "metrics")).Id;
        await bobSdk.Realtime.StartAsync();
        // The first message may reach Bob in the replay that follows his connect; the second is pushed live.
        foreach (var text in new[] { "measured", "measured live" })
        {
            var message = await aliceSdk.SendMessageAsync(conversation, text);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await foreach (var e in bobSdk.Realtime.ReadEventsAsync(timeout.Token))
                if (e.ConversationId == conversation && e.Seq == message.Seq)
                    break;
        }
        // A server-side disconnect is rare in a test; recorded directly so its counter is exported too.
        platform.Gateway.Services.GetRequiredService<gateway::Platform.Gateway.Realtime.RealtimeMetrics>().Disconnected("test");

        using var http = new HttpClient();
        var exported = new HashSet<string>();
        var needed = Referenced().ToList();
        await Eventually.Returns(async () =>
        {
            foreach (var address in new[] { platform.GatewayUrl, platform.MessagingUrl })
                foreach (Match type in Regex.Matches(await http.GetStringAsync(new Uri(address, "/metrics")), @"^# TYPE (\S+) ", RegexOptions.Multiline))
                    exported.Add(type.Groups[1].Value);
            return "missing: " + string.Join(", ", needed.Where(name => !exported.Contains(name)))
                + (needed.All(exported.Contains) ? "" : "; exported: " + string.Join(", ", exported.Where(name => name.StartsWith("platform_", StringComparison.Ordinal))));
        }, missing => missing == "missing: ", TimeSpan.FromSeconds(15), "every metric the dashboard, alerts and HPA use is exported");
    }

    // Names as Prometheus sees them, histogram series reduced to their family.
    private static IEnumerable<string> Referenced()
    {
        var sources = new List<string> { File.ReadAllText(Path.Combine(Component, "prometheus-operator", "dashboards", "platform.json")) };
        var production = Manifests.Render("overlays/production");
        sources.AddRange(production.All<PrometheusRule>().SelectMany(r => r.Spec.Groups).SelectMany(g => g.Rules).Select(r => r.Expr));
        sources.AddRange(production.All<V2HorizontalPodAutoscaler>().SelectMany(h => h.Spec.Metrics).Where(m => m.Pods is not null).Select(m => m.Pods.Metric.Name));
        return sources.SelectMany(text => ServiceMetric.Matches(text).Select(m => Regex.Replace(m.Groups[1].Value, "_(bucket|sum|count)$", "")))
            .Distinct().ToList();
    }

    [Fact]
    public void TheCollectorConfiguration_WiresOnlyDefinedComponents_AndItsSettingsAreProvided()
    {
        var config = new DeserializerBuilder().Build()
            .Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(Component, "otel-collector", "collector.yaml")));
        Dictionary<object, object> Section(Dictionary<object, object> parent, string name) => (Dictionary<object, object>)parent[name];
        var root = config.ToDictionary(p => (object)p.Key, p => p.Value);
        var service = Section(root, "service");
        var pipelines = Section(service, "pipelines");
        Assert.Contains("traces", pipelines.Keys);
        foreach (var (name, pipeline) in pipelines)
            foreach (var kind in new[] { "receivers", "processors", "exporters" })
                if (((Dictionary<object, object>)pipeline).TryGetValue(kind, out var used))
                    foreach (var component in (List<object>)used)
                        Assert.True(Section(root, kind).ContainsKey(component), $"pipeline {name} uses {kind} {component}, which is not defined");
        foreach (var extension in (List<object>)service["extensions"])
            Assert.Contains(extension, Section(root, "extensions").Keys);
        // The receivers listen where the services send (OTEL_EXPORTER_OTLP_ENDPOINT), and the probes where health_check answers.
        var grpc = (string)Section(Section(Section(Section(root, "receivers"), "otlp"), "protocols"), "grpc")["endpoint"];
        Assert.EndsWith(":4317", grpc);

        var yaml = File.ReadAllText(Path.Combine(Component, "otel-collector", "collector.yaml"));
        foreach (var overlay in new[] { "overlays/dev", "overlays/production" })
        {
            var manifests = Manifests.Render(overlay);
            var container = manifests.One<V1Deployment>("otel-collector").Spec.Template.Spec.Containers.Single();
            var environment = manifests.Environment(container);
            foreach (Match variable in Regex.Matches(yaml, @"\$\{env:([A-Z_]+)\}"))
                Assert.True(environment.ContainsKey(variable.Groups[1].Value), $"{overlay}: the collector needs {variable.Groups[1].Value}");
            foreach (var platformService in Repository.Services)
            {
                var endpoint = new Uri(manifests.Environment(manifests.One<V1Deployment>(platformService).Spec.Template.Spec.Containers.Single())["OTEL_EXPORTER_OTLP_ENDPOINT"].Value!);
                Assert.Equal("otel-collector", endpoint.Host);
                Assert.Equal(4317, endpoint.Port);
            }
        }
    }

    [Fact]
    public void EveryAlert_HasASeverityAnExplanation_AndARunbookEntry()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "k8s", "README.md"));
        var rules = Manifests.Render("overlays/production").All<PrometheusRule>().SelectMany(r => r.Spec.Groups).SelectMany(g => g.Rules).ToList();
        Assert.NotEmpty(rules);
        foreach (var rule in rules.Where(r => r.Alert is not null))
        {
            Assert.Contains(rule.Labels!["severity"], new[] { "critical", "warning", "info" });
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations?["summary"]), rule.Alert);
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations?["description"]), rule.Alert);
            Assert.Contains($"`{rule.Alert}`", readme);
            Assert.Equal(rule.Expr.Count(c => c == '('), rule.Expr.Count(c => c == ')'));
            Assert.Equal(rule.Expr.Count(c => c == '{'), rule.Expr.Count(c => c == '}'));
        }
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Component, "prometheus-operator", "dashboards", "platform.json")));
        var titles = dashboard.RootElement.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("title").GetString()).ToList();
        Assert.Contains("Request rate", titles);
        Assert.Contains("Send-to-deliver latency", titles);
        Assert.Contains("Open realtime connections", titles);
    }
}
