using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>
/// Settings of the services that must agree with each other, with the pods' volumes, with the edge and with the
/// NetworkPolicies: what a service is configured to do, the cluster lets it do.
/// </summary>
public sealed class ServiceSettingsTests
{
    public static TheoryData<string> Overlays => new("overlays/dev", "overlays/production");

    /// <summary>A public address (outside every range the policies exclude), as a push service or web site has.</summary>
    private static readonly IPAddress Internet = IPAddress.Parse("93.184.215.14");

    private static IReadOnlyDictionary<string, EnvValue> Environment(Manifests manifests, string service) =>
        manifests.Environment(Container(manifests, service));

    private static V1Container Container(Manifests manifests, string service) =>
        manifests.One<V1Deployment>(service).Spec.Template.Spec.Containers.Single();

    [Theory, MemberData(nameof(Overlays))]
    public void PresenceInstanceTtl_IsAtLeastThreeGatewayHeartbeats(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var heartbeat = TimeSpan.Parse(Environment(manifests, "gateway")["Realtime__HeartbeatInterval"].Value!);
        var ttl = TimeSpan.Parse(Environment(manifests, "presence")["Presence__InstanceTtl"].Value!);
        // Two heartbeats may be lost or late (a GC pause, a broker hiccup) without Presence giving up a live Gateway
        // and sending its users offline.
        Assert.True(heartbeat > TimeSpan.Zero && ttl >= 3 * heartbeat, $"{overlay}: Presence__InstanceTtl {ttl} < 3 x Realtime__HeartbeatInterval {heartbeat}");
        var grace = TimeSpan.Parse(Environment(manifests, "presence")["Presence__OfflineGrace"].Value!);
        Assert.True(grace >= TimeSpan.Zero && grace < ttl, $"{overlay}: Presence__OfflineGrace {grace}");
    }

    /// <summary>
    /// Envoy streams bodies without a size limit, so what bounds an upload at the edge is time: the rule carrying a
    /// Gateway route that takes large bodies lets its largest body arrive at 64 KiB/s, and no policy cuts a request
    /// while it is received.
    /// </summary>
    [Theory, MemberData(nameof(Overlays))]
    public void TheEdge_LetsTheLargestBodyTheGatewayRoutesThrough(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var served = EdgeTests.ServedListener(manifests);
        var large = EdgeTests.GatewayRouteSettings().Where(r => r.MaxRequestBodySize > 0).ToList();
        Assert.NotEmpty(large);
        foreach (var (name, path, size) in large)
        {
            var literal = path[..(path.IndexOf('{') is var brace and >= 0 ? brace : path.Length)].TrimEnd('/');
            var timeout = EdgeTests.RuleFor(manifests, served, literal)?.Timeouts?.Request;
            Assert.True(timeout is not null, $"{overlay}: the route to {literal} has Envoy's default timeout (15 s)");
            var allowed = EdgeTests.Duration(timeout);
            var needed = TimeSpan.FromSeconds(size / (64.0 * 1024));
            Assert.True(allowed == TimeSpan.Zero || allowed >= needed,
                $"{overlay}: {literal} (route {name}, up to {size} bytes) times out after {timeout}, less than {needed} at 64 KiB/s");
        }
        Assert.All(manifests.All<ClientTrafficPolicy>(), p => Assert.False(p.Spec.Timeout?.Http?.ContainsKey("requestReceivedTimeout") == true));
        Assert.All(manifests.All<BackendTrafficPolicy>(), p => Assert.False(p.Spec.Timeout?.Http?.ContainsKey("requestTimeout") == true));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Media_WritesOnlyToWritableVolumes_AndKeepsBlobsOnPersistentSharedStorage(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var pod = manifests.One<V1Deployment>("media").Spec.Template.Spec;
        var container = pod.Containers.Single();
        var environment = manifests.Environment(container);
        V1Volume VolumeAt(string path)
        {
            var mount = (container.VolumeMounts ?? []).Where(m => path == m.MountPath || path.StartsWith(m.MountPath + "/", StringComparison.Ordinal))
                .MaxBy(m => m.MountPath.Length);
            Assert.True(mount is not null && mount.ReadOnlyProperty != true, $"{overlay}: media writes to {path}, which is on the read-only root filesystem");
            return pod.Volumes.Single(v => v.Name == mount.Name);
        }

        // Staging: without a setting the service stages under /tmp, a small emptyDir meant for scratch files.
        var staging = environment["Media__StagingPath"].Value!;
        Assert.NotNull(VolumeAt(staging).EmptyDir);
        Assert.NotEqual("/tmp", staging);

        var provider = environment.TryGetValue("Media__Storage__Provider", out var p) ? p.Value : "filesystem";
        Assert.Contains(provider, new[] { "filesystem", "s3" });
        var maxReplicas = manifests.One<V2HorizontalPodAutoscaler>("media").Spec.MaxReplicas;
        if (provider == "filesystem")
        {
            // Blobs outlive the pod, and every replica sees every blob.
            var volume = VolumeAt(environment["Media__Storage__Path"].Value!);
            Assert.True(volume.PersistentVolumeClaim is not null, $"{overlay}: media's blobs are not on a PersistentVolumeClaim");
            var claim = manifests.One<V1PersistentVolumeClaim>(volume.PersistentVolumeClaim.ClaimName);
            Assert.True(maxReplicas == 1 || claim.Spec.AccessModes.Contains("ReadWriteMany"),
                $"{overlay}: {maxReplicas} media pods share claim {claim.Metadata.Name}, which is not ReadWriteMany");
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(environment["Media__Storage__S3Bucket"].Value), $"{overlay}: no bucket");
            var endpoint = new Uri(environment["Media__Storage__S3ServiceUrl"].Value!);
            Assert.Equal("https", endpoint.Scheme);
            Assert.False(string.IsNullOrWhiteSpace(environment["Media__Storage__S3Region"].Value), $"{overlay}: no region");
            // Keys, when given, come from a secret together.
            var keys = new[] { "Media__Storage__S3AccessKey", "Media__Storage__S3SecretKey" }.Select(k => environment.GetValueOrDefault(k)).ToList();
            Assert.True(keys.All(k => k is null) || keys.All(k => k?.Secret is not null), $"{overlay}: S3 keys not both from a secret");
            Assert.True(new NetworkModel(manifests).AllowsToAddress("media", Internet, endpoint.Port), $"{overlay}: media cannot reach {endpoint}");
            Assert.DoesNotContain(manifests.All<V1PersistentVolumeClaim>(), c => c.Metadata.Name == "media-blobs");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void OutboundCalls_TheServicesAreConfiguredFor_AreAllowed(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var network = new NetworkModel(manifests);

        // Media's link previews: every port it may fetch from, on public addresses only.
        var media = Environment(manifests, "media");
        var previewPorts = media.Where(e => e.Key.StartsWith("LinkPreviews__AllowedPorts__", StringComparison.Ordinal)).Select(e => int.Parse(e.Value.Value!)).ToList();
        Assert.NotEmpty(previewPorts);
        foreach (var port in previewPorts)
            Assert.True(network.AllowsToAddress("media", Internet, port), $"{overlay}: media cannot fetch previews on port {port}");
        foreach (var service in Repository.Services.Where(s => s != "media"))
            Assert.False(network.AllowsToAddress(service, Internet, 80), $"{overlay}: {service} may fetch from the internet");

        // Notifications: push services (https) and the invite SMTP server.
        var notifications = Environment(manifests, "notifications");
        Assert.True(network.AllowsToAddress("notifications", Internet, 443), $"{overlay}: notifications cannot reach push services");
        var smtpPort = int.Parse(notifications["Notifications__Invites__Smtp__Port"].Value!);
        Assert.True(network.AllowsToAddress("notifications", Internet, smtpPort), $"{overlay}: notifications cannot reach SMTP on {smtpPort}");

        // Never the internal networks or the cloud metadata service (SSRF through previews or push endpoints).
        foreach (var service in Repository.Services)
            foreach (var address in new[] { "169.254.169.254", "10.1.2.3", "192.168.1.1", "172.20.0.1" })
                Assert.False(network.AllowsToAddress(service, IPAddress.Parse(address), 80) || network.AllowsToAddress(service, IPAddress.Parse(address), 443),
                    $"{overlay}: {service} may reach {address}");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Notifications_LinksInvitesToThePublicUrl_AndNamesAVapidContact(string overlay)
    {
        var manifests = Manifests.Render(overlay);
        var environment = Environment(manifests, "notifications");
        var issuer = new Uri(environment["Auth__Issuer"].Value!);
        var link = new Uri(environment["Notifications__Invites__LinkBaseUrl"].Value!);
        Assert.Equal((issuer.Scheme, issuer.Authority), (link.Scheme, link.Authority));
        var subject = environment["Notifications__Push__VapidSubject"].Value!;
        Assert.Matches("^(mailto:[^@]+@[^@]+|https://.+)$", subject);
        // Secrets the service tolerates without are optional references, so a minimal install starts.
        foreach (var name in new[] { "Notifications__Push__VapidPublicKey", "Notifications__Push__VapidPrivateKey", "Notifications__Invites__Smtp__Password", "Notifications__Invites__Sms__Authorization" })
            Assert.True(environment[name] is { Secret: not null, Optional: true }, $"{overlay}: {name} is not an optional secret reference");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EverySectionSetting_NamesAPropertyTheServiceBinds(string overlay)
    {
        // A typo in a setting's name is silently ignored by configuration binding; the service would run on its default.
        var manifests = Manifests.Render(overlay);
        var sections = new Regex("^(Media|LinkPreviews|Notifications|Presence|Realtime|Identity|Calls|ServiceClient|ConversationLog)__");
        foreach (var service in Repository.Services)
        {
            var code = Source(service);
            foreach (var key in Environment(manifests, service).Keys.Where(k => sections.IsMatch(k)))
                foreach (var (segment, previous) in key.Split("__").Zip(key.Split("__").Skip(1)).Select(p => (p.Second, p.First))
                             // Keys of a dictionary (Identity__Clients__Services__<clientId>__Secret) are names, not properties.
                             .Where(p => !p.Second.All(char.IsDigit) && !Regex.IsMatch(code, $@"Dictionary<string,\s*\w+>\s+{Regex.Escape(p.First)}\s*\{{\s*get;")))
                    Assert.True(Regex.IsMatch(code, $@"\b{Regex.Escape(segment)}\s*\{{\s*get;") || code.Contains($":{segment}\"", StringComparison.Ordinal),
                        $"{overlay}: {service}'s setting {key}: no property {segment} in its options");
        }
    }

    private static string Source(string service) => string.Concat(
        new[] { Repository.ServiceFolder(service), Path.Combine(Repository.Root, "building-blocks", "Platform.ServiceDefaults") }
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText));
}
