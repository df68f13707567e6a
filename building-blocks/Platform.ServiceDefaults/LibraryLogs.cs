using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Hosting;

namespace Platform.ServiceDefaults;

/// <summary>
/// Libraries that log every operation at Information: Npgsql each command it runs (<c>Npgsql.Command</c>: "Command
/// execution completed", with its SQL), HttpClient four lines per outgoing request
/// (<c>System.Net.Http.HttpClient.{name}.LogicalHandler</c> and <c>.ClientHandler</c>). With the services' default level
/// (Information) they were most of every service's log: under 100 messages/s Messaging wrote thousands of lines a
/// second, each formatted, written to the console and exported over OTLP. They log at Warning and above unless the
/// configuration says otherwise: these defaults are the configuration's lowest layer, so appsettings, environment
/// variables (<c>Logging__LogLevel__Npgsql=Information</c>) and the command line still decide.
/// </summary>
public static class LibraryLogs
{
    /// <summary>The categories (and everything under them) that log at Warning and above by default.</summary>
    public static readonly IReadOnlyList<string> QuietCategories = ["Npgsql", "System.Net.Http.HttpClient"];

    internal static IHostApplicationBuilder AddQuietLibraryLogs(this IHostApplicationBuilder builder)
    {
        var defaults = new MemoryConfigurationSource
        {
            InitialData = QuietCategories.Select(category => KeyValuePair.Create<string, string?>($"Logging:LogLevel:{category}", "Warning")),
        };
        // First source: every other one (appsettings, environment, command line, a test's settings) overrides it.
        builder.Configuration.Sources.Insert(0, defaults);
        return builder;
    }
}
