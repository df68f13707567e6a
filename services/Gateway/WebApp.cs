using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Platform.Gateway;

public sealed class WebAppOptions
{
    public const string Section = "Gateway";

    /// <summary>
    /// The built web app (<c>clients/web/dist</c>), absolute or relative to the content root. The Gateway serves it at
    /// <c>/</c> when the folder holds an <c>index.html</c>; otherwise there is no app and nothing else changes.
    /// </summary>
    public string WebRoot { get; set; } = "web";
}

/// <summary>
/// The reference web app at <c>/</c>: its files, and <c>index.html</c> for any other page path (the app routes in the
/// browser). Never for the API's paths: a path under a proxied route's first segment, the hub, health, metrics or
/// OpenAPI answers what it answered without the app (a 404 problem where nothing matches).
/// </summary>
public static class WebApp
{
    // What the app may load: its own files, the Gateway's API and hub, images from Media (same origin) or data/blob URLs.
    // No inline script: message text is rendered as text, and this is the second line of defence.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; connect-src 'self' ws: wss:; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    private static readonly string[] GatewayPrefixes = [GatewayServiceExtensions.HubPath, "/hubs", "/health", "/metrics", "/openapi", "/api"];

    public static IHostApplicationBuilder AddWebApp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebAppOptions>().BindConfiguration(WebAppOptions.Section);
        return builder;
    }

    public static WebApplication MapWebApp(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<WebAppOptions>>().Value;
        var root = Path.GetFullPath(options.WebRoot, app.Environment.ContentRootPath);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WebApp));
        if (!File.Exists(Path.Combine(root, "index.html")))
        {
            logger.LogInformation("No web app at {WebRoot} (Gateway:WebRoot): / is not served", root);
            return app;
        }
        logger.LogInformation("Serving the web app from {WebRoot}", root);

        var reserved = ReservedPrefixes(app.Configuration);
        var files = new PhysicalFileProvider(root);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                // Vite names the bundles after their content: cached for good. Anything else is checked each time.
                context.Context.Response.Headers.CacheControl = context.Context.Request.Path.StartsWithSegments("/assets")
                    ? "public, max-age=31536000, immutable"
                    : "no-cache";
                context.Context.Response.Headers["X-Content-Type-Options"] = "nosniff";
                if (context.File.Name.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
                    context.Context.Response.Headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
            },
        });

        // Only paths without a file extension (a missing /assets/x.js stays a 404), and only page paths.
        app.MapFallback("{*path:nonfile}", async context =>
        {
            var path = context.Request.Path;
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
                || reserved.Any(prefix => path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            var index = files.GetFileInfo("index.html");
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            context.Response.Headers["Referrer-Policy"] = "no-referrer";
            context.Response.Headers.XFrameOptions = "DENY";
            if (HttpMethods.IsHead(context.Request.Method))
                context.Response.ContentLength = index.Length;
            else
                await context.Response.SendFileAsync(index, context.RequestAborted);
        });
        return app;
    }

    /// <summary>The first segment of every proxied route (<c>/api</c>, <c>/connect</c>, <c>/account</c>, <c>/.well-known</c>, ...) and the Gateway's own.</summary>
    internal static IReadOnlyList<string> ReservedPrefixes(IConfiguration configuration) =>
        configuration.GetSection("ReverseProxy:Routes").GetChildren()
            .Select(route => route["Match:Path"])
            .OfType<string>()
            .Select(path => "/" + path.TrimStart('/').Split('/')[0])
            .Where(prefix => prefix.Length > 1 && !prefix.Contains('{'))
            .Concat(GatewayPrefixes)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
}
