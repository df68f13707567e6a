using System.Text.RegularExpressions;
using System.Xml.Linq;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>Invariants every overlay of deploy/k8s keeps, checked on kustomize's output parsed into typed models.</summary>
public sealed class ManifestTests
{
    public static TheoryData<string> Overlays => new("overlays/dev", "overlays/production");

    private static Manifests Render(string overlay) => Manifests.Render(overlay);

    [Theory, MemberData(nameof(Overlays))]
    public void Overlay_Renders_AndEveryObjectIsATypedModel(string overlay)
    {
        var manifests = Render(overlay);

        Assert.NotEmpty(manifests.Objects);
        // LoadAllFromString (strict) fails on unknown kinds and fields; nothing falls back to an untyped object.
        Assert.All(manifests.Objects, o => Assert.IsAssignableFrom<k8s.IKubernetesObject<V1ObjectMeta>>(o));
        foreach (var service in Repository.Services)
        {
            manifests.One<V1Deployment>(service);
            manifests.One<V1Service>(service);
            manifests.One<V1ServiceAccount>(service);
            manifests.One<V1PodDisruptionBudget>(service);
            manifests.One<V2HorizontalPodAutoscaler>(service);
            var deployment = manifests.One<V1Deployment>(service);
            var configMaps = deployment.Spec.Template.Spec.Containers.Single().EnvFrom.Select(e => e.ConfigMapRef.Name).ToList();
            Assert.Contains(configMaps, name => name.StartsWith(service + "-", StringComparison.Ordinal));
            Assert.Equal(service, deployment.Spec.Template.Spec.ServiceAccountName);
        }
        var names = manifests.Objects.Cast<k8s.IKubernetesObject<V1ObjectMeta>>().Select(o => $"{o.Kind}/{o.Metadata.Name}").ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryService_SelectsThePodsOfAWorkload_OnAPortTheyExpose(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var service in manifests.All<V1Service>())
        {
            var workloads = manifests.Workloads.Where(w => w.Selects(service.Spec.Selector)).ToList();
            Assert.True(workloads.Count == 1, $"{overlay}: Service {service.Metadata.Name} selects {workloads.Count} workloads");
            var ports = workloads[0].Template.Spec.Containers.SelectMany(c => c.Ports ?? []).ToList();
            foreach (var port in service.Spec.Ports)
                Assert.True(ports.Any(p => port.TargetPort.Value == p.Name || port.TargetPort.Value == p.ContainerPort.ToString()),
                    $"{overlay}: Service {service.Metadata.Name} targets port {port.TargetPort.Value}, which {workloads[0].Name} does not expose");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void ServicePorts_MatchThePortTheServiceListensOn(string overlay)
    {
        var manifests = Render(overlay);
        // The image's port (services/Directory.Build.props) is the one ASP.NET Core listens on.
        var props = XDocument.Load(Path.Combine(Repository.Root, "services", "Directory.Build.props"));
        var imagePort = int.Parse(props.Descendants("ContainerPort").Single().Attribute("Include")!.Value);
        foreach (var deployment in manifests.PlatformDeployments)
        {
            var container = deployment.Spec.Template.Spec.Containers.Single();
            var environment = manifests.Environment(container);
            Assert.Equal(imagePort.ToString(), environment["ASPNETCORE_HTTP_PORTS"].Value);
            Assert.Equal(imagePort, container.Ports.Single(p => p.Name == "http").ContainerPort);
            var service = manifests.One<V1Service>(deployment.Metadata.Name);
            Assert.Equal("http", service.Spec.Ports.Single().TargetPort.Value);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryInClusterAddress_NamesAServiceAndAPortThatExist(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var deployment in manifests.PlatformDeployments)
            foreach (var (key, value) in manifests.Environment(deployment.Spec.Template.Spec.Containers.Single()))
            {
                if (key is "POSTGRES_HOST" or "RABBITMQ_HOST")
                {
                    // A rendered Service, or the one the operator makes (CloudNativePG: <cluster>-rw; RabbitMQ: <cluster>).
                    Assert.True(manifests.All<V1Service>().Any(s => s.Metadata.Name == value.Value && s.Spec.Ports.Any(p => p.Port is 5432 or 5672))
                        || manifests.All<CnpgCluster>().Any(c => c.Metadata.Name + "-rw" == value.Value)
                        || manifests.All<RabbitmqCluster>().Any(c => c.Metadata.Name == value.Value), $"{overlay}: {key}={value.Value} names no Service");
                    continue;
                }
                if (!(key.EndsWith("Address", StringComparison.Ordinal) || key == "OTEL_EXPORTER_OTLP_ENDPOINT"))
                    continue;
                Assert.True(Uri.TryCreate(value.Value, UriKind.Absolute, out var uri), $"{overlay}: {deployment.Metadata.Name} {key}={value.Value}");
                var service = manifests.All<V1Service>().SingleOrDefault(s => s.Metadata.Name == uri.Host);
                Assert.True(service is not null, $"{overlay}: {deployment.Metadata.Name} {key}={value.Value} names no Service");
                Assert.Contains(service.Spec.Ports, p => p.Port == uri.Port);
            }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Probes_HitTheHealthEndpoints_AndShutdownFitsTheGracePeriod(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var deployment in manifests.PlatformDeployments)
        {
            var pod = deployment.Spec.Template.Spec;
            var container = pod.Containers.Single();
            Assert.Equal(HealthPaths.Live, container.StartupProbe.HttpGet.Path);
            Assert.Equal(HealthPaths.Live, container.LivenessProbe.HttpGet.Path);
            Assert.Equal(HealthPaths.Ready, container.ReadinessProbe.HttpGet.Path);
            Assert.All(new[] { container.StartupProbe, container.LivenessProbe, container.ReadinessProbe }, p => Assert.Equal("http", p.HttpGet.Port.Value));

            var shutdown = int.Parse(manifests.Environment(container)["Platform__ShutdownTimeoutSeconds"].Value!);
            var preStop = container.Lifecycle?.PreStop?.Sleep?.Seconds ?? 0;
            Assert.True(pod.TerminationGracePeriodSeconds > preStop + shutdown,
                $"{overlay}: {deployment.Metadata.Name} grace {pod.TerminationGracePeriodSeconds}s <= preStop {preStop}s + shutdown {shutdown}s");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryWorkload_IsProbed_HttpServicesOnTheirHealthEndpoints_TheTurnServerOnItsPort(string overlay)
    {
        // The services are covered above; every other Deployment must be probed too, and the one non-HTTP workload
        // (coturn) on its TURN port over TCP: an HTTP probe would never pass.
        var manifests = Render(overlay);
        foreach (var deployment in manifests.All<V1Deployment>().Where(d => !Repository.Services.Contains(d.Metadata.Name)))
            foreach (var container in deployment.Spec.Template.Spec.Containers)
                Assert.True(container.ReadinessProbe is not null && container.LivenessProbe is not null, $"{overlay}: {deployment.Metadata.Name} is not probed");
        var turn = manifests.One<V1Deployment>(Turn.Name).Spec.Template.Spec.Containers.Single();
        foreach (var probe in new[] { turn.StartupProbe, turn.LivenessProbe, turn.ReadinessProbe })
        {
            Assert.Null(probe.HttpGet);
            var port = turn.Ports.Single(p => p.Name == probe.TcpSocket.Port.Value || p.ContainerPort.ToString() == probe.TcpSocket.Port.Value && p.Protocol == "TCP");
            Assert.Equal(("TCP", Turn.ListeningPort), (port.Protocol, port.ContainerPort));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryContainer_HasResources_AndARestrictedSecurityContext(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var workload in manifests.Workloads)
        {
            var pod = workload.Template.Spec;
            foreach (var container in pod.Containers.Concat(pod.InitContainers ?? []))
            {
                var where = $"{overlay}: {workload.Kind} {workload.Name} container {container.Name}";
                foreach (var resource in new[] { "cpu", "memory" })
                {
                    Assert.True(container.Resources?.Requests?.ContainsKey(resource) == true, $"{where}: no {resource} request");
                    Assert.True(container.Resources?.Limits?.ContainsKey(resource) == true, $"{where}: no {resource} limit");
                }
                var security = container.SecurityContext;
                Assert.True(security is not null, $"{where}: no securityContext");
                Assert.True(security.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot, $"{where}: may run as root");
                Assert.True(security.ReadOnlyRootFilesystem, $"{where}: writable root filesystem");
                Assert.False(security.AllowPrivilegeEscalation ?? true, $"{where}: privilege escalation allowed");
                Assert.Equal(["ALL"], security.Capabilities?.Drop ?? []);
                Assert.Null(security.Capabilities?.Add);
                Assert.False(security.Privileged ?? false, where);
                Assert.Equal("RuntimeDefault", (security.SeccompProfile ?? pod.SecurityContext?.SeccompProfile)?.Type);
                // A read-only root needs somewhere to write temporary files.
                var tmp = container.VolumeMounts?.SingleOrDefault(m => m.MountPath == "/tmp");
                Assert.True(tmp is not null, $"{where}: /tmp is not mounted");
                Assert.NotNull(pod.Volumes.Single(v => v.Name == tmp.Name).EmptyDir);
            }
            Assert.True(pod.HostNetwork != true && pod.HostPID != true && pod.HostIPC != true, $"{workload.Name} shares host namespaces");
        }
        foreach (var deployment in manifests.PlatformDeployments)
        {
            var spread = deployment.Spec.Template.Spec.TopologySpreadConstraints;
            Assert.Contains(spread, c => c.TopologyKey == "topology.kubernetes.io/zone");
            Assert.Contains(spread, c => c.TopologyKey == "kubernetes.io/hostname");
            Assert.All(spread, c => Assert.True(new Workload("", "", deployment.Spec.Template).Selects(c.LabelSelector.MatchLabels)));
            Assert.Equal(0, deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value == "0" ? 0 : int.Parse(deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryAutoscalerAndDisruptionBudget_TargetsAnExistingWorkload(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var hpa in manifests.All<V2HorizontalPodAutoscaler>())
        {
            var target = hpa.Spec.ScaleTargetRef;
            Assert.Contains(manifests.Workloads, w => w.Kind == target.Kind && w.Name == target.Name);
            Assert.True(hpa.Spec.MinReplicas <= hpa.Spec.MaxReplicas, hpa.Metadata.Name);
        }
        foreach (var pdb in manifests.All<V1PodDisruptionBudget>())
            Assert.True(manifests.Workloads.Count(w => w.Selects(pdb.Spec.Selector.MatchLabels)) == 1, $"{overlay}: PDB {pdb.Metadata.Name} selects no single workload");
        // Every platform workload is covered by both.
        foreach (var service in Repository.Services)
        {
            Assert.Contains(manifests.All<V2HorizontalPodAutoscaler>(), h => h.Spec.ScaleTargetRef.Name == service);
            Assert.Contains(manifests.All<V1PodDisruptionBudget>(), p => new Workload("", "", manifests.One<V1Deployment>(service).Spec.Template).Selects(p.Spec.Selector.MatchLabels));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void NoSecret_IsCommitted_AndSecretsAreOnlyReferenced(string overlay)
    {
        var manifests = Render(overlay);
        Assert.Empty(manifests.All<V1Secret>());
        var suspicious = new Regex("password|secret|signingkey$|encryptionkey$|privatekey|accesskey$|authorization$|token", RegexOptions.IgnoreCase);
        foreach (var map in manifests.All<V1ConfigMap>())
            foreach (var key in (map.Data ?? new Dictionary<string, string>()).Keys)
                Assert.False(suspicious.IsMatch(key), $"{overlay}: ConfigMap {map.Metadata.Name} holds {key}");
        foreach (var workload in manifests.Workloads)
            foreach (var container in workload.Template.Spec.Containers)
                foreach (var variable in container.Env ?? [])
                    if (suspicious.IsMatch(variable.Name) || variable.Name.EndsWith("PASS", StringComparison.Ordinal))
                        Assert.True(variable.ValueFrom?.SecretKeyRef is not null, $"{overlay}: {workload.Name} {variable.Name} is not taken from a secret");

        // Every secret referenced is one the runbook tells SREs to provide (or an operator creates).
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "k8s", "README.md"));
        foreach (var name in ReferencedSecrets(manifests))
            Assert.True(readme.Contains($"`{name}`"), $"{overlay}: secret {name} is not documented in deploy/k8s/README.md");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryImage_IsPinnedToATag(string overlay)
    {
        var manifests = Render(overlay);
        var images = manifests.Workloads.SelectMany(w => w.Template.Spec.Containers.Concat(w.Template.Spec.InitContainers ?? []).Select(c => c.Image))
            .Concat(manifests.All<CnpgCluster>().Select(c => c.Spec.ImageName))
            .Concat(manifests.All<RabbitmqCluster>().Select(c => c.Spec.Image));
        foreach (var image in images)
        {
            var name = image.Split('@')[0];
            var tag = name.LastIndexOf(':') > name.LastIndexOf('/') ? name[(name.LastIndexOf(':') + 1)..] : null;
            Assert.True(image.Contains("@sha256:") || tag is { Length: > 0 } && tag != "latest", $"{overlay}: image {image} has no pinned tag");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EverySettingAServiceRequires_IsProvided(string overlay)
    {
        var manifests = Render(overlay);
        foreach (var service in Repository.Services)
        {
            var container = manifests.One<V1Deployment>(service).Spec.Template.Spec.Containers.Single();
            var environment = manifests.Environment(container);
            foreach (var required in RequiredSettings.For(service))
                Assert.True(required.Split('|').Any(name => environment.TryGetValue(name, out var value) && (value.Secret is not null && !value.Optional || !string.IsNullOrWhiteSpace(value.Value))),
                    $"{overlay}: {service} needs {required}");

            // Values that are validated at start, checked the way the service checks them.
            foreach (var (key, value) in environment.Where(e => e.Value.Value is not null))
                if (key.StartsWith("Auth__", StringComparison.Ordinal) && key != "Auth__RequireHttpsMetadata")
                    Assert.True(Uri.TryCreate(value.Value, UriKind.Absolute, out _), $"{overlay}: {service} {key}={value.Value} is not a URL");
            if (environment.TryGetValue("Auth__MetadataAddress", out var metadata) && metadata.Value!.StartsWith("http://", StringComparison.Ordinal))
                Assert.Equal("false", environment["Auth__RequireHttpsMetadata"].Value);
            Assert.StartsWith("amqp://", environment["ConnectionStrings__RabbitMq"].Value);
            if (environment.TryGetValue("ConnectionStrings__Postgres", out var postgres))
                _ = new Npgsql.NpgsqlConnectionStringBuilder(postgres.Value);

            // Files the settings name are mounted.
            foreach (var (key, value) in environment.Where(e => e.Key.EndsWith("File", StringComparison.Ordinal)))
                Assert.Contains(container.VolumeMounts, m => value.Value!.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void NetworkPolicies_DenyByDefault_AndAllowExactlyTheCallsTheServicesMake(string overlay)
    {
        var manifests = Render(overlay);
        var network = new NetworkModel(manifests);
        Assert.Contains(manifests.All<V1NetworkPolicy>(), p => p.Spec.PodSelector.MatchLabels is null or { Count: 0 }
            && p.Spec.PodSelector.MatchExpressions is null or { Count: 0 }
            && p.Spec.PolicyTypes.Contains("Ingress") && p.Spec.PolicyTypes.Contains("Egress")
            && p.Spec.Ingress is null or { Count: 0 } && p.Spec.Egress is null or { Count: 0 });

        var postgresUsers = Repository.Services.Where(RequiredSettings.UsesPostgres).ToList();
        foreach (var service in Repository.Services)
        {
            Assert.True(network.Allows(service, "platform-rabbitmq", 5672), $"{overlay}: {service} cannot reach RabbitMQ");
            Assert.Equal(postgresUsers.Contains(service), network.Allows(service, "platform-postgres", 5432));
            Assert.True(network.AllowsDns(service), $"{overlay}: {service} cannot resolve names");
            Assert.True(network.Allows(service, "otel-collector", 4317), $"{overlay}: {service} cannot export telemetry");
            if (service != "identity")
                Assert.True(network.Allows(service, "identity", 8080), $"{overlay}: {service} cannot fetch Identity's JWKS");
            foreach (var other in Repository.Services.Where(o => o != service && o != "identity"))
                // Identity asks every service for its part of a data export (Identity__Export__Services__*).
                Assert.True(service == "gateway" || service == "identity" && other != "gateway" || other == "messaging" && RequiredSettings.ReadsConversationLog(service)
                    ? network.Allows(service, other, 8080) : !network.Allows(service, other, 8080), $"{overlay}: {service} -> {other}");
            Assert.False(network.Allows(service, "gateway", 8080), $"{overlay}: {service} may call the Gateway");

            // From outside: only the Gateway, through the Envoy proxies of Gateway platform (Envoy Gateway's namespace).
            Assert.Equal(service == "gateway", network.AllowsFromNamespace(EnvoyNamespace, EnvoyProxyLabels, service, 8080));
            Assert.False(network.AllowsFromNamespace(EnvoyNamespace, new() { ["gateway.envoyproxy.io/owning-gateway-name"] = "another" }, service, 8080));
            Assert.False(network.AllowsFromNamespace("some-other-namespace", [], service, 8080));
            Assert.Equal("ClusterIP", manifests.One<V1Service>(service).Spec.Type ?? "ClusterIP");
        }
        Assert.False(network.AllowsFromNamespace(EnvoyNamespace, EnvoyProxyLabels, "platform-postgres", 5432));
        // Everything is ClusterIP but the TURN server, which clients and peers reach directly (TurnTests checks its ports).
        Assert.All(manifests.All<V1Service>().Where(s => s.Metadata.Name != Turn.Name),
            s => Assert.True(s.Spec.Type is null or "ClusterIP", $"{s.Metadata.Name} is exposed as {s.Spec.Type}"));
        Assert.Equal(overlay == "overlays/dev" ? "NodePort" : "LoadBalancer", manifests.One<V1Service>(Turn.Name).Spec.Type);
        // No platform pod talks to the TURN server, and it reaches none of them.
        foreach (var service in Repository.Services)
        {
            Assert.False(network.Allows(service, Turn.Name, Turn.ListeningPort), $"{overlay}: {service} may call the TURN server");
            Assert.False(network.Allows(Turn.Name, service, 8080), $"{overlay}: the TURN server may call {service}");
        }
        Assert.False(network.Allows(Turn.Name, "platform-postgres", 5432) || network.Allows(Turn.Name, "platform-rabbitmq", 5672), $"{overlay}: the TURN server reaches a data store");
        Assert.All(manifests.All<HttpRoute>().SelectMany(r => r.Spec.Rules).SelectMany(r => r.BackendRefs), b => Assert.Equal("gateway", b.Name));
    }

    /// <summary>Where Envoy Gateway runs the proxies of a Gateway (its default, one deployment per Gateway), and their label.</summary>
    private const string EnvoyNamespace = "envoy-gateway-system";

    private static Dictionary<string, string> EnvoyProxyLabels => new()
    {
        ["gateway.envoyproxy.io/owning-gateway-name"] = EdgeTests.GatewayName,
        ["app.kubernetes.io/managed-by"] = "envoy-gateway",
    };

    [Fact]
    public void Production_TerminatesTls_AndRunsReplicatedOperatorsAndSeveralReplicas()
    {
        var manifests = Render("overlays/production");
        // The issuer is https on the host of the Gateway's TLS listener (EdgeTests checks the listener and the redirect).
        var issuer = new Uri(manifests.Environment(manifests.One<V1Deployment>("gateway").Spec.Template.Spec.Containers.Single())["Auth__Issuer"].Value!);
        Assert.Equal("https", issuer.Scheme);
        Assert.Equal(("HTTPS", issuer.Host), (EdgeTests.ServedListener(manifests).Protocol, EdgeTests.ServedListener(manifests).Hostname));

        Assert.All(manifests.All<V2HorizontalPodAutoscaler>(), h => Assert.True(h.Spec.MinReplicas >= 3, h.Metadata.Name));
        var gateway = manifests.One<V2HorizontalPodAutoscaler>("gateway");
        Assert.Contains(gateway.Spec.Metrics, m => m.Type == "Pods" && m.Pods.Metric.Name == "platform_gateway_connections");
        Assert.Contains(gateway.Spec.Metrics, m => m.Type == "Resource" && m.Resource.Name == "cpu");

        var postgres = Assert.Single(manifests.All<CnpgCluster>());
        Assert.Equal("platform-postgres", postgres.Metadata.Name);
        Assert.True(postgres.Spec.Instances >= 3);
        Assert.NotNull(postgres.Spec.Backup);
        Assert.Contains(manifests.All<CnpgScheduledBackup>(), b => b.Spec["cluster"] is Dictionary<object, object> c && (string)c["name"] == "platform-postgres");
        var rabbit = Assert.Single(manifests.All<RabbitmqCluster>());
        Assert.Equal("platform-rabbitmq", rabbit.Metadata.Name);
        Assert.True(rabbit.Spec.Replicas >= 3);
        Assert.Contains("default_queue_type = quorum", rabbit.Spec.Rabbitmq?.AdditionalConfig);
        // scripts/bus.sh replay moves parked messages with the shovel.
        Assert.Contains("rabbitmq_shovel", rabbit.Spec.Rabbitmq!.AdditionalPlugins);
        Assert.Contains("rabbitmq_shovel_management", rabbit.Spec.Rabbitmq.AdditionalPlugins);
        Assert.Empty(manifests.All<V1StatefulSet>());
    }

    [Fact]
    public void Dev_RunsOnePodPerService_WithInClusterPostgresAndRabbitMq()
    {
        var manifests = Render("overlays/dev");
        Assert.All(manifests.All<V2HorizontalPodAutoscaler>(), h => Assert.Equal((1, 1), (h.Spec.MinReplicas, h.Spec.MaxReplicas)));
        var postgres = manifests.One<V1StatefulSet>("platform-postgres");
        var rabbit = manifests.One<V1StatefulSet>("platform-rabbitmq");
        Assert.Equal(1, postgres.Spec.Replicas);
        Assert.Equal(1, rabbit.Spec.Replicas);
        Assert.Empty(manifests.All<CnpgCluster>());
        Assert.Empty(manifests.All<RabbitmqCluster>());
        var plugins = manifests.One<V1ConfigMap>("platform-rabbitmq-config").Data["enabled_plugins"];
        Assert.Contains("rabbitmq_shovel_management", plugins);
        Assert.Contains(rabbit.Spec.Template.Spec.Containers.Single().Env, e => e.Name == "RABBITMQ_ENABLED_PLUGINS_FILE");
    }

    internal static IEnumerable<string> ReferencedSecrets(Manifests manifests) =>
        manifests.Workloads.SelectMany(w => w.Template.Spec.Containers.SelectMany(c => (c.Env ?? []).Select(e => e.ValueFrom?.SecretKeyRef?.Name))
                .Concat((w.Template.Spec.Volumes ?? []).Select(v => v.Secret?.SecretName)))
            .Concat(manifests.All<Gateway>().SelectMany(g => g.Spec.Listeners.SelectMany(l => l.Tls?.CertificateRefs ?? []).Select(r => r.Name)))
            .Concat(manifests.All<CnpgCluster>().SelectMany(c => Regex.Matches(System.Text.Json.JsonSerializer.Serialize(c.Spec.Backup), "\"name\":\"([^\"]+)\"").Select(m => m.Groups[1].Value)))
            .OfType<string>().Distinct();
}

public static class HealthPaths
{
    public const string Live = "/health/live";
    public const string Ready = "/health/ready";
}
