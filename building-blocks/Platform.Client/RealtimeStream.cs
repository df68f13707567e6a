using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Platform.Client;

/// <summary>
/// The realtime connection to <c>/hubs/chat</c> and the ordered stream of my conversations' events. Each event is
/// handed out once and in seq order per conversation: duplicates are dropped, gaps are filled from the log, and after
/// a reconnect (automatic, exponential backoff with jitter) every conversation catches up from where it was.
/// </summary>
public sealed class RealtimeStream : IAsyncDisposable
{
    private readonly PlatformClient _client;
    private readonly Channel<object> _inbound = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<ConversationEvent> _events = Channel.CreateUnbounded<ConversationEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<Guid, long> _positions = [];
    private readonly Dictionary<Guid, SortedDictionary<long, ConversationEvent>> _held = [];
    private readonly Dictionary<Guid, long> _unacknowledged = [];
    private readonly CancellationTokenSource _stopping = new();
    private HubConnection? _hub;
    private Task? _loop;
    // A flush of the delivered receipts is scheduled (Tick): only while some are waiting, so an idle stream keeps no timer.
    private bool _ackFlushScheduled;
    private Guid[] _watched = [];

    // Done, when given, completes once this catch-up has the hub's positions (or failed and was scheduled again).
    private sealed record CatchUp(TaskCompletionSource? Done = null);

    // The hub's answer to Positions(): every event of the conversation after Seq reaches this connection.
    private sealed record HubPosition(Guid ConversationId, long Seq);

    // Set when StartAsync got no positions: the first catch-up takes the hub's as the start (each conversation's end).
    private bool _startAtHubPositions;

    private sealed record Tick;

    /// <summary>How long the delivered receipts of handed-out events wait, to go to the hub together.</summary>
    public static readonly TimeSpan AcknowledgeInterval = TimeSpan.FromMilliseconds(500);

    internal RealtimeStream(PlatformClient client) => _client = client;

    /// <summary>Someone is typing in one of my conversations.</summary>
    public event Action<TypingNotice>? Typing;

    /// <summary>A member's delivered/read cursors moved in one of my conversations.</summary>
    public event Action<ReceiptNotice>? Receipt;

    /// <summary>A new entry of my notification feed.</summary>
    public event Action<NotificationItem>? Notification;

    /// <summary>A watched user's presence changed (see <see cref="WatchPresenceAsync"/>).</summary>
    public event Action<PresenceInfo>? Presence;

    /// <summary>A WebRTC signal from another participant of one of my calls (see <see cref="SignalAsync(Guid, Guid, JsonElement, CancellationToken)"/>).</summary>
    public event Action<CallSignalNotice>? Signal;

    /// <summary>A bot's answer meant for me alone (an ephemeral message, e.g. to my slash command): not in the log, not replayed.</summary>
    public event Action<EphemeralMessage>? Ephemeral;

    /// <summary>Something went wrong that the stream recovers from by itself (a failed catch-up, a dropped connection); for logs.</summary>
    public event Action<Exception>? Error;

    /// <summary>The connection's state.</summary>
    public HubConnectionState State => _hub?.State ?? HubConnectionState.Disconnected;

    /// <summary>How many times the connection was re-established after it dropped.</summary>
    public int Reconnects { get; private set; }

    /// <summary>The last seq handed out per conversation: save it to resume later with <see cref="StartAsync"/>.</summary>
    public IReadOnlyDictionary<Guid, long> Positions
    {
        get
        {
            lock (_positions)
                return new Dictionary<Guid, long>(_positions);
        }
    }

    /// <summary>
    /// Connects. With <paramref name="positions"/> (conversation → last seq seen), the stream first hands out what
    /// was missed since; without, it starts at each conversation's current end. Returns once the starting positions
    /// are fixed: every event committed after that reaches the stream.
    /// </summary>
    public async Task StartAsync(IReadOnlyDictionary<Guid, long>? positions = null, CancellationToken cancellationToken = default)
    {
        if (_hub is not null)
            throw new InvalidOperationException("The stream is already started.");
        lock (_positions)
        {
            if (positions is not null)
                foreach (var (conversationId, seq) in positions)
                    _positions[conversationId] = seq;
        }
        _startAtHubPositions = positions is null;

        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(_client.Options.GatewayUrl, "hubs/chat?deviceKind=" + Uri.EscapeDataString(_client.Options.DeviceKind)), http =>
            {
                http.AccessTokenProvider = async () => await _client.GetAccessTokenAsync(_stopping.Token);
                if (_client.NewHandler() is { } handler)
                    http.HttpMessageHandlerFactory = _ => handler;
                if (_client.Options.SkipNegotiation)
                {
                    http.SkipNegotiation = true;
                    http.Transports = HttpTransportType.WebSockets;
                }
            })
            .WithAutomaticReconnect(new JitterRetryPolicy(_client.Options.MaxReconnectDelay));
        if (_client.Options.UseMessagePack)
            builder.AddMessagePackProtocol();
        _hub = builder.Build();
        _hub.On<Dictionary<string, object?>>("event", payload =>
        {
            try
            {
                _inbound.Writer.TryWrite(ToJson(payload));
            }
            catch (Exception exception)
            {
                Error?.Invoke(exception);
            }
        });
        _hub.On<Dictionary<string, object?>>("typing", payload =>
        {
            var typing = ToJson(payload).Deserialize<TypingNotice>(PlatformJson.Options);
            if (typing is not null)
                Typing?.Invoke(typing);
        });
        _hub.On<Dictionary<string, object?>>("receipt", payload =>
        {
            var receipt = ToJson(payload).Deserialize<ReceiptNotice>(PlatformJson.Options);
            if (receipt is not null)
                Receipt?.Invoke(receipt);
        });
        _hub.On<Dictionary<string, object?>>("notification", payload =>
        {
            var json = ToJson(payload);
            var notification = JsonSerializer.Deserialize<NotificationItem>(json, PlatformJson.Options);
            if (notification is not null)
                Notification?.Invoke(notification);
        });
        _hub.On<Dictionary<string, object?>>("presence", payload =>
        {
            var presence = ToJson(payload).Deserialize<PresenceInfo>(PlatformJson.Options);
            if (presence is not null)
                Presence?.Invoke(presence);
        });
        _hub.On<Dictionary<string, object?>>("ephemeral", payload =>
        {
            var ephemeral = ToJson(payload).Deserialize<EphemeralMessage>(PlatformJson.Options);
            if (ephemeral is not null)
                Ephemeral?.Invoke(ephemeral);
        });
        _hub.On<Dictionary<string, object?>>("signal", payload =>
        {
            var signal = ToJson(payload).Deserialize<CallSignalNotice>(PlatformJson.Options);
            if (signal is not null)
                Signal?.Invoke(signal);
        });
        _hub.Reconnected += async _ =>
        {
            Reconnects++;
            _inbound.Writer.TryWrite(new CatchUp());
            await RewatchAsync();
        };
        _hub.Closed += async _ =>
        {
            // Automatic reconnect gave up or was never started: keep trying until disposed.
            for (var attempt = 0; !_stopping.IsCancellationRequested; attempt++)
            {
                try
                {
                    await Task.Delay(Backoff.Delay(attempt, _client.Options.MaxReconnectDelay), _stopping.Token);
                    await _hub.StartAsync(_stopping.Token);
                    Reconnects++;
                    _inbound.Writer.TryWrite(new CatchUp());
                    await RewatchAsync();
                    return;
                }
                catch (Exception) when (!_stopping.IsCancellationRequested)
                {
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        };

        // The loops end when the stream is disposed, not with the caller's token.
        _loop = Task.Run(ProcessAsync, CancellationToken.None);
        await _hub.StartAsync(cancellationToken);
        // Returns once the starting positions are fixed (the hub's Positions, answered after the connection's setup):
        // whatever is committed after StartAsync returns reaches this stream, also when it starts at the current end.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _inbound.Writer.TryWrite(new CatchUp(started));
        await started.Task.WaitAsync(cancellationToken);
    }

    /// <summary>My conversations' events, in seq order per conversation, each once.</summary>
    public IAsyncEnumerable<ConversationEvent> ReadEventsAsync(CancellationToken cancellationToken = default) => _events.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Tells the conversation's other members that I am typing.</summary>
    public Task TypingAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        Hub.InvokeAsync("Typing", conversationId, cancellationToken);

    /// <summary>
    /// Watches these users' presence (replacing what was watched; at most 500): <see cref="Presence"/> fires when one
    /// changes, also after reconnects. Answers their presence now; users I may not see answer <c>unknown</c>.
    /// </summary>
    public async Task<IReadOnlyList<PresenceInfo>> WatchPresenceAsync(IEnumerable<Guid> userIds, CancellationToken cancellationToken = default)
    {
        var ids = userIds.Distinct().ToArray();
        _watched = ids;
        return await WatchAsync(ids, cancellationToken);
    }

    private async Task<IReadOnlyList<PresenceInfo>> WatchAsync(Guid[] ids, CancellationToken cancellationToken)
    {
        var now = await Hub.InvokeAsync<List<Dictionary<string, object?>>>("WatchPresence", ids.Select(id => id.ToString()).ToArray(), cancellationToken);
        return now.Select(item => ToJson(item).Deserialize<PresenceInfo>(PlatformJson.Options)!).ToList();
    }

    // After a reconnect the server knows nothing of this connection: watch again, and report the presence now, as
    // changes may have been missed meanwhile.
    private async Task RewatchAsync()
    {
        if (_watched.Length == 0)
            return;
        try
        {
            foreach (var presence in await WatchAsync(_watched, _stopping.Token))
                Presence?.Invoke(presence);
        }
        catch (Exception exception) when (!_stopping.IsCancellationRequested)
        {
            Error?.Invoke(exception);
        }
    }

    /// <summary>
    /// Sends a WebRTC signal (an SDP offer or answer, an ICE candidate: a JSON object) to another participant of a call,
    /// delivered to their connections as <see cref="Signal"/>. I must be in the call (joined); they must be in it or
    /// still ringing. At most 60 KB; rate-limited (20 a second, bursts of 50). Fails with a <c>HubException</c> otherwise.
    /// </summary>
    public Task SignalAsync(Guid callId, Guid toUserId, JsonElement payload, CancellationToken cancellationToken = default) =>
        Hub.InvokeAsync("Signal", callId, toUserId, _client.Options.UseMessagePack ? ToPlain(payload) : payload, cancellationToken);

    /// <summary>Sends a signal whose payload is a string.</summary>
    public Task SignalAsync(Guid callId, Guid toUserId, string payload, CancellationToken cancellationToken = default) =>
        Hub.InvokeAsync("Signal", callId, toUserId, payload, cancellationToken);

    /// <summary>Asks the server to replay the conversation after <paramref name="afterSeq"/> over the connection.</summary>
    public Task ResumeAsync(Guid conversationId, long afterSeq, CancellationToken cancellationToken = default) =>
        Hub.InvokeAsync("Resume", conversationId, afterSeq, cancellationToken);

    /// <summary>Disconnects and ends the event stream.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_hub is not null)
            await _hub.DisposeAsync();
        _inbound.Writer.TryComplete();
        if (_loop is not null)
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _events.Writer.TryComplete();
    }

    private HubConnection Hub => _hub ?? throw new InvalidOperationException("Call StartAsync first.");

    private async Task ProcessAsync()
    {
        await foreach (var item in _inbound.Reader.ReadAllAsync())
        {
            try
            {
                switch (item)
                {
                    case JsonElement envelope:
                        await OnEventAsync(envelope.Deserialize<ConversationEvent>(PlatformJson.Options)!);
                        break;
                    case CatchUp catchUp:
                        try
                        {
                            await CatchUpAsync(catchUp.Done);
                        }
                        finally
                        {
                            catchUp.Done?.TrySetResult();
                        }
                        break;
                    case Tick:
                        _ackFlushScheduled = false;
                        try
                        {
                            await AcknowledgeAsync();
                        }
                        finally
                        {
                            // Not sent (disconnected, or the send failed): tried again after the interval.
                            ScheduleAcknowledgement();
                        }
                        break;
                }
            }
            catch (Exception exception) when (!_stopping.IsCancellationRequested)
            {
                Error?.Invoke(exception);
                // The log could not be read (network, server): try the whole catch-up again shortly.
                _ = Task.Delay(Backoff.Delay(1, _client.Options.MaxReconnectDelay), _stopping.Token)
                    .ContinueWith(_ => _inbound.Writer.TryWrite(new CatchUp()), TaskScheduler.Default);
            }
        }
    }

    private async Task OnEventAsync(ConversationEvent e)
    {
        long position;
        lock (_positions)
        {
            if (!_positions.TryGetValue(e.ConversationId, out position))
                _positions[e.ConversationId] = position = e.Seq - 1;
        }
        if (e.Seq <= position)
            return;
        if (e.Seq == position + 1)
        {
            Emit(e);
            Drain(e.ConversationId);
            return;
        }
        Held(e.ConversationId)[e.Seq] = e;
        await FillAsync(e.ConversationId);
    }

    // After (re)connecting: the hub says from where it sends each conversation; what lies between my position and
    // that is replayed by the hub (Resume), one read of the log per conversation with news, made by the Gateway
    // within its bound. No other request: thousands of clients coming back at once after a Gateway restart cost
    // Messaging one read of their conversations each, and a read of the log only where there is news.
    private async Task CatchUpAsync(TaskCompletionSource? positionsFixed = null)
    {
        List<HubPosition> hub;
        try
        {
            hub = await Hub.InvokeAsync<List<HubPosition>>("Positions", _stopping.Token);
        }
        catch (HubException)
        {
            // A Gateway from before Positions: catch up over HTTP.
            await CatchUpOverHttpAsync();
            return;
        }
        // From here every later event reaches the connection; the resumes below only replay what came before.
        positionsFixed?.TrySetResult();
        var startAtHub = _startAtHubPositions;
        _startAtHubPositions = false;
        foreach (var (conversationId, seq) in hub)
        {
            long position;
            lock (_positions)
            {
                // A conversation I joined while away: from its beginning as far as the log shows it to me.
                if (!_positions.TryGetValue(conversationId, out position))
                    _positions[conversationId] = position = startAtHub ? seq : 0;
            }
            // Also where there is no news: the hub then sends live events at once instead of after its resume grace.
            await ResumeCaughtUpAsync(conversationId, position);
        }
    }

    private async Task ResumeCaughtUpAsync(Guid conversationId, long position)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await Hub.InvokeAsync("Resume", conversationId, position, _stopping.Token);
                return;
            }
            catch (HubException exception) when (exception.Message.Contains("Rate limit", StringComparison.Ordinal) && attempt < 10)
            {
                // Many conversations at once: the hub takes a limited number of calls per second.
                await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token);
            }
            catch (HubException)
            {
                // No longer readable (removed meanwhile): nothing to resume; the hub says so, the rest go on.
                return;
            }
        }
    }

    private async Task CatchUpOverHttpAsync()
    {
        var startAtEnd = _startAtHubPositions;
        _startAtHubPositions = false;
        foreach (var (conversationId, lastSeq) in await _client.GetJoinedAsync(_stopping.Token))
        {
            long position;
            lock (_positions)
            {
                // A conversation I joined while away: from its beginning as far as the log shows it to me.
                if (!_positions.TryGetValue(conversationId, out position))
                    _positions[conversationId] = position = startAtEnd ? lastSeq : 0;
            }
            if (lastSeq > position)
                await FillAsync(conversationId);
        }
    }

    private async Task FillAsync(Guid conversationId)
    {
        while (true)
        {
            var page = await _client.GetEventsAsync(conversationId, Position(conversationId), cancellationToken: _stopping.Token);
            foreach (var e in page.Items)
                if (e.Seq == Position(conversationId) + 1)
                    Emit(e);
            Drain(conversationId);
            if (page.Next is null)
                return;
        }
    }

    private void Drain(Guid conversationId)
    {
        if (!_held.TryGetValue(conversationId, out var held))
            return;
        foreach (var seq in held.Keys.ToList())
        {
            var position = Position(conversationId);
            if (seq <= position)
                held.Remove(seq);
            else if (seq == position + 1)
            {
                Emit(held[seq]);
                held.Remove(seq);
            }
            else
                break;
        }
    }

    private void Emit(ConversationEvent e)
    {
        lock (_positions)
            _positions[e.ConversationId] = e.Seq;
        _unacknowledged[e.ConversationId] = e.Seq;
        ScheduleAcknowledgement();
        _events.Writer.TryWrite(e);
    }

    // On the processing loop, like everything that touches _unacknowledged.
    private void ScheduleAcknowledgement()
    {
        if (_ackFlushScheduled || !_client.Options.AcknowledgeDeliveries || _unacknowledged.Count == 0 || _stopping.IsCancellationRequested)
            return;
        _ackFlushScheduled = true;
        _ = Task.Delay(AcknowledgeInterval, _stopping.Token)
            .ContinueWith(_ => _inbound.Writer.TryWrite(new Tick()), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    private async Task AcknowledgeAsync()
    {
        if (!_client.Options.AcknowledgeDeliveries || _unacknowledged.Count == 0 || _hub?.State != HubConnectionState.Connected)
            return;
        foreach (var (conversationId, seq) in _unacknowledged.ToList())
        {
            await _hub.SendAsync("Ack", conversationId, seq, _stopping.Token);
            _unacknowledged.Remove(conversationId);
        }
    }

    private long Position(Guid conversationId)
    {
        lock (_positions)
            return _positions.GetValueOrDefault(conversationId);
    }

    private SortedDictionary<long, ConversationEvent> Held(Guid conversationId) =>
        _held.TryGetValue(conversationId, out var held) ? held : _held[conversationId] = [];

    // JSON gives JsonElement values, MessagePack plain dictionaries, lists and scalars: both become the same JSON.
    private static JsonElement ToJson(object? payload) => JsonSerializer.SerializeToElement(ToNode(payload));

    // MessagePack cannot write a JsonElement: plain dictionaries, lists and scalars instead.
    private static object? ToPlain(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => ToPlain(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Select(ToPlain).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var integer) ? integer : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonElement element => JsonNode.Parse(element.GetRawText()),
        string text => JsonValue.Create(text),
        bool flag => JsonValue.Create(flag),
        IDictionary map => new JsonObject(Entries(map).Select(entry => KeyValuePair.Create(entry.Key.ToString()!, ToNode(entry.Value)))),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(ToNode).ToArray()),
        DateTime time => JsonValue.Create(time),
        _ => JsonValue.Create(Convert.ToDecimal(value, System.Globalization.CultureInfo.InvariantCulture)),
    };

    private static IEnumerable<DictionaryEntry> Entries(IDictionary map)
    {
        var entries = map.GetEnumerator();
        while (entries.MoveNext())
            yield return entries.Entry;
    }

    private sealed class JitterRetryPolicy(TimeSpan max) : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) => Backoff.Delay((int)retryContext.PreviousRetryCount, max);
    }
}
