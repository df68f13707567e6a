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
