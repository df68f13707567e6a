using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http;
using Platform.Client;

namespace Platform.Benchmarks;

/// <summary>
/// What a fault scenario measures from the outside: every send attempt and its outcome (a send counts as acknowledged
/// once one attempt got a 2xx), every message each receiver's SDK stream hands out, and from these the losses,
/// duplicates, order violations and recovery times.
/// </summary>
internal sealed class DeliveryTally
{
    private readonly ConcurrentDictionary<string, long> _acknowledged = new();
    private readonly ConcurrentDictionary<string, long> _firstAttempt = new();
    private readonly ConcurrentDictionary<string, int> _failures = new();
    private readonly ConcurrentDictionary<string, Receiver> _receivers = new();
    private readonly ConcurrentQueue<(string Label, long Start, long End)> _faults = new();
    private readonly ConcurrentQueue<long> _failedAt = new();
    private readonly ConcurrentDictionary<string, byte> _sendsThatFailed = new();
    private long _attempts, _gaveUp;

    public long Origin { get; } = Stopwatch.GetTimestamp();

    public int Acknowledged => _acknowledged.Count;

    public long Attempts => Interlocked.Read(ref _attempts);

    public long GaveUp => Interlocked.Read(ref _gaveUp);

    public IReadOnlyDictionary<string, int> Failures => _failures;

    public int FailedRequests => _failures.Values.Sum();

    public IReadOnlyCollection<string> AcknowledgedIds => _acknowledged.Keys.ToList();

    public IReadOnlyCollection<Receiver> Receivers => _receivers.Values.ToList();

    public IReadOnlyCollection<(string Label, long Start, long End)> Faults => _faults.ToList();

    public void Fault(string label, long start, long end) => _faults.Enqueue((label, start, end));

    public static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    /// <summary>
    /// Sends until one attempt is acknowledged, with the same <c>clientMessageId</c> each time (as the SDK's own retries
    /// do), counting every failed attempt by its status code or error; gives up at <paramref name="deadline"/>.
    /// </summary>
    public async Task SendAsync(PlatformClient sender, Guid conversationId, string clientMessageId, string text, TimeSpan deadline)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        _firstAttempt.TryAdd(clientMessageId, Stopwatch.GetTimestamp());
        for (var attempt = 0; ; attempt++)
        {
            Interlocked.Increment(ref _attempts);
            try
            {
                await sender.SendMessageAsync(conversationId, text, clientMessageId: clientMessageId);
                _acknowledged[clientMessageId] = Stopwatch.GetTimestamp();
                return;
            }
            catch (Exception exception)
            {
                Fail(Describe(exception));
                _sendsThatFailed.TryAdd(clientMessageId, 0);
            }
            if (Stopwatch.GetTimestamp() > stop)
            {
                Interlocked.Increment(ref _gaveUp);
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * Math.Pow(2, Math.Min(attempt, 5))) * (0.5 + Random.Shared.NextDouble())));
        }
    }

    public void Fail(string what)
    {
        _failures.AddOrUpdate(what, 1, (_, n) => n + 1);
        _failedAt.Enqueue(Stopwatch.GetTimestamp());
    }

    /// <summary>Sends with at least one failed attempt (each retried with the same clientMessageId).</summary>
    public int SendsThatFailed => _sendsThatFailed.Count;

    /// <summary>Seconds from <paramref name="from"/> to the last failed request before <paramref name="until"/>; null when none failed after it.</summary>
    public double? LastFailureAfter(long from, long until = long.MaxValue)
    {
        var last = _failedAt.Where(at => at >= from && at < until).DefaultIfEmpty(0).Max();
        return last == 0 ? null : Seconds(from, last);
    }

    public static string Describe(Exception exception) => exception switch
    {
        PlatformException platform => $"{platform.Status} {platform.Title}",
        HttpRequestException http => "network: " + http.HttpRequestError,
        TaskCanceledException => "timeout (100 s)",
        _ => exception.GetType().Name,
    };

    public Receiver Receiver(string name) => _receivers.GetOrAdd(name, n => new Receiver(n));

    /// <summary>Reads a stream until it ends, counting each <c>message.posted</c> for <paramref name="name"/>.</summary>
    public Task ReadAsync(string name, RealtimeStream stream, CancellationToken cancellationToken = default)
    {
        var receiver = Receiver(name);
        return Task.Run(async () =>
        {
            try
            {
                await foreach (var e in stream.ReadEventsAsync(cancellationToken))
                    receiver.Saw(e);
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
    }

    /// <summary>Waits until every receiver has every acknowledged message, or <paramref name="timeout"/>.</summary>
    public async Task<bool> SettleAsync(TimeSpan timeout, IEnumerable<Receiver>? receivers = null)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var waitingFor = (receivers ?? Receivers).ToList();
        while (Stopwatch.GetTimestamp() < stop)
        {
            var ids = _acknowledged.Keys.ToList();
            if (waitingFor.All(r => ids.All(r.Has)))
                return true;
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>Seconds from <paramref name="from"/> to the first send acknowledged after it.</summary>
    public double? FirstAcknowledgedAfter(long from)
    {
        var first = _acknowledged.Values.Where(at => at >= from).DefaultIfEmpty(0).Min();
        return first == 0 ? null : Seconds(from, first);
    }

    /// <summary>Acknowledged messages a receiver never got.</summary>
    public int Lost(Receiver receiver) => _acknowledged.Keys.Count(id => !receiver.Has(id));

    /// <summary>
    /// From a fault's end: the first message handed out to any receiver afterwards (deliveries flow again), and the
    /// arrival of the last message whose first attempt started before the fault ended (the backlog), at the receiver
    /// that got it last.
    /// </summary>
    public (double? FirstDeliverySeconds, double? BacklogSeconds) Recovery(long faultEnd)
    {
        long? first = null, last = null;
        foreach (var receiver in Receivers)
            foreach (var (id, at) in receiver.Arrivals)
            {
                if (at >= faultEnd && (first is null || at < first))
                    first = at;
                if (_firstAttempt.TryGetValue(id, out var started) && started < faultEnd && (last is null || at > last))
                    last = at;
            }
        return (first is { } f ? Seconds(faultEnd, f) : null, last is { } l && l > faultEnd ? Seconds(faultEnd, l) : 0);
    }
}

/// <summary>What one receiver's SDK stream handed out: per message its arrivals, per conversation the last seq.</summary>
internal sealed class Receiver(string name)
{
    private readonly ConcurrentDictionary<string, long> _arrivals = new();
    private readonly Dictionary<Guid, long> _lastSeq = [];
    private long _duplicates, _outOfOrder, _received;

    public string Name { get; } = name;

    public long Received => Interlocked.Read(ref _received);

    /// <summary>A message handed out again (same seq, or the same clientMessageId at another seq: a second message).</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>An event whose seq is not the next one of its conversation (a gap, or older than one already seen).</summary>
    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    public IEnumerable<KeyValuePair<string, long>> Arrivals => _arrivals;

    public bool Has(string clientMessageId) => _arrivals.ContainsKey(clientMessageId);

    public long? ArrivedAt(string clientMessageId) => _arrivals.TryGetValue(clientMessageId, out var at) ? at : null;

    public void Saw(ConversationEvent e)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_lastSeq)
        {
            var known = _lastSeq.TryGetValue(e.ConversationId, out var last);
            if (known && e.Seq <= last)
            {
                Interlocked.Increment(ref _duplicates);
                return;
            }
            else if (known && e.Seq != last + 1)
                Interlocked.Increment(ref _outOfOrder);
            _lastSeq[e.ConversationId] = Math.Max(last, e.Seq);
        }
        if (e.Type != "message.posted" || !e.Data.TryGetProperty("clientMessageId", out var id) || id.GetString() is not { } clientMessageId)
            return;
        Interlocked.Increment(ref _received);
        if (!_arrivals.TryAdd(clientMessageId, now))
            Interlocked.Increment(ref _duplicates);
    }
}
