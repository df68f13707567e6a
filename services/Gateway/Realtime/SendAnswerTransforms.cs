using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Delivery from a send's answer (<see cref="RealtimeOptions.DeliverFromSendAnswer"/>): a send
/// (<c>POST /api/v1/conversations/{id}/messages</c>) forwarded to Messaging asks for the events it commits
/// (<see cref="SendAnswerEvents"/>), and this instance's connections of the conversation get them as soon as the answer
/// arrives, before the sender has it, instead of after the outbox's publish and the broker's round trip. The bus still
/// brings every event (to every instance); what already went out is dropped by seq. The header never reaches clients,
/// and a client's own request header is never forwarded. A send answered <c>201</c> is also its sender's activity
/// (<see cref="ActivityReporter"/>).
/// </summary>
public sealed class SendAnswerTransforms(
    ConversationStreams streams, ActivityReporter activity, TimeProvider time, IOptions<RealtimeOptions> options, ILogger<SendAnswerTransforms> logger)
    : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        context.AddRequestTransform(request =>
        {
            request.ProxyRequest.Headers.Remove(SendAnswerEvents.RequestHeader);
            if (options.Value.DeliverFromSendAnswer && SentTo(request.HttpContext.Request) is not null)
                request.ProxyRequest.Headers.TryAddWithoutValidation(SendAnswerEvents.RequestHeader, "1");
            return ValueTask.CompletedTask;
        });
        context.AddResponseTransform(response =>
        {
            var value = ResponseTransform.TakeHeader(response, SendAnswerEvents.ResponseHeader);
            if (response.ProxyResponse?.StatusCode != System.Net.HttpStatusCode.Created || SentTo(response.HttpContext.Request) is not { } conversationId)
                return ValueTask.CompletedTask;
            // A message sent is its sender's activity (Presence's last-active time), told in batches.
            if (Guid.TryParse(response.HttpContext.User.FindFirst("sub")?.Value, out var senderId))
                activity.Active(senderId, time.GetUtcNow());
            if (value is not [{ } encoded] || !options.Value.DeliverFromSendAnswer)
                return ValueTask.CompletedTask;
            var events = SendAnswerEvents.Decode(encoded);
            if (events.Count == 0)
                logger.LogWarning("A send's answer had committed events this instance could not read; they come by the bus only");
            foreach (var e in events)
                if (e.ConversationId == conversationId)
                    streams.DeliverAhead(e);
            return ValueTask.CompletedTask;
        });
    }

    // The conversation of a send (POST /api/v1/conversations/{id}/messages), or null for any other request.
    private static Guid? SentTo(HttpRequest request)
    {
        if (!HttpMethods.IsPost(request.Method) || !request.Path.StartsWithSegments("/api/v1/conversations", out var rest))
            return null;
        var path = rest.Value.AsSpan();
        // "/{guid}/messages"
        return path.Length == 46 && path[0] == '/' && path.EndsWith("/messages") && Guid.TryParse(path[1..37], out var id) ? id : null;
    }
}
