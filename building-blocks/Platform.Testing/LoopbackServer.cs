using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Testing;

/// <summary>A small real HTTP server on a free loopback port, for test stand-ins (a downstream service, a token issuer).</summary>
public static class LoopbackServer
{
    /// <summary>
    /// For every stand-in's host: rooted in the output folder, not the working directory. A host watches its content root,
    /// subfolders included, for configuration changes; from the repository's root that is thousands of folders, the
    /// benchmark's PostgreSQL and RabbitMQ data among them, written on every commit (the harness's file watching took
    /// about 7% of its CPU at 200 messages/s).
    /// </summary>
    public static WebApplicationOptions HostOptions => new() { ContentRootPath = AppContext.BaseDirectory };

    /// <param name="configure">Adds services before the app is built.</param>
    /// <param name="map">Maps the app's endpoints.</param>
    /// <returns>The started app and its address, ending in <c>/</c>.</returns>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(Action<WebApplication> map, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(HostOptions);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.TrimEnd('/') + "/"));
    }
}
