using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

/// <summary>Libraries that log each operation at Information (every SQL command, every outgoing request) are quiet unless asked.</summary>
public sealed class LibraryLogsTests
{
    [Fact]
    public void EachCommandAndOutgoingRequest_IsNotLogged_WhileTheServicesOwnInformationIs()
    {
        using var host = Build(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Information" });
        var loggers = host.Services.GetRequiredService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger("Npgsql.Command").IsEnabled(LogLevel.Information));
        Assert.False(loggers.CreateLogger("System.Net.Http.HttpClient.MessagingClient.LogicalHandler").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Npgsql.Command").IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("Platform.Messaging.ConversationWriter").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void TheConfiguration_StillDecides()
    {
        using var host = Build(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Npgsql"] = "Information",
        });
        var loggers = host.Services.GetRequiredService<ILoggerFactory>();

        Assert.True(loggers.CreateLogger("Npgsql.Command").IsEnabled(LogLevel.Information));
        Assert.False(loggers.CreateLogger("System.Net.Http.HttpClient.MessagingClient.ClientHandler").IsEnabled(LogLevel.Information));
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        return builder.Build();
    }
}
