using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;

namespace Platform.Gateway.Realtime;

/// <summary>What a <c>Signal</c> payload may be, and how it reaches the recipient.</summary>
public static class CallSignals
{
    /// <summary>
    /// The payload as JSON text: a JSON object or string (from the JSON protocol a <see cref="JsonElement"/>, from
    /// MessagePack a map or a string), at most <paramref name="maxBytes"/> bytes of UTF-8. Anything else is refused.
    /// </summary>
    public static string ToJson(object? payload, int maxBytes)
    {
        string json;
        try
        {
            json = payload switch
            {
                JsonElement { ValueKind: JsonValueKind.Object or JsonValueKind.String } element => element.GetRawText(),
                string text => JsonSerializer.Serialize(text),
                IDictionary map => ToNode(map, depth: 0)!.ToJsonString(),
                _ => throw new HubException("payload must be a JSON object or a string."),
            };
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException)
        {
            throw new HubException($"payload is malformed: {exception.Message}");
        }
        if (Encoding.UTF8.GetByteCount(json) > maxBytes)
            throw new HubException($"payload is larger than {maxBytes} bytes.");
        return json;
    }

    /// <summary>The <c>signal</c> client method's argument: <c>{callId, fromUserId, payload}</c>.</summary>
    public static Dictionary<string, object?> ToHub(CallSignal signal)
    {
        using var payload = JsonDocument.Parse(signal.Payload);
        return new Dictionary<string, object?>
        {
            ["callId"] = signal.CallId.ToString(),
            ["fromUserId"] = signal.FromUserId.ToString(),
            ["payload"] = HubEnvelopes.ToPlain(payload.RootElement),
        };
    }

    // MessagePack maps arrive as dictionaries of objects; JSON wants string keys and a sane depth.
    private static JsonNode? ToNode(object? value, int depth)
    {
        if (depth > 32)
            throw new InvalidOperationException("nested too deeply.");
        return value switch
        {
            null => null,
            IDictionary map => new JsonObject(Entries(map).Select(entry => KeyValuePair.Create(
                entry.Key as string ?? throw new InvalidOperationException("object keys must be strings."), ToNode(entry.Value, depth + 1)))),
            string text => JsonValue.Create(text),
            bool flag => JsonValue.Create(flag),
            byte or sbyte or short or ushort or int or uint or long => JsonValue.Create(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
            ulong number => JsonValue.Create(number),
            float or double => JsonValue.Create(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
            decimal number => JsonValue.Create(number),
            IEnumerable list => new JsonArray(list.Cast<object?>().Select(item => ToNode(item, depth + 1)).ToArray()),
            _ => throw new InvalidOperationException($"a {value.GetType().Name} is not JSON."),
        };
    }

    // A generic dictionary enumerates key-value pairs as IEnumerable, entries only through IDictionary's own enumerator.
    private static IEnumerable<DictionaryEntry> Entries(IDictionary map)
    {
        var entries = map.GetEnumerator();
        while (entries.MoveNext())
            yield return entries.Entry;
    }
}

/// <summary>
/// Whether a call's participants may signal each other, as Messaging says (<c>GET /api/v1/calls/{id}</c> with the
/// sender's token), remembered for <see cref="RealtimeOptions.CallParticipantsCacheTime"/> per call and sender. A refusal
/// is always checked against a fresh answer, so the memory only ever lets a signal through a little longer.
/// </summary>
public sealed class CallAccess(IOptions<RealtimeOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(Guid Call, Guid User), (MessagingClient.CallParticipants? Call, DateTimeOffset At)> _known = new();

    /// <summary>
    /// The sender must be in the call (joined); the recipient in it or still being rung, and not the sender.
    /// Returns null when allowed, or why not.
    /// </summary>
    public async Task<string?> CheckAsync(
        Guid callId, Guid from, Guid to, Func<Task<MessagingClient.CallParticipants?>> fetch, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_known.TryGetValue((callId, from), out var known) && now - known.At < options.Value.CallParticipantsCacheTime
            && Refusal(known.Call, from, to) is null)
            return null;
        var call = await fetch().WaitAsync(cancellationToken);
        _known[(callId, from)] = (call, now);
        if (_known.Count > 10_000)
            foreach (var (key, entry) in _known)
                if (now - entry.At >= options.Value.CallParticipantsCacheTime)
                    _known.TryRemove(key, out _);
        return Refusal(call, from, to);
    }

    private static string? Refusal(MessagingClient.CallParticipants? call, Guid from, Guid to)
    {
        if (call is null || call.State == "ended" || !call.Joined.Contains(from))
            return "Call not found, ended, or you are not in it (join it first).";
        if (to == from || !(call.Joined.Contains(to) || call.Ringing.Contains(to)))
            return "The recipient is not a participant of this call.";
        return null;
    }
}

/// <summary>
/// <c>Signal</c> calls per connection: <see cref="RealtimeOptions.SignalsPerSecond"/> a second, bursts of
/// <see cref="RealtimeOptions.SignalBurst"/>, on top of the hub's general limit. Beyond that the call fails; the connection stays.
/// </summary>
public sealed class SignalRateLimit(IOptions<RealtimeOptions> options) : IHubFilter
{
    private readonly ConnectionBuckets _buckets = new(() => (options.Value.SignalBurst, options.Value.SignalsPerSecond));

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (invocationContext.HubMethodName != nameof(ChatHub.Signal))
            return await next(invocationContext);
        if (!_buckets.TryTake(invocationContext.Context.ConnectionId))
            throw new HubException($"Rate limit: at most {options.Value.SignalsPerSecond} signals per second (bursts of {options.Value.SignalBurst}) per connection.");
        return await next(invocationContext);
    }

    public Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        _buckets.Forget(context.Context.ConnectionId);
        return next(context, exception);
    }
}
