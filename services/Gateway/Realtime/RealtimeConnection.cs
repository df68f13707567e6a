using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Platform.Gateway.Realtime;

/// <summary>
/// One client connection on this instance: its outgoing queue and, per conversation it receives, its stream (what
/// was sent of it). Everything sent to the connection goes through <see cref="TrySend"/>, in order.
/// </summary>
public sealed class RealtimeConnection(HubConnectionContext context, int queueLimit)
{
    // The outgoing queue, drained by a task that runs only while there is something to send: most connections are
    // idle most of the time, and an idle one then holds neither a waiting reader nor a queue buffer (memory per
    // connection is what limits how many one instance holds). Guarded by locking it.
    private readonly Queue<SerializedHubMessage> _queue = new();
    private bool _draining;

    public HubConnectionContext Context { get; } = context;

    public string Id => Context.ConnectionId;

    public Guid UserId { get; set; }

    public DateTimeOffset OpenedAt { get; init; }

    /// <summary>The token the connection was opened with; the connection closes when it expires.</summary>
    public string AccessToken { get; set; } = "";

    /// <summary>Per conversation: what was sent of it and what is held (<see cref="ConversationStreams"/>). Guarded by locking this connection.</summary>
    public Dictionary<Guid, ConversationSequencer> Streams { get; } = [];

    /// <summary>
    /// While the connection is being set up (between its registration and its first subscriptions), every conversation
    /// event this instance delivers, kept for it. Guarded by locking this connection; null once set up.
    /// </summary>
    public List<(Guid ConversationId, long Seq, SerializedHubMessage Message, DateTimeOffset? CommittedAt)>? Pending { get; set; }

    /// <summary>More was delivered during the setup than <see cref="Pending"/> may keep: the subscriptions read the log instead.</summary>
    public bool PendingOverflowed { get; set; }

    /// <summary>The users whose presence this connection watches. Guarded by locking this set.</summary>
    public HashSet<Guid> Watching { get; } = [];

    public bool Closed { get; private set; }

    /// <summary>Queues a message; false when the queue is full (the client does not keep up) or the connection closed.</summary>
    public bool TrySend(SerializedHubMessage message)
    {
        lock (_queue)
        {
            if (Closed || _queue.Count >= queueLimit)
                return false;
            _queue.Enqueue(message);
            if (_draining)
                return true;
            _draining = true;
        }
        _ = Task.Run(DrainAsync);
        return true;
    }

    public void Close() => Closed = true;

    // One drain at a time, so messages go out in the order they were queued.
    private async Task DrainAsync()
    {
        while (true)
        {
            SerializedHubMessage? message;
            lock (_queue)
            {
                if (!_queue.TryDequeue(out message))
                {
                    _draining = false;
                    if (_queue.EnsureCapacity(0) > 64)
                        _queue.TrimExcess();
                    return;
                }
            }
            if (Context.ConnectionAborted.IsCancellationRequested)
                continue;
            try
            {
                await Context.WriteAsync(message, Context.ConnectionAborted);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is going away; what is left is dropped with it.
            }
        }
    }
}
