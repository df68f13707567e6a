namespace Platform.Messaging;

/// <summary>
/// Lets one write per conversation at a time into the database from this process. Writers of a busy conversation
/// queue here, in memory, instead of each holding a pooled connection while it waits for the stream's row lock;
/// the row lock still orders writers across processes.
/// </summary>
public sealed class ConversationGate
{
    private readonly Dictionary<Guid, (SemaphoreSlim Gate, int Users)> _gates = [];

    public async Task<IDisposable> EnterAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate;
        lock (_gates)
        {
            var entry = _gates.TryGetValue(conversationId, out var existing) ? existing : (new SemaphoreSlim(1, 1), 0);
            _gates[conversationId] = (entry.Item1, entry.Item2 + 1);
            gate = entry.Item1;
        }
        try
        {
            await gate.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(conversationId, release: false);
            throw;
        }
        return new Pass(this, conversationId);
    }

    private void Leave(Guid conversationId, bool release)
    {
        lock (_gates)
        {
            var (gate, users) = _gates[conversationId];
            if (release)
                gate.Release();
            if (users == 1)
            {
                _gates.Remove(conversationId);
                gate.Dispose();
            }
            else
                _gates[conversationId] = (gate, users - 1);
        }
    }

    private sealed class Pass(ConversationGate owner, Guid conversationId) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                owner.Leave(conversationId, release: true);
        }
    }
}
