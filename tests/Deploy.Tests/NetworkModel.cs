using System.Net;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>
/// Evaluates the rendered NetworkPolicies the way a NetworkPolicy-enforcing CNI does, for the pods of the overlay's
/// namespace: the workloads' pod templates plus the pods the operators create (CloudNativePG, RabbitMQ).
/// </summary>
public sealed class NetworkModel
{
    private static readonly IPNetwork PodNetwork = IPNetwork.Parse("10.0.0.0/8");
    private readonly string _namespace;
    private readonly IReadOnlyList<V1NetworkPolicy> _policies;
    private readonly Dictionary<string, IDictionary<string, string>> _pods = [];

    public NetworkModel(Manifests manifests)
    {
        _policies = manifests.All<V1NetworkPolicy>().ToList();
        _namespace = manifests.All<V1Namespace>().Single().Metadata.Name;
        foreach (var workload in manifests.Workloads)
            _pods[workload.Name] = workload.Template.Metadata.Labels;
        foreach (var cluster in manifests.All<CnpgCluster>())
            _pods[cluster.Metadata.Name] = new Dictionary<string, string> { ["cnpg.io/cluster"] = cluster.Metadata.Name, ["cnpg.io/podRole"] = "instance" };
        foreach (var cluster in manifests.All<RabbitmqCluster>())
            _pods[cluster.Metadata.Name] = new Dictionary<string, string>
            {
                ["app.kubernetes.io/name"] = cluster.Metadata.Name, ["app.kubernetes.io/component"] = "rabbitmq", ["app.kubernetes.io/part-of"] = "rabbitmq",
            };
    }

    /// <summary>Whether pod <paramref name="from"/> may open a TCP connection to pod <paramref name="to"/> on <paramref name="port"/>.</summary>
    public bool Allows(string from, string to, int port) =>
        EgressAllows(Pod(from), _namespace, Pod(to), port, "TCP") && IngressAllows(_namespace, Pod(from), Pod(to), port);

    public bool AllowsDns(string from) =>
        EgressAllows(Pod(from), "kube-system", new Dictionary<string, string> { ["k8s-app"] = "kube-dns" }, 53, "UDP");

    /// <summary>Whether pod <paramref name="from"/> may open a TCP connection to an address outside the cluster.</summary>
    public bool AllowsToAddress(string from, IPAddress address, int port, string protocol = "TCP")
    {
        var selecting = _policies.Where(p => p.Spec.PolicyTypes.Contains("Egress") && Matches(p.Spec.PodSelector, Pod(from))).ToList();
        return selecting.Count == 0 || selecting.SelectMany(p => p.Spec.Egress ?? []).Any(rule =>
            PortsMatch(rule.Ports, port, protocol) && (rule.To is null or { Count: 0 } || rule.To.Any(peer => peer.IpBlock is { } block
                && IPNetwork.Parse(block.Cidr).Contains(address) && !(block.Except ?? []).Any(e => IPNetwork.Parse(e).Contains(address)))));
    }

    /// <summary>Ingress into <paramref name="to"/> from a pod of another namespace (whose own egress is not ours to judge).</summary>
    /// <summary>Ingress into <paramref name="to"/> from an address outside the cluster (a client on the internet).</summary>
    public bool AllowsFromAddress(IPAddress address, string to, int port, string protocol)
    {
        var selecting = _policies.Where(p => p.Spec.PolicyTypes.Contains("Ingress") && Matches(p.Spec.PodSelector, Pod(to))).ToList();
        return selecting.Count == 0 || selecting.SelectMany(p => p.Spec.Ingress ?? []).Any(rule =>
            PortsMatch(rule.Ports, port, protocol) && (rule.FromProperty is null or { Count: 0 } || rule.FromProperty.Any(peer => peer.IpBlock is { } block
                && IPNetwork.Parse(block.Cidr).Contains(address) && !(block.Except ?? []).Any(e => IPNetwork.Parse(e).Contains(address)))));
    }

    public bool AllowsFromNamespace(string sourceNamespace, Dictionary<string, string> sourceLabels, string to, int port) =>
        IngressAllows(sourceNamespace, sourceLabels, Pod(to), port);

    private IDictionary<string, string> Pod(string name) =>
        _pods.TryGetValue(name, out var labels) ? labels : throw new Xunit.Sdk.XunitException($"no pods named {name} in {_namespace}");

    private bool EgressAllows(IDictionary<string, string> source, string targetNamespace, IDictionary<string, string> target, int port, string protocol)
    {
        var selecting = _policies.Where(p => p.Spec.PolicyTypes.Contains("Egress") && Matches(p.Spec.PodSelector, source)).ToList();
        return selecting.Count == 0 || selecting.SelectMany(p => p.Spec.Egress ?? []).Any(rule =>
            PortsMatch(rule.Ports, port, protocol) && (rule.To is null or { Count: 0 } || rule.To.Any(peer => PeerMatches(peer, targetNamespace, target))));
    }

    private bool IngressAllows(string sourceNamespace, IDictionary<string, string> source, IDictionary<string, string> target, int port)
    {
        var selecting = _policies.Where(p => p.Spec.PolicyTypes.Contains("Ingress") && Matches(p.Spec.PodSelector, target)).ToList();
        return selecting.Count == 0 || selecting.SelectMany(p => p.Spec.Ingress ?? []).Any(rule =>
            PortsMatch(rule.Ports, port, "TCP") && (rule.FromProperty is null or { Count: 0 } || rule.FromProperty.Any(peer => PeerMatches(peer, sourceNamespace, source))));
    }

    private bool PeerMatches(V1NetworkPolicyPeer peer, string peerNamespace, IDictionary<string, string> peerLabels)
    {
        if (peer.IpBlock is { } block)
        {
            // Pods have cluster-private addresses: a block reaches them unless it excludes the pod network.
            var network = IPNetwork.Parse(block.Cidr);
            return network.Contains(PodNetwork.BaseAddress) && !(block.Except ?? []).Any(e => IPNetwork.Parse(e).Contains(PodNetwork.BaseAddress));
        }
        var namespaceMatches = peer.NamespaceSelector is null
            ? peerNamespace == _namespace
            : Matches(peer.NamespaceSelector, new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = peerNamespace });
        return namespaceMatches && (peer.PodSelector is null || Matches(peer.PodSelector, peerLabels));
    }

    private static bool PortsMatch(IList<V1NetworkPolicyPort>? ports, int port, string protocol) =>
        ports is null or { Count: 0 } || ports.Any(p => (p.Protocol ?? "TCP") == protocol && (p.Port is null || p.Port.Value == port.ToString()
            || p.EndPort is { } end && int.TryParse(p.Port.Value, out var start) && port >= start && port <= end));

    public static bool Matches(V1LabelSelector selector, IDictionary<string, string> labels) =>
        (selector.MatchLabels ?? new Dictionary<string, string>()).All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value)
        && (selector.MatchExpressions ?? []).All(e => e.OperatorProperty switch
        {
            "In" => labels.TryGetValue(e.Key, out var value) && e.Values.Contains(value),
            "NotIn" => !labels.TryGetValue(e.Key, out var value) || !e.Values.Contains(value),
            "Exists" => labels.ContainsKey(e.Key),
            "DoesNotExist" => !labels.ContainsKey(e.Key),
            _ => throw new InvalidOperationException(e.OperatorProperty),
        });
}
