using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using k8s.Models;
using Npgsql;
using Platform.Testing;

namespace Platform.Deploy.Tests;

/// <summary>
/// Every service started as a process with exactly the environment its rendered Deployment gives it (in the
/// Production environment, where nothing is generated for development), with only what the cluster supplies put in
/// by the test: the secrets' values, the data stores' and the other services' addresses, the mounted key files and
/// writable volumes. Optional secrets are absent.
/// A setting the manifests miss stops the start; a wrong one fails readiness or the routed request.
/// </summary>
public sealed class StartupTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>, IAsyncLifetime
{
    // Identity first: the others fetch its discovery document.
    private static readonly string[] StartOrder = ["identity", "messaging", "presence", "notifications", "media", "gateway"];
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _files = Directory.CreateTempSubdirectory("platform-secrets-").FullName;

    [Fact]
    public async Task EveryService_StartsAndIsReady_WithTheProductionManifestsEnvironment()
    {
        var manifests = Manifests.Render("overlays/production");
        var database = new NpgsqlConnectionStringBuilder(infrastructure.Database.ConnectionString);
        var broker = new Uri(infrastructure.VirtualHost.ConnectionString);
        using var signing = RSA.Create(2048);
        using var encryption = RSA.Create(2048);
        var secretValues = new Dictionary<(string, string), string>
        {
            [("platform-postgres-app", "username")] = database.Username!,
            [("platform-postgres-app", "password")] = database.Password!,
            [("platform-rabbitmq-default-user", "username")] = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]),
            [("platform-rabbitmq-default-user", "password")] = Uri.UnescapeDataString(broker.UserInfo.Split(':')[1]),
            [("platform-identity-keys", "signing.pem")] = signing.ExportPkcs8PrivateKeyPem(),
            [("platform-identity-keys", "encryption.pem")] = encryption.ExportPkcs8PrivateKeyPem(),
            [("platform-media-keys", "signing-key")] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            [("platform-turn", "secret")] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)),
            [("platform-service-clients", "media")] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)),
            [("platform-service-clients", "notifications")] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)),
            [("platform-service-clients", "presence")] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)),
            // The optional secrets (platform-notifications, platform-media-s3) are absent, as in a minimal install:
            // the services must start without them.
        };
        string? Secret(string name, string key) => secretValues.GetValueOrDefault((name, key));

        var addresses = new Dictionary<string, Uri>();
        foreach (var service in StartOrder)
        {
            var deployment = manifests.One<V1Deployment>(service);
            var pod = deployment.Spec.Template.Spec;
            var container = pod.Containers.Single();
            var overrides = new Dictionary<string, string>
            {
                ["POSTGRES_HOST"] = database.Host!,
                ["POSTGRES_PORT"] = database.Port.ToString(),
                ["POSTGRES_DATABASE"] = database.Database!,
                ["RABBITMQ_HOST"] = broker.Host,
                ["RABBITMQ_PORT"] = broker.Port.ToString(),
                ["RABBITMQ_VHOST"] = broker.AbsolutePath.Trim('/'),
                // No collector here; the exporter's failures are not this test's subject.
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9/",
            };
            var declared = manifests.Environment(container);
            // In-cluster service addresses become the local processes' addresses.
            foreach (var (key, value) in declared)
                if (value.Value is { } text && Uri.TryCreate(text, UriKind.Absolute, out var uri) && addresses.TryGetValue(uri.Host, out var local))
                    overrides[key] = new Uri(local, uri.PathAndQuery).ToString();
            // Secret volumes become files, at the same place relative to their mount.
            foreach (var mount in container.VolumeMounts.Where(m => pod.Volumes.Single(v => v.Name == m.Name).Secret is not null))
            {
                var volume = pod.Volumes.Single(v => v.Name == mount.Name).Secret;
                var folder = Directory.CreateDirectory(Path.Combine(_files, mount.Name)).FullName;
                foreach (var item in volume.Items)
                    await File.WriteAllTextAsync(Path.Combine(folder, item.Path), Secret(volume.SecretName, item.Key));
                foreach (var (key, value) in declared.Where(e => e.Value.Value?.StartsWith(mount.MountPath + "/", StringComparison.Ordinal) == true))
                    overrides[key] = Path.Combine(folder, value.Value![(mount.MountPath.Length + 1)..]);
            }

            // Writable volumes (the root filesystem is read-only) become fresh folders, the settings naming them follow.
            foreach (var mount in container.VolumeMounts.Where(m => m.MountPath != "/tmp" && pod.Volumes.Single(v => v.Name == m.Name) is { EmptyDir: not null } or { PersistentVolumeClaim: not null }))
            {
                var folder = Directory.CreateDirectory(Path.Combine(_files, mount.Name)).FullName;
                foreach (var (key, value) in declared.Where(e => e.Value.Value == mount.MountPath || e.Value.Value?.StartsWith(mount.MountPath + "/", StringComparison.Ordinal) == true))
                    overrides[key] = folder + value.Value![mount.MountPath.Length..];
            }

            var environment = manifests.Environment(container, Secret, overrides);
            var settings = environment.ToDictionary(e => e.Key, e => e.Value.Value);
            var folderName = char.ToUpperInvariant(service[0]) + service[1..];
            ServiceProcess process;
            try
            {
                process = await ServiceProcess.StartAsync(folderName, settings);
            }
            catch (Exception exception)
            {
                throw new Xunit.Sdk.XunitException($"{service} did not start with the manifests' environment: {exception.Message}");
            }
            _processes.Add(process);
            addresses[service] = process.BaseAddress;
        }

        // Routed through the Gateway to Identity, which names the issuer the manifests configure.
        using var http = new HttpClient { BaseAddress = addresses["gateway"] };
        var discovery = await http.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        var issuer = manifests.Environment(manifests.One<V1Deployment>("identity").Spec.Template.Spec.Containers.Single())["Auth__Issuer"].Value;
        Assert.Equal(issuer, discovery.GetProperty("issuer").GetString());
        // And each service's part of the API answers through the Gateway (401: it is there and wants a token).
        foreach (var path in new[] { "/api/v1/conversations", "/api/v1/users/me", "/api/v1/presence?userIds=" + Guid.NewGuid(), "/api/v1/notifications", "/api/v1/media/" + Guid.NewGuid() })
        {
            // (404 from a service that serves no endpoint there yet; never the Gateway's 502/503 "did not answer".)
            var response = await http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode} {body}");
            Assert.DoesNotContain("did not answer", body);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
            await process.DisposeAsync();
        Directory.Delete(_files, recursive: true);
    }
}
