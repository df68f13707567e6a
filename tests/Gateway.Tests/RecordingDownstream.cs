using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Platform.Testing;

namespace Platform.Gateway.Tests;

/// <summary>A real HTTP server on loopback that stands in for a downstream service and records what reached it.</summary>
public sealed class RecordingDownstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record ReceivedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body = "");

    public ConcurrentQueue<ReceivedRequest> Received { get; } = new();

    public string Url { get; }

    private RecordingDownstream(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<RecordingDownstream> StartAsync()
    {
        RecordingDownstream? self = null;
        var (app, address) = await LoopbackServer.StartAsync(app => app.Run(async context =>
        {
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            self!.Received.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "", headers, body));
            await context.Response.WriteAsJsonAsync(new { reached = "downstream", path = context.Request.Path.Value });
        }));
        self = new RecordingDownstream(app, address.ToString());
        return self;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
