using System.Net;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>The TURN server (coturn) for calls: a non-HTTP workload, checked on what makes relaying work and safe.</summary>
public sealed class TurnTests
{
    public static TheoryData<string> Overlays => new("overlays/dev", "overlays/production");

    private static readonly IPAddress Internet = IPAddress.Parse("93.184.215.14");

    private static readonly string[] PrivateRanges =
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8"];

    [Theory, MemberData(nameof(Overlays))]
    public void MessagingAndCoturn_ShareOneSecretKey_NeverALiteral(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var messaging = manifests.Environment(manifests.One<V1Deployment>("messaging").Spec.Template.Spec.Containers.Single());
        var turn = Turn.Container(manifests);
        var coturn = manifests.Environment(turn);

        var messagingSecret = messaging["Calls__Ice__TurnSecret"];
        Assert.True(messagingSecret is { Secret: not null, Optional: false }, $"{overlay}: Messaging's TURN secret is not a required secret reference");
        var authSecret = Turn.Argument(turn, "static-auth-secret");
        var variable = Regex.Match(authSecret, @"^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$");
        Assert.True(variable.Success, $"{overlay}: coturn's static-auth-secret is {authSecret}, not a variable");
        var coturnSecret = coturn[variable.Groups[1].Value];
        Assert.Equal((messagingSecret.Secret, messagingSecret.Key), (coturnSecret.Secret, coturnSecret.Key));
        Assert.False(coturnSecret.Optional);
        Assert.Contains("--use-auth-secret", turn.Args);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Coturn_RefusesToRelayIntoPrivateRanges_AndTheNetworkPolicyAgrees(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var turn = Turn.Container(manifests);
        Assert.DoesNotContain(turn.Args, a => a.StartsWith("--allowed-peer-ip", StringComparison.Ordinal));
        var denied = turn.Args.Where(a => a.StartsWith("--denied-peer-ip=", StringComparison.Ordinal))
            .Select(a => a["--denied-peer-ip=".Length..].Split('-'))
            .Select(r => (First: Number(IPAddress.Parse(r[0])), Last: Number(IPAddress.Parse(r[1])))).ToList();
        foreach (var range in PrivateRanges.Select(IPNetwork.Parse))
        {
            var (first, last) = (Number(range.BaseAddress), Number(range.BaseAddress) + (1L << (32 - range.PrefixLength)) - 1);
            // Covered when the denied ranges, joined, span it from its first to its last address.
            var next = first;
            foreach (var (from, to) in denied.OrderBy(d => d.First))
                if (from <= next && to >= next)
                    next = to + 1;
            Assert.True(next > last, $"{overlay}: coturn may relay into {range}");
        }
        Assert.Contains("--no-multicast-peers", turn.Args);

        var network = new NetworkModel(manifests);
        Assert.True(network.AllowsToAddress(Turn.Name, Internet, 50000, "UDP"), $"{overlay}: coturn cannot relay to the internet");
        foreach (var address in new[] { "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "127.0.0.1" })
            Assert.False(network.AllowsToAddress(Turn.Name, IPAddress.Parse(address), 50000, "UDP") || network.AllowsToAddress(Turn.Name, IPAddress.Parse(address), 443),
                $"{overlay}: coturn may send to {address}");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void TheRelayRangeAndListeningPort_AreExposedByTheContainerTheServiceAndTheNetworkPolicy(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var turn = Turn.Container(manifests);
        var min = int.Parse(Turn.Argument(turn, "min-port", manifests));
        var max = int.Parse(Turn.Argument(turn, "max-port", manifests));
        Assert.True(min >= 1024 && min <= max && max <= 65535, $"{overlay}: relay range {min}-{max}");
        var relay = Enumerable.Range(min, max - min + 1).ToHashSet();
        Assert.Equal(Turn.ListeningPort.ToString(), Turn.Argument(turn, "listening-port"));
        Assert.True(turn.Args.Contains("--no-tls") && turn.Args.Contains("--no-dtls") || turn.Args.Any(a => a.StartsWith("--cert=", StringComparison.Ordinal)),
            $"{overlay}: TLS neither configured nor off");

        // The container declares exactly the listening port (UDP, TCP) and the relay ports (UDP).
        var declared = turn.Ports.Select(p => (p.Protocol, p.ContainerPort)).ToHashSet();
        var expected = relay.Select(p => ("UDP", p)).Append(("UDP", Turn.ListeningPort)).Append(("TCP", Turn.ListeningPort)).ToHashSet();
        Assert.True(expected.SetEquals(declared), $"{overlay}: container ports differ from the relay range {min}-{max} and {Turn.ListeningPort}");

        // The Service forwards each of them to the same port (the address coturn advertises is the Service's).
        var service = manifests.One<V1Service>(Turn.Name);
        var forwarded = service.Spec.Ports.Select(p => (p.Protocol, Port: p.Port, Target: turn.Ports.Single(c => c.Protocol == p.Protocol
            && (c.Name == p.TargetPort.Value || c.ContainerPort.ToString() == p.TargetPort.Value)).ContainerPort, p.NodePort)).ToList();
        Assert.True(expected.SetEquals(forwarded.Select(f => (f.Protocol, f.Target)).ToHashSet()), $"{overlay}: Service ports differ from the container's");
        Assert.Equal("Local", service.Spec.ExternalTrafficPolicy);
        foreach (var port in forwarded.Where(f => relay.Contains(f.Target)))
            // Peers send to <advertised address>:<relay port>: on a NodePort that is the node port, on a LoadBalancer the port.
            Assert.Equal(port.Target, service.Spec.Type == "NodePort" ? port.NodePort : port.Port);

        // Reachable from anywhere on exactly those ports.
        var network = new NetworkModel(manifests);
        foreach (var (protocol, port) in expected)
            Assert.True(network.AllowsFromAddress(Internet, Turn.Name, port, protocol), $"{overlay}: {port}/{protocol} is closed to clients");
        Assert.False(network.AllowsFromAddress(Internet, Turn.Name, min - 1, "UDP"), $"{overlay}: ports below the relay range are open");
        Assert.False(network.AllowsFromAddress(Internet, Turn.Name, max + 1, "UDP"), $"{overlay}: ports above the relay range are open");
        Assert.False(network.AllowsFromAddress(Internet, Turn.Name, 8080, "TCP"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Messaging_HandsOutTheTurnServersPublicAddress(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var messaging = manifests.Environment(manifests.One<V1Deployment>("messaging").Spec.Template.Spec.Containers.Single());
        var service = manifests.One<V1Service>(Turn.Name);
        var urls = messaging.Where(e => Regex.IsMatch(e.Key, @"^Calls__Ice__(Stun|Turn)Urls__\d+$")).Select(e => e.Value.Value!).ToList();
        Assert.Contains(urls, u => u.StartsWith("turn:", StringComparison.Ordinal) && u.EndsWith("?transport=udp", StringComparison.Ordinal));
        Assert.Contains(urls, u => u.StartsWith("turn:", StringComparison.Ordinal) && u.EndsWith("?transport=tcp", StringComparison.Ordinal));
        foreach (var url in urls)
        {
            var match = Regex.Match(url, @"^(stun|turn):([a-z0-9.-]+):(\d+)(\?transport=(udp|tcp))?$");
            Assert.True(match.Success, $"{overlay}: {url}");
            var protocol = match.Groups[5].Value is "tcp" ? "TCP" : "UDP";
            var port = service.Spec.Ports.Single(p => p.Protocol == protocol && (service.Spec.Type == "NodePort" ? p.NodePort : p.Port) == int.Parse(match.Groups[3].Value));
            Assert.Equal(Turn.ListeningPort, Turn.Container(manifests).Ports.Single(c => c.Protocol == protocol
                && (c.Name == port.TargetPort.Value || c.ContainerPort.ToString() == port.TargetPort.Value)).ContainerPort);
            Assert.True(Uri.CheckHostName(match.Groups[2].Value) == UriHostNameType.Dns, $"{overlay}: {url} names no public host");
        }
        // The realm is the platform's domain: the issuer's host, or its parent.
        var issuer = new Uri(messaging["Auth__Issuer"].Value!).Host;
        var realm = Turn.Argument(Turn.Container(manifests), "realm", manifests);
        Assert.True(issuer == realm || issuer.EndsWith("." + realm, StringComparison.Ordinal), $"{overlay}: realm {realm} is not the domain of {issuer}");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void OnePodPerPublicAddress_WithABudgetAndAPinnedImage(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var deployment = manifests.One<V1Deployment>(Turn.Name);
        // Allocations live on one pod and peers reach them at the Service's address: never two pods behind it.
        Assert.Equal(1, deployment.Spec.Replicas);
        Assert.Equal("Recreate", deployment.Spec.Strategy.Type);
        Assert.DoesNotContain(manifests.All<V2HorizontalPodAutoscaler>(), h => h.Spec.ScaleTargetRef.Name == Turn.Name);
        Assert.Contains(manifests.All<V1PodDisruptionBudget>(), p => new Workload("", "", deployment.Spec.Template).Selects(p.Spec.Selector.MatchLabels));
        Assert.Matches(@"^(.+/)?coturn/coturn:4\.6\.\d+$", Turn.Container(manifests).Image);
        // No capability: coturn binds no port below 1024.
        Assert.All(Turn.Container(manifests).Ports, p => Assert.True(p.ContainerPort >= 1024));
        Assert.Equal(Turn.Name, deployment.Spec.Template.Spec.ServiceAccountName);
    }

    private static long Number(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return ((long)bytes[0] << 24) | ((long)bytes[1] << 16) | ((long)bytes[2] << 8) | bytes[3];
    }
}

/// <summary>The coturn Deployment and Service (base/turn).</summary>
public static class Turn
{
    public const string Name = "turn";
    public const int ListeningPort = 3478;

    public static V1Container Container(Manifests manifests) =>
        manifests.One<V1Deployment>(Name).Spec.Template.Spec.Containers.Single();

    /// <summary>The value of <c>--name=value</c> in the container's args, with $(VAR) expanded when manifests are given.</summary>
    public static string Argument(V1Container container, string name, Manifests? manifests = null)
    {
        var values = container.Args.Where(a => a.StartsWith($"--{name}=", StringComparison.Ordinal)).Select(a => a[(name.Length + 3)..]).ToList();
        Assert.True(values.Count == 1, $"coturn has {values.Count} --{name}");
        if (manifests is null)
            return values[0];
        var environment = manifests.Environment(container);
        return Regex.Replace(values[0], @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", m =>
            environment.TryGetValue(m.Groups[1].Value, out var value) && value.Value is not null
                ? value.Value : throw new Xunit.Sdk.XunitException($"coturn's --{name} uses $({m.Groups[1].Value}), which has no literal value"));
    }
}
