using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Testing;

/// <summary>One accepted webhook request: its <c>Platform-Event-Id</c>, the signature header and the body.</summary>
public sealed record ReceivedWebhook(string EventId, string Signature, string Body, JsonElement Json);

/// <summary>
/// An outside system receiving outgoing webhooks on a loopback port, as a customer would write one: it verifies
/// <c>Platform-Signature</c> (<c>t=..,v1=..</c>, HMAC-SHA256 of <c>"t.body"</c> with its secret, a recent <c>t</c>) and
/// answers 401 to anything that does not verify; it keeps every request (duplicates too) so tests can count them. It can
/// be stopped and started again on the same port (an outage: connections refused), or answer chosen statuses.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<int> _answers = new();
    private WebApplication? _app;
    private int _port;
    private volatile string[] _secrets = [];

    public Uri Address { get; private set; } = null!;

    /// <summary>The URL to register.</summary>
    public string Url => new Uri(Address, "hooks").ToString();

    /// <summary>Every verified request, in arrival order, including redeliveries of the same event.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>Why requests were refused (signature, timestamp).</summary>
    public ConcurrentQueue<string> Rejected { get; } = new();

    public int Requests;

    /// <summary>Each event once, in the order first received: what a receiver that deduplicates on the event id keeps.</summary>
    public IReadOnlyList<ReceivedWebhook> Unique => Received.DistinctBy(r => r.EventId).ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        await receiver.StartAsync(0);
        return receiver;
    }

    /// <summary>The secrets a signature may be made with (any one <c>v1</c> matching one of them verifies it).</summary>
    public void VerifyWith(params string[] secrets) => _secrets = secrets;

    /// <summary>The next requests are answered with these statuses (e.g. 500, 503) instead of being accepted.</summary>
    public void AnswerNext(params int[] statuses)
    {
        foreach (var status in statuses)
            _answers.Enqueue(status);
    }

    /// <summary>Goes away: connections to the port are refused until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public Task RestartAsync() => StartAsync(_port);

    private async Task StartAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(LoopbackServer.HostOptions);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/hooks", (Delegate)HandleAsync);
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        _port = address.Port;
        Address = new Uri($"http://127.0.0.1:{_port}/");
        _app = app;
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref Requests);
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        if (_answers.TryDequeue(out var status))
            return Results.StatusCode(status);
        var signature = context.Request.Headers["Platform-Signature"].ToString();
        var eventId = context.Request.Headers["Platform-Event-Id"].ToString();
        if (Verify(signature, body, _secrets, DateTimeOffset.UtcNow) is { } problem)
        {
            Rejected.Enqueue(problem);
            return Results.Unauthorized();
        }
        if (string.IsNullOrEmpty(eventId))
        {
            Rejected.Enqueue("No Platform-Event-Id.");
            return Results.BadRequest();
        }
        Received.Enqueue(new ReceivedWebhook(eventId, signature, body, JsonDocument.Parse(body).RootElement.Clone()));
        return Results.NoContent();
    }

    /// <summary>Null when one <c>v1</c> of <paramref name="header"/> is the HMAC of <c>"t.body"</c> under one of the secrets and <c>t</c> is within 5 minutes.</summary>
    public static string? Verify(string header, string body, IReadOnlyCollection<string> secrets, DateTimeOffset now)
    {
        var parts = header.Split(',', StringSplitOptions.TrimEntries).Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToList();
        var t = parts.FirstOrDefault(p => p[0] == "t")?[1];
        if (t is null || !long.TryParse(t, out var timestamp))
            return $"No timestamp in '{header}'.";
        if (Math.Abs(now.ToUnixTimeSeconds() - timestamp) > 300)
            return "The timestamp is not recent.";
        var signed = Encoding.UTF8.GetBytes($"{t}.{body}");
        var expected = secrets.Select(s => HMACSHA256.HashData(Encoding.UTF8.GetBytes(s), signed)).ToList();
        foreach (var v1 in parts.Where(p => p[0] == "v1").Select(p => p[1]))
        {
            byte[] given;
            try
            {
                given = Convert.FromHexString(v1);
            }
            catch (FormatException)
            {
                continue;
            }
            if (expected.Any(e => CryptographicOperations.FixedTimeEquals(e, given)))
                return null;
        }
        return "No signature matches.";
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
