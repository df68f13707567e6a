using System.Text.Json;

namespace Platform.Deploy.Tests;

/// <summary>
/// What each service needs from its environment to start and work, read off its code: the building blocks it
/// calls (each reads its settings and refuses to start without them) and its own configuration.
/// </summary>
public static class RequiredSettings
{
    public static bool UsesPostgres(string service) => Source(service).Contains("AddPlatformPostgres(");

    /// <summary>Backfills from Messaging's conversation log feed: calls Messaging, signs in at Identity as its own client.</summary>
    public static bool ReadsConversationLog(string service) => Source(service).Contains("AddConversationLogBackfill<");

    /// <summary>Names of environment variables; "A|B" means either.</summary>
    public static IEnumerable<string> For(string service)
    {
        var code = Source(service);
        yield return "ASPNETCORE_HTTP_PORTS";
        yield return "Platform__ShutdownTimeoutSeconds";
        // Telemetry: the service's name on its traces, and where they go.
        yield return "OTEL_SERVICE_NAME";
        yield return "OTEL_EXPORTER_OTLP_ENDPOINT";
        if (code.Contains("AddPlatformPostgres("))
            yield return "ConnectionStrings__Postgres";
        if (code.Contains("AddPlatformBus("))
            yield return "ConnectionStrings__RabbitMq";
        if (code.Contains("AddPlatformAuthentication(") || code.Contains("AuthOptions.Section"))
        {
            yield return "Auth__Issuer";
            yield return "Auth__MetadataAddress";
        }
        if (code.Contains("AddIdentityService("))
        {
            // Outside Development and Testing a missing key stops Identity (ServerKeys).
            yield return "Identity__Keys__SigningKeyFile|Identity__Keys__SigningKey";
            yield return "Identity__Keys__EncryptionKeyFile|Identity__Keys__EncryptionKey";
            yield return "Identity__Clients__WebRedirectUris__0";
            // Each service that reads the conversation log signs in as its own confidential client.
            foreach (var reader in Repository.Services.Where(ReadsConversationLog))
                yield return $"Identity__Clients__Services__{reader}__Secret";
        }
        if (code.Contains("AddConversationLogBackfill<"))
        {
            yield return "ServiceClient__ClientId";
            yield return "ServiceClient__ClientSecret";
            yield return "ConversationLog__MessagingAddress";
        }
        if (code.Contains("MediaOptions.HasValidKey"))
        {
            // [Required] and validated at start: the signed download URLs' key, the same on every replica.
            yield return "Media__SigningKey";
        }
        if (code.Contains("AddReverseProxy("))
        {
            // Every cluster of the Gateway's routes needs the in-cluster address of its service.
            using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.ServiceFolder(service), "appsettings.json")));
            foreach (var cluster in settings.RootElement.GetProperty("ReverseProxy").GetProperty("Clusters").EnumerateObject())
                yield return $"ReverseProxy__Clusters__{cluster.Name}__Destinations__primary__Address";
            yield return "Realtime__AllowedOrigins__0";
        }
    }

    private static string Source(string service) => string.Concat(
        Directory.EnumerateFiles(Repository.ServiceFolder(service), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText));
}
