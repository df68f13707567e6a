using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.BuildingBlocks.Tests;

/// <summary>A test server host with the service defaults and the platform's authentication, trusting <paramref name="issuer"/>'s tokens.</summary>
internal static class AuthenticatedHost
{
    public static WebApplicationBuilder CreateBuilder(TestTokenIssuer issuer)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Auth:Issuer"] = issuer.Issuer,
            ["Auth:MetadataAddress"] = issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
        });
        builder.AddServiceDefaults();
        builder.AddPlatformAuthentication();
        return builder;
    }
}
