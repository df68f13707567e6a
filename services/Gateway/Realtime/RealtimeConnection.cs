using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Platform.Gateway.Realtime;

/// <summary>
/// One client connection on this instance: its outgoing queue and, per conversation it receives, the last seq
/// sent to it. Everything sent to the connection goes through <see cref="TrySend"/>, in order.
/// </summary>
public sealed class RealtimeConnection
{
    private readonly Channel<SerializedHubMessage> _queue;

    public RealtimeConnection(HubConnectionContext context, int queueLimit)
    {
        Context = context;
        _queue = Channel.CreateBounded<SerializedHubMessage>(new BoundedChannelOptions(queueLimit) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        Writer = Task.Run(WriteLoopAsync);
    }

    public HubConnectionContext Context { get; }

    public string Id => Context.ConnectionId;

    public Guid UserId { get; set; }

    public DateTimeOffset OpenedAt { get; init; }

    /// <summary>The token the connection was opened with; the connection closes when it expires.</summary>
    public string AccessToken { get; set; } = "";

    /// <summary>Per conversation: the cursor of what was sent. Guarded by locking this connection.</summary>
    public Dictionary<Guid, Cursor> Cursors { get; } = [];

    /// <summary>The users whose presence this connection watches. Guarded by locking this set.</summary>
    public HashSet<Guid> Watching { get; } = [];

    public Task Writer { get; }

    public bool Closed { get; private set; }

    /// <summary>Queues a message; false when the queue is full (the client does not keep up).</summary>
    public bool TrySend(SerializedHubMessage message) => !Closed && _queue.Writer.TryWrite(message);

    public void Close()
    {
        Closed = true;
        _queue.Writer.TryComplete();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var message in _queue.Reader.ReadAllAsync(Context.ConnectionAborted))
                await Context.WriteAsync(message, Context.ConnectionAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>What a connection has received of one conversation.</summary>
public sealed class Cursor(long lastSentSeq)
{
    public long LastSentSeq { get; set; } = lastSentSeq;

    /// <summary>While set, live events wait in <see cref="Held"/> until the replay from the log has caught up.</summary>
    public bool Replaying { get; set; }

    /// <summary>
    /// Set for the subscriptions a connection starts with: live events are held for a moment, so a client that
    /// resumes right after connecting gets the replay first and the live events after it, in order.
    /// </summary>
    public bool AwaitingResume { get; set; }

    /// <summary>The seq of the member's leaving, while it is still to be sent: nothing after it is.</summary>
    public long? EndSeq { get; set; }

    public List<(long Seq, SerializedHubMessage Message, DateTimeOffset? CommittedAt)> Held { get; } = [];
}
