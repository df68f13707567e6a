using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Platform.ServiceDefaults;

/// <summary>
/// Values that were once committed to the repository as local keys and secrets: anyone can read them in its history,
/// so outside Development a service with one of them configured refuses to start. Local runs get theirs generated per
/// machine by <c>./platform run</c>; tests generate random ones.
/// </summary>
public static class DevelopmentSecrets
{
    private static readonly HashSet<string> Known =
    [
        "ZGV2ZWxvcG1lbnQtb25seS1tZWRpYS1zaWduaW5nLWtleS0wMDAwMDAwMA==", // Media:SigningKey
        "dev-only-messaging-secret", // Identity:Clients:Services:messaging:Secret
        "dev-only-notifications-secret", // Identity:Clients:Services:notifications:Secret
        "demo-password-1", // Identity:DemoUserPassword
    ];

    /// <summary>The settings (names only) whose values are known development secrets.</summary>
    public static IReadOnlyList<string> Find(IConfiguration configuration) =>
        configuration.AsEnumerable()
            .Where(setting => setting.Value is { } value && Known.Contains(value.Trim()))
            .Select(setting => setting.Key)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Throws, naming the settings, when a known development secret is configured outside Development.</summary>
    public static void RefuseOutsideDevelopment(IHostApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment())
            return;
        var found = Find(builder.Configuration);
        if (found.Count > 0)
            throw new InvalidOperationException(
                $"{string.Join(", ", found)}: a development key or secret published in the repository is configured in the " +
                $"'{builder.Environment.EnvironmentName}' environment. Generate a new one (e.g. `openssl rand -base64 32`).");
    }
}
