using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Platform.Client;
using Platform.Testing;

namespace Platform.Deploy.Tests;

/// <summary>
/// One trace follows a message: the HTTP send through the Gateway, Messaging's append and outbox publish, RabbitMQ,
/// and the push on the Gateway instance that holds the recipient's connection. Both services are hosted in this
/// process on real ports (Kestrel), against real PostgreSQL and RabbitMQ, each exporting to one in-memory list.
/// </summary>
public sealed class TraceTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public async Task AMessage_IsOneTrace_FromTheGatewayThroughMessagingAndTheBus_ToThePush()
    {
        await using var hosts = await InProcessPlatform.StartAsync(infrastructure);
        var (issuer, spans, gatewayUrl) = (hosts.Issuer, hosts.Spans, hosts.GatewayUrl);

        Guid alice = Guid.CreateVersion7(), bob = Guid.CreateVersion7();
        PlatformClient Client(Guid user) => new(new PlatformClientOptions
        {
            GatewayUrl = gatewayUrl,
            AccessTokenProvider = _ => Task.FromResult(issuer.CreateToken(user, $"user-{user:N}"[..13])),
        });
        await using var aliceSdk = Client(alice);
        await using var bobSdk = Client(bob);
        var conversation = (await aliceSdk.CreateConversationAsync("group", [bob], "traced")).Id;
        await bobSdk.Realtime.StartAsync();

        // The client's send starts the trace (as a frontend's instrumentation would).
        using var http = new HttpClient { BaseAddress = gatewayUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issuer.CreateToken(alice, "alice"));
        var root = new Activity("client send").SetIdFormat(ActivityIdFormat.W3C);
        root.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        root.Start();
        var traceId = root.TraceId;
        HttpResponseMessage response;
        using (root)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/conversations/{conversation}/messages")
            {
                Content = JsonContent.Create(new { clientMessageId = "traced-1", text = "follow me" }),
            };
            request.Headers.Add("traceparent", root.Id);
            response = await http.SendAsync(request);
        }
        var sent = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(response.IsSuccessStatusCode, sent.ToString());
        var seq = sent.GetProperty("seq").GetInt64();

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await foreach (var e in bobSdk.Realtime.ReadEventsAsync(timeout.Token))
                if (e.ConversationId == conversation && e.Seq == seq)
                    break;

        // Spans end (and are exported) a moment after the work they time.
        var trace = await Eventually.Returns(
            () => Task.FromResult(spans.Snapshot().Where(s => s.TraceId == traceId).ToList()),
            // The push can be recorded before the requests' own spans end (the publish runs beside the response): wait
            // for both.
            // Each span may be collected more than once (the in-process services share the process's listeners), so the
            // requests' spans are counted by id; and the Gateway's, which ends last (after the push its answer already
            // made), must be there: the parent of its forward to Messaging.
            t => t.Any(s => s.Source.Name == "Platform.Gateway" && s.OperationName == "realtime push" && Equals(s.GetTagItem("platform.seq"), seq))
                && t.Where(s => s.Source.Name == "Microsoft.AspNetCore" && s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string)?.EndsWith("/messages") == true)
                    .Select(s => s.SpanId).Distinct().Count() >= 2
                && t.Any(forward => forward.Source.Name == "Yarp.ReverseProxy" && t.Any(s => s.SpanId == forward.ParentSpanId)),
            TimeSpan.FromSeconds(15), "the Gateway's push of the message and both requests are in the send's trace");

        string Describe() => string.Join("\n", trace.Select(s => $"{s.Source.Name} {s.Kind} {s.DisplayName} {s.SpanId} <- {s.ParentSpanId}"));
        // The Gateway's incoming request and its forward to Messaging (YARP), Messaging's incoming request.
        Assert.True(trace.Count(s => s.Source.Name == "Microsoft.AspNetCore" && s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string)?.EndsWith("/messages") == true) >= 2, Describe());
        Assert.True(trace.Any(s => s.Source.Name == "Yarp.ReverseProxy"), Describe());
        // Messaging: the append went through Marten/Npgsql in this trace, and the outbox published it in this trace.
        Assert.True(trace.Any(s => s.Source.Name.StartsWith("Npgsql", StringComparison.Ordinal) || s.Source.Name == "Marten"), Describe());
        Assert.True(trace.Any(s => s.Source.Name == "Platform.Outbox" && s.OperationName == "outbox publish" && Equals(s.GetTagItem("platform.outbox.order"), seq)), Describe());
        // The bus: MassTransit's send on Messaging's side and its consume on the Gateway's.
        Assert.True(trace.Any(s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer), Describe());
        Assert.True(trace.Any(s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer), Describe());

        // And each span hangs off one that is in the trace: one tree, not a trace id reused by accident.
        var ids = trace.Select(s => s.SpanId).Append(root.SpanId).ToHashSet();
        Assert.All(trace, s => Assert.True(ids.Contains(s.ParentSpanId), $"{s.Source.Name} {s.DisplayName} has a parent outside the trace\n{Describe()}"));
    }
}
