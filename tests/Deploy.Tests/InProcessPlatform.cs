extern alias gateway;
extern alias messaging;

using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Platform.Testing;

namespace Platform.Deploy.Tests;

/// <summary>
/// Messaging and a Gateway hosted in this process on real ports (Kestrel), on the class's database and vhost, tokens
/// from a test issuer, every span of both exported to <see cref="Spans"/>.
/// </summary>
public sealed class InProcessPlatform : IAsyncDisposable
{
    private InProcessPlatform(TestTokenIssuer issuer, SynchronizedActivities spans, ServiceFactory<messaging::Program> messaging, ServiceFactory<gateway::Program> gateway, Uri gatewayUrl, Uri messagingUrl)
    {
        Issuer = issuer;
        Spans = spans;
        Messaging = messaging;
        Gateway = gateway;
        GatewayUrl = gatewayUrl;
        MessagingUrl = messagingUrl;
    }

    public TestTokenIssuer Issuer { get; }

    public SynchronizedActivities Spans { get; }

    public ServiceFactory<messaging::Program> Messaging { get; }

    public ServiceFactory<gateway::Program> Gateway { get; }

    public Uri GatewayUrl { get; }

    public Uri MessagingUrl { get; }

    public static async Task<InProcessPlatform> StartAsync(PlatformInfrastructure infrastructure)
    {
        var spans = new SynchronizedActivities();
        var issuer = await TestTokenIssuer.StartAsync();
        void Tracing(IServiceCollection services) =>
            services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));

        var messagingPort = TestInfrastructure.UnusedPort();
        var messagingHost = new ServiceFactory<messaging::Program>(infrastructure)
            .WithSetting("Auth:Issuer", issuer.Issuer)
            .WithSetting("Auth:MetadataAddress", issuer.Url)
            .WithServices(Tracing);
        messagingHost.UseKestrel(messagingPort);
        messagingHost.StartServer();

        var gatewayPort = TestInfrastructure.UnusedPort();
        var gatewayHost = new ServiceFactory<gateway::Program>(infrastructure)
            .WithSetting("Auth:Issuer", issuer.Issuer)
            .WithSetting("Auth:MetadataAddress", issuer.Url)
            .WithSetting("ReverseProxy:Clusters:messaging:Destinations:primary:Address", $"http://127.0.0.1:{messagingPort}/")
            .WithServices(Tracing);
        gatewayHost.UseKestrel(gatewayPort);
        gatewayHost.StartServer();
        return new InProcessPlatform(issuer, spans, messagingHost, gatewayHost, new Uri($"http://127.0.0.1:{gatewayPort}/"), new Uri($"http://127.0.0.1:{messagingPort}/"));
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Messaging.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}

/// <summary>The in-memory exporter's list, written by the export of every host and read by the test.</summary>
public sealed class SynchronizedActivities : ICollection<Activity>
{
    private readonly List<Activity> _items = [];

    public int Count { get { lock (_items) return _items.Count; } }

    public bool IsReadOnly => false;

    public void Add(Activity item) { lock (_items) _items.Add(item); }

    public void Clear() { lock (_items) _items.Clear(); }

    public bool Contains(Activity item) { lock (_items) return _items.Contains(item); }

    public void CopyTo(Activity[] array, int arrayIndex) { lock (_items) _items.CopyTo(array, arrayIndex); }

    public bool Remove(Activity item) { lock (_items) return _items.Remove(item); }

    public List<Activity> Snapshot() { lock (_items) return [.. _items]; }

    public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
