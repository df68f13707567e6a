extern alias gateway;

using System.Text.Json;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>
/// The way in from outside: the Kubernetes Gateway API (Gateway <c>platform</c>, HTTPRoutes) implemented by Envoy
/// Gateway, in place of the retired ingress-nginx Ingress. Every public path reaches the Gateway service and nothing
/// else does; the hub's connections are not cut by a request timeout; TLS where the issuer is https.
/// </summary>
public sealed class EdgeTests
{
    public static TheoryData<string> Overlays => new("overlays/dev", "overlays/production");

    public const string GatewayName = "platform";

    /// <summary>Envoy Gateway's controller: the class the platform's Gateway names must be handled by it.</summary>
    public const string EnvoyGatewayController = "gateway.envoyproxy.io/gatewayclass-controller";

    [Fact]
    public void TheGatewayClass_IsEnvoyGateways()
    {
        var file = Path.Combine(Repository.Root, "deploy", "k8s", "cluster", "gatewayclass.yaml");
        var gatewayClass = Assert.IsType<GatewayClass>(Assert.Single(KubernetesYaml.LoadAllFromString(File.ReadAllText(file), CustomResources.TypeMap, strict: true)));
        Assert.Equal(EnvoyGatewayController, gatewayClass.Spec.ControllerName);
        foreach (var overlay in new[] { "overlays/dev", "overlays/production" })
            Assert.Equal(gatewayClass.Metadata.Name, Manifests.Render(overlay).One<Gateway>(GatewayName).Spec.GatewayClassName);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void TheEdge_IsTheGatewayApi_AndEveryReferenceResolves(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        Assert.Empty(manifests.All<V1Ingress>());
        var edge = manifests.One<Gateway>(GatewayName);
        Assert.Equal(edge.Spec.Listeners.Count, edge.Spec.Listeners.Select(l => l.Name).Distinct().Count());
        foreach (var route in manifests.All<HttpRoute>())
        {
            var parent = Assert.Single(route.Spec.ParentRefs);
            Assert.Equal(GatewayName, parent.Name);
            var listener = Assert.Single(edge.Spec.Listeners, l => l.Name == parent.SectionName);
            Assert.All(route.Spec.Hostnames, host => Assert.Equal(listener.Hostname, host));
            foreach (var backend in route.Spec.Rules.SelectMany(r => r.BackendRefs))
            {
                Assert.True(backend.Kind is null or "Service", $"{overlay}: {route.Metadata.Name} sends to a {backend.Kind}");
                var service = manifests.One<V1Service>(backend.Name);
                Assert.Contains(service.Spec.Ports, p => p.Port == backend.Port);
            }
        }
        // Policies attach to objects that exist (a policy naming nothing is silently ignored by Envoy Gateway).
        var policies = manifests.All<ClientTrafficPolicy>().Select(p => (p.Metadata.Name, p.Spec))
            .Concat(manifests.All<BackendTrafficPolicy>().Select(p => (p.Metadata.Name, p.Spec)));
        foreach (var (name, spec) in policies)
            foreach (var target in spec.TargetRefs)
            {
                Assert.Equal("gateway.networking.k8s.io", target.Group);
                Assert.True(target.Kind switch
                {
                    "Gateway" => manifests.All<Gateway>().Any(g => g.Metadata.Name == target.Name),
                    "HTTPRoute" => manifests.All<HttpRoute>().Any(r => r.Metadata.Name == target.Name),
                    _ => false,
                }, $"{overlay}: policy {name} targets {target.Kind} {target.Name}, which is not rendered");
            }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryPublicPath_ReachesTheGatewayService_AndNothingElseIsExposed(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var served = ServedListener(manifests);
        foreach (var path in PublicPaths())
        {
            var rule = RuleFor(manifests, served, path);
            Assert.True(rule is not null, $"{overlay}: no route for {path} on listener {served.Name}");
            var backend = Assert.Single(rule.BackendRefs);
            Assert.Equal("gateway", backend.Name);
            Assert.Equal(8080, backend.Port);
        }
        // Health and metrics answer inside the cluster only; anything else is not the platform's.
        foreach (var path in new[] { HealthPaths.Live, HealthPaths.Ready, "/metrics", "/", "/apis", "/hubs/other" })
            Assert.True(RuleFor(manifests, served, path) is null, $"{overlay}: {path} is exposed on {served.Name}");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void TheHub_HasNoRequestTimeout_LongIdleTimeouts_AndStaysOnOnePod(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var served = ServedListener(manifests);
        foreach (var path in new[] { HubPath, HubPath + "/negotiate" })
        {
            var timeouts = RuleFor(manifests, served, path)?.Timeouts;
            // Unset, Envoy ends every request after 15 s, an open WebSocket included; "0s" turns the timeout off.
            Assert.True(timeouts?.Request is { } request && Duration(request) == TimeSpan.Zero, $"{overlay}: {path} has request timeout {timeouts?.Request ?? "(Envoy's 15 s)"}");
            Assert.NotNull(timeouts);
            Assert.True(timeouts.BackendRequest is null || Duration(timeouts.BackendRequest) == TimeSpan.Zero);
        }
        var hubRoute = RouteFor(manifests, served, HubPath)!;

        // Idle connections between requests: at least the hour the ingress gave (a hub connection is never idle: SignalR
        // pings every 15 s).
        var client = Assert.Single(manifests.All<ClientTrafficPolicy>(), p => p.Spec.TargetRefs.Any(t => t.Kind == "Gateway" && t.Name == GatewayName));
        Assert.True(Duration(client.Spec.Timeout!.Http!["idleTimeout"]) >= TimeSpan.FromHours(1));
        Assert.False(client.Spec.Timeout.Http.ContainsKey("requestReceivedTimeout"), "a receive timeout would cut uploads and streams");

        // SignalR's negotiate and its connection (and every long poll) must reach the same Gateway pod.
        var backend = Assert.Single(manifests.All<BackendTrafficPolicy>(), p => p.Spec.TargetRefs.Any(t => t.Kind == "HTTPRoute" && t.Name == hubRoute.Metadata.Name));
        Assert.Equal(("ConsistentHash", "Cookie"), (backend.Spec.LoadBalancer?.Type, backend.Spec.LoadBalancer?.ConsistentHash?.Type));
        var cookie = backend.Spec.LoadBalancer!.ConsistentHash!.Cookie!;
        Assert.False(string.IsNullOrEmpty(cookie["name"] as string));
        // Without a ttl Envoy does not set the cookie, and nothing is sticky.
        Assert.True(Duration((string)cookie["ttl"]) >= TimeSpan.FromHours(1));
        Assert.True(Duration(backend.Spec.Timeout!.Tcp!["connectTimeout"]) <= TimeSpan.FromSeconds(10));
        Assert.True(Duration(backend.Spec.Timeout.Http!["connectionIdleTimeout"]) >= TimeSpan.FromHours(1));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void TheEdge_ServesTheIssuersOrigin_WithTlsWhereTheIssuerIsHttps(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var issuer = new Uri(manifests.Environment(manifests.One<V1Deployment>("gateway").Spec.Template.Spec.Containers.Single())["Auth__Issuer"].Value!);
        var edge = manifests.One<Gateway>(GatewayName);
        var served = ServedListener(manifests);
        Assert.Equal(issuer.Host, served.Hostname);
        var routes = manifests.All<HttpRoute>().ToList();
        if (issuer.Scheme == "https")
        {
            Assert.Equal(("HTTPS", 443, "Terminate"), (served.Protocol, served.Port, served.Tls?.Mode));
            Assert.Equal("platform-gateway-tls", Assert.Single(served.Tls!.CertificateRefs).Name);
            Assert.Equal("letsencrypt", edge.Metadata.Annotations?["cert-manager.io/cluster-issuer"]);
            // Plain HTTP only redirects: every route on it is one RequestRedirect to https.
            var http = Assert.Single(edge.Spec.Listeners, l => l.Protocol == "HTTP");
            var onHttp = Assert.Single(routes, r => r.Spec.ParentRefs.Any(p => p.SectionName == http.Name));
            var redirect = Assert.Single(onHttp.Spec.Rules);
            Assert.Empty(redirect.Matches);
            Assert.Empty(redirect.BackendRefs);
            Assert.Equal("https", Assert.Single(redirect.Filters, f => f.Type == "RequestRedirect").RequestRedirect?.Scheme);
        }
        else
        {
            Assert.Equal(("HTTP", 80), (served.Protocol, served.Port));
            Assert.DoesNotContain(edge.Spec.Listeners, l => l.Tls is not null);
            Assert.DoesNotContain(routes, r => r.Spec.Rules.Any(rule => rule.Filters.Any(f => f.Type == "RequestRedirect")));
        }
    }

    // --- the model of the edge the tests share ---

    public static string HubPath => gateway::Platform.Gateway.GatewayServiceExtensions.HubPath;

    /// <summary>The listener the platform is served on: the one the route to the hub attaches to.</summary>
    public static GatewayListener ServedListener(Manifests manifests)
    {
        var edge = manifests.One<Gateway>(GatewayName);
        var section = Assert.Single(manifests.All<HttpRoute>(), r => r.Spec.Rules.Any(rule => rule.BackendRefs.Count > 0)).Spec.ParentRefs.Single().SectionName;
        return Assert.Single(edge.Spec.Listeners, l => l.Name == section);
    }

    /// <summary>
    /// The rule a request for <paramref name="path"/> on the listener meets: of the routes attached to it, the match
    /// with the longest path (the Gateway API's precedence); a rule without matches matches every path.
    /// </summary>
    public static HttpRouteRule? RuleFor(Manifests manifests, GatewayListener listener, string path) =>
        Candidates(manifests, listener, path).OrderByDescending(c => c.Length).Select(c => c.Rule).FirstOrDefault();

    public static HttpRoute? RouteFor(Manifests manifests, GatewayListener listener, string path) =>
        Candidates(manifests, listener, path).OrderByDescending(c => c.Length).Select(c => c.Route).FirstOrDefault();

    private static IEnumerable<(HttpRoute Route, HttpRouteRule Rule, int Length)> Candidates(Manifests manifests, GatewayListener listener, string path) =>
        from route in manifests.All<HttpRoute>()
        where route.Spec.ParentRefs.Any(p => p.Name == GatewayName && (p.SectionName is null || p.SectionName == listener.Name))
        from rule in route.Spec.Rules
        from match in rule.Matches.Count > 0 ? rule.Matches.Select(m => m.Path ?? new HttpPathMatch()) : [new HttpPathMatch()]
        where Matches(match, path)
        select (route, rule, match.Value.Length);

    // PathPrefix matches whole path elements: /api matches /api and /api/v1, not /apis.
    private static bool Matches(HttpPathMatch match, string path) => match.Type switch
    {
        "Exact" => path == match.Value,
        "PathPrefix" => match.Value == "/" || path == match.Value.TrimEnd('/') || path.StartsWith(match.Value.TrimEnd('/') + "/", StringComparison.Ordinal),
        _ => throw new Xunit.Sdk.XunitException($"path match type {match.Type} is not modelled"),
    };

    /// <summary>
    /// Every path the Gateway serves to clients: each YARP route of its appsettings.json (its literal part, and one
    /// path below it) and the hub with its negotiate.
    /// </summary>
    public static IEnumerable<string> PublicPaths()
    {
        foreach (var (_, template) in GatewayRoutes())
        {
            var brace = template.IndexOf('{');
            if (brace < 0)
            {
                yield return template;
                continue;
            }
            var literal = template[..brace].TrimEnd('/');
            yield return literal;
            yield return literal + "/x";
        }
        yield return HubPath;
        yield return HubPath + "/negotiate";
    }

    /// <summary>The Gateway's YARP routes (name, path template) and the largest body each accepts (0: Kestrel's default).</summary>
    public static IEnumerable<(string Name, string Path)> GatewayRoutes() =>
        GatewayRouteSettings().Select(r => (r.Name, r.Path));

    public static IEnumerable<(string Name, string Path, long MaxRequestBodySize)> GatewayRouteSettings()
    {
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.ServiceFolder("gateway"), "appsettings.json")));
        return settings.RootElement.GetProperty("ReverseProxy").GetProperty("Routes").EnumerateObject()
            .Select(r => (r.Name, r.Value.GetProperty("Match").GetProperty("Path").GetString()!,
                r.Value.TryGetProperty("MaxRequestBodySize", out var size) ? size.GetInt64() : 0))
            .ToList();
    }

    /// <summary>A Gateway API duration (GEP-2257): 1h, 30m, 0s, 500ms, 1h30m.</summary>
    public static TimeSpan Duration(string value)
    {
        var parts = Regex.Matches(value, "([0-9]+)(h|ms|m|s)");
        Assert.True(parts.Count > 0 && string.Concat(parts.Select(p => p.Value)) == value, $"'{value}' is not a Gateway API duration");
        return parts.Aggregate(TimeSpan.Zero, (sum, part) => sum + part.Groups[2].Value switch
        {
            "h" => TimeSpan.FromHours(int.Parse(part.Groups[1].Value)),
            "m" => TimeSpan.FromMinutes(int.Parse(part.Groups[1].Value)),
            "s" => TimeSpan.FromSeconds(int.Parse(part.Groups[1].Value)),
            _ => TimeSpan.FromMilliseconds(int.Parse(part.Groups[1].Value)),
        });
    }
}
