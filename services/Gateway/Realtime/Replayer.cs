using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Reads from Messaging what connections missed (a resume, a gap, a broker reconnect) and the conversations a new
/// connection starts with: within the instance's bound on concurrent reads, tried again with backoff while the
/// connection lives, and shared between connections replaying one conversation from one seq. Where the events go is
/// <see cref="ConversationStreams"/>' to decide.
/// </summary>
public sealed class Replayer(
    IServiceScopeFactory scopes, ConnectionIndex connections, IOptions<RealtimeOptions> options, RealtimeMetrics metrics, TimeProvider time,
    ILogger<Replayer> logger)
{
    private readonly SemaphoreSlim _replaySlots = new(options.Value.MaxConcurrentReplays);
    // Reads of the log that replays of one conversation from one seq may share (see ReadLogAsync).
    private readonly Dictionary<(Guid ConversationId, long After), SharedLogRead> _sharedReads = [];

    /// <summary>
    /// The user's conversations and their last seqs, for a connection being set up. Tried again while the connection
    /// lives if Messaging is slow or away: failing the connection instead would make the client reconnect and ask again,
    /// a loop that feeds the overload after a Gateway restart, when every client comes back at once.
    /// </summary>
    public Task<IReadOnlyList<MessagingClient.Joined>> ReadJoinedAsync(MessagingClient messaging, RealtimeConnection connection, CancellationToken cancellationToken) =>
        WithMessagingSlotAsync(() => messaging.JoinedAsync(connection.AccessToken, cancellationToken), "joined", connection, cancellationToken);

    /// <summary>
    /// Reads the conversation's log after <paramref name="after"/>, page by page, into the connection's stream, until the
    /// stream has caught up (<see cref="ConversationStreams.TakeReplayed"/>). A user who may not read it (any more) gets a
    /// <see cref="HubException"/>; a replay that fails otherwise closes the connection, so the client resumes.
    /// </summary>
    public async Task ReplayAsync(ConversationStreams streams, RealtimeConnection connection, Guid conversationId, long after, CancellationToken cancellationToken)
    {
        try
        {
            using var scope = scopes.CreateScope();
            var messaging = scope.ServiceProvider.GetRequiredService<MessagingClient>();
            long? position = after;
            while (position is { } from)
            {
                var page = await ReadLogAsync(streams, messaging, connection, conversationId, from, cancellationToken);
                if (page is null)
                {
                    streams.Unsubscribe(connection, conversationId);
                    throw new HubException("Conversation not found.");
                }
                position = streams.TakeReplayed(connection, conversationId, page, from);
            }
        }
        catch (Exception exception) when (exception is not HubException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Replay of conversation {ConversationId} to connection {ConnectionId} failed; closing it so the client resumes",
                conversationId, connection.Id);
            connections.Disconnect(connection, "The server could not replay the conversation; reconnect and resume.");
        }
    }

    // One page of the log, within the instance's bound on concurrent reads. A read that fails (Messaging restarting,
    // overloaded, unreachable) is tried again with backoff for as long as the connection lives: disconnecting instead
    // would make the client reconnect and replay again, a loop that feeds the overload.
    //
    // Connections replaying one conversation from one seq share a read (after a Gateway restart, every member of a
    // conversation with news asks for the same page): whoever asks first waits for a slot and reads; whoever asks for
    // the same page before that read starts waits for it and takes it, if Messaging said any active member reads the
    // same and the connection is a live member here. A read that started before a connection asked is never handed to
    // it: what was committed before the connection asked is in the page, what comes after reaches it live or is held.
    private async Task<LogPage?> ReadLogAsync(
        ConversationStreams streams, MessagingClient messaging, RealtimeConnection connection, Guid conversationId, long after, CancellationToken cancellationToken)
    {
        var key = (conversationId, after);
        Task<LogPage?> Read(Action? starting = null) => WithMessagingSlotAsync(() =>
        {
            starting?.Invoke();
            return messaging.EventsAsync(connection.AccessToken, conversationId, after, cancellationToken);
        }, $"conversation {conversationId} after {after}", connection, cancellationToken);

        // Only a live member's connection may take another's read; anyone else reads for themselves at once.
        if (!streams.IsLiveMember(connection, conversationId))
            return await Read();
        SharedLogRead? read;
        bool first;
        lock (_sharedReads)
        {
            first = !_sharedReads.TryGetValue(key, out read);
            if (first)
                _sharedReads[key] = read = new SharedLogRead();
        }
        if (!first)
        {
            var shared = await read!.Page.Task.WaitAsync(cancellationToken);
            if (shared is { SameForEveryMember: true } && streams.IsLiveMember(connection, conversationId))
            {
                metrics.ReplayRead("shared");
                return shared;
            }
            return await Read();
        }

        // From the read's start on, whoever asks for this page waits for the next read of it, not this one.
        void Forget()
        {
            lock (_sharedReads)
                if (_sharedReads.TryGetValue(key, out var current) && ReferenceEquals(current, read))
                    _sharedReads.Remove(key);
        }
        try
        {
            var page = await Read(starting: Forget);
            read!.Page.TrySetResult(page);
            return page;
        }
        finally
        {
            Forget();
            // This connection went away (or its read failed for good): the others read for themselves.
            read!.Page.TrySetResult(null);
        }
    }

    private sealed class SharedLogRead
    {
        public TaskCompletionSource<LogPage?> Page { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task<T> WithMessagingSlotAsync<T>(Func<Task<T>> read, string what, RealtimeConnection connection, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            metrics.ReplayWaiting(1);
            try
            {
                await _replaySlots.WaitAsync(cancellationToken);
            }
            finally
            {
                metrics.ReplayWaiting(-1);
            }
            try
            {
                var result = await read();
                metrics.ReplayRead("ok");
                return result;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                metrics.ReplayRead("failed");
                logger.LogWarning("Reading {What} from Messaging for connection {ConnectionId} failed ({Error}); trying again in {Delay}",
                    what, connection.Id, exception.Message, delay);
            }
            finally
            {
                _replaySlots.Release();
            }
            await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next((int)delay.TotalMilliseconds / 2 + 1)), time, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.ReplayRetryMaxInterval.Ticks));
        }
    }
}
