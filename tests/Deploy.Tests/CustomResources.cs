using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>
/// The operators' resources the overlays use, typed as far as the tests read them (the rest of a spec stays a
/// dictionary). Registered by apiVersion/kind next to KubernetesClient's built-in models.
/// </summary>
public static class CustomResources
{
    public static readonly Dictionary<string, Type> TypeMap = new()
    {
        ["postgresql.cnpg.io/v1/Cluster"] = typeof(CnpgCluster),
        ["postgresql.cnpg.io/v1/ScheduledBackup"] = typeof(CnpgScheduledBackup),
        ["rabbitmq.com/v1beta1/RabbitmqCluster"] = typeof(RabbitmqCluster),
        ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(ServiceMonitor),
        ["monitoring.coreos.com/v1/PrometheusRule"] = typeof(PrometheusRule),
        ["gateway.networking.k8s.io/v1/GatewayClass"] = typeof(GatewayClass),
        ["gateway.networking.k8s.io/v1/Gateway"] = typeof(Gateway),
        ["gateway.networking.k8s.io/v1/HTTPRoute"] = typeof(HttpRoute),
        ["gateway.envoyproxy.io/v1alpha1/ClientTrafficPolicy"] = typeof(ClientTrafficPolicy),
        ["gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy"] = typeof(BackendTrafficPolicy),
    };
}

public abstract class CustomResource<TSpec> : IKubernetesObject<V1ObjectMeta>, ISpec<TSpec>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public TSpec Spec { get; set; } = default!;
}

public sealed class CnpgCluster : CustomResource<CnpgClusterSpec>;

public sealed class CnpgClusterSpec
{
    public int Instances { get; set; }
    public string ImageName { get; set; } = "";
    public Dictionary<string, object>? Bootstrap { get; set; }
    public Dictionary<string, object>? Backup { get; set; }
    public Dictionary<string, object>? Storage { get; set; }
    public Dictionary<string, object>? WalStorage { get; set; }
    public Dictionary<string, object>? Postgresql { get; set; }
    public Dictionary<string, object>? Resources { get; set; }
    public Dictionary<string, object>? Affinity { get; set; }
    public Dictionary<string, object>? Monitoring { get; set; }
    public string? PrimaryUpdateStrategy { get; set; }
    public string? PrimaryUpdateMethod { get; set; }
    public int? MinSyncReplicas { get; set; }
    public int? MaxSyncReplicas { get; set; }
}

public sealed class CnpgScheduledBackup : CustomResource<Dictionary<string, object>>;

public sealed class RabbitmqCluster : CustomResource<RabbitmqClusterSpec>;

public sealed class RabbitmqClusterSpec
{
    public int Replicas { get; set; }
    public string Image { get; set; } = "";
    public RabbitmqConfig? Rabbitmq { get; set; }
    public Dictionary<string, object>? Persistence { get; set; }
    public Dictionary<string, object>? Resources { get; set; }
    public Dictionary<string, object>? Affinity { get; set; }
}

public sealed class RabbitmqConfig
{
    public string? AdditionalConfig { get; set; }

    public List<string> AdditionalPlugins { get; set; } = [];
}

public sealed class ServiceMonitor : CustomResource<ServiceMonitorSpec>;

public sealed class ServiceMonitorSpec
{
    public V1LabelSelector Selector { get; set; } = new();
    public List<ServiceMonitorEndpoint> Endpoints { get; set; } = [];
}

public sealed class ServiceMonitorEndpoint
{
    public string? Port { get; set; }
    public string? Path { get; set; }
    public string? Interval { get; set; }
    public string? ScrapeTimeout { get; set; }
}

public sealed class PrometheusRule : CustomResource<PrometheusRuleSpec>;

public sealed class PrometheusRuleSpec
{
    public List<RuleGroup> Groups { get; set; } = [];
}

public sealed class RuleGroup
{
    public string Name { get; set; } = "";
    public List<Rule> Rules { get; set; } = [];
}

public sealed class Rule
{
    public string? Alert { get; set; }
    public string? Record { get; set; }
    public string Expr { get; set; } = "";
    public string? For { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
}

// The Kubernetes Gateway API (gateway.networking.k8s.io/v1), as far as the edge uses it.

public sealed class GatewayClass : CustomResource<GatewayClassSpec>;

public sealed class GatewayClassSpec
{
    public string ControllerName { get; set; } = "";
    public string? Description { get; set; }
    public Dictionary<string, object>? ParametersRef { get; set; }
}

public sealed class Gateway : CustomResource<GatewaySpec>;

public sealed class GatewaySpec
{
    public string GatewayClassName { get; set; } = "";
    public List<GatewayListener> Listeners { get; set; } = [];
    public List<Dictionary<string, object>>? Addresses { get; set; }
    public Dictionary<string, object>? Infrastructure { get; set; }
}

public sealed class GatewayListener
{
    public string Name { get; set; } = "";
    public string? Hostname { get; set; }
    public int Port { get; set; }
    public string Protocol { get; set; } = "";
    public GatewayTls? Tls { get; set; }
    public Dictionary<string, object>? AllowedRoutes { get; set; }
}

public sealed class GatewayTls
{
    public string? Mode { get; set; }
    public List<ObjectReference> CertificateRefs { get; set; } = [];
    public Dictionary<string, string>? Options { get; set; }
}

public sealed class ObjectReference
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
    public string? SectionName { get; set; }
    public int? Port { get; set; }
    public int? Weight { get; set; }
}

public sealed class HttpRoute : CustomResource<HttpRouteSpec>;

public sealed class HttpRouteSpec
{
    public List<ObjectReference> ParentRefs { get; set; } = [];
    public List<string> Hostnames { get; set; } = [];
    public List<HttpRouteRule> Rules { get; set; } = [];
}

public sealed class HttpRouteRule
{
    public string? Name { get; set; }
    public List<HttpRouteMatch> Matches { get; set; } = [];
    public List<HttpRouteFilter> Filters { get; set; } = [];
    public List<ObjectReference> BackendRefs { get; set; } = [];
    public HttpRouteTimeouts? Timeouts { get; set; }
}

public sealed class HttpRouteMatch
{
    public HttpPathMatch? Path { get; set; }
    public string? Method { get; set; }
    public List<Dictionary<string, string>>? Headers { get; set; }
    public List<Dictionary<string, string>>? QueryParams { get; set; }
}

public sealed class HttpPathMatch
{
    public string Type { get; set; } = "PathPrefix";
    public string Value { get; set; } = "/";
}

public sealed class HttpRouteFilter
{
    public string Type { get; set; } = "";
    public HttpRequestRedirect? RequestRedirect { get; set; }
    public Dictionary<string, object>? RequestHeaderModifier { get; set; }
    public Dictionary<string, object>? ResponseHeaderModifier { get; set; }
    public Dictionary<string, object>? UrlRewrite { get; set; }
}

public sealed class HttpRequestRedirect
{
    public string? Scheme { get; set; }
    public string? Hostname { get; set; }
    public int? Port { get; set; }
    public int? StatusCode { get; set; }
    public Dictionary<string, object>? Path { get; set; }
}

public sealed class HttpRouteTimeouts
{
    public string? Request { get; set; }
    public string? BackendRequest { get; set; }
}

// Envoy Gateway's policies (gateway.envoyproxy.io/v1alpha1): what the Gateway API has no field for.

public sealed class ClientTrafficPolicy : CustomResource<EnvoyPolicySpec>;

public sealed class BackendTrafficPolicy : CustomResource<EnvoyPolicySpec>;

public sealed class EnvoyPolicySpec
{
    public List<ObjectReference> TargetRefs { get; set; } = [];
    public EnvoyTimeouts? Timeout { get; set; }
    public EnvoyLoadBalancer? LoadBalancer { get; set; }
    public Dictionary<string, object>? ClientIPDetection { get; set; }
    public Dictionary<string, object>? Connection { get; set; }
    public Dictionary<string, object>? TcpKeepalive { get; set; }
}

public sealed class EnvoyTimeouts
{
    public Dictionary<string, string>? Tcp { get; set; }
    public Dictionary<string, string>? Http { get; set; }
}

public sealed class EnvoyLoadBalancer
{
    public string Type { get; set; } = "";
    public EnvoyConsistentHash? ConsistentHash { get; set; }
}

public sealed class EnvoyConsistentHash
{
    public string Type { get; set; } = "";
    public Dictionary<string, object>? Cookie { get; set; }
    public Dictionary<string, object>? Header { get; set; }
}
