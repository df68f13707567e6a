using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using MassTransit;
using Platform.Contracts.Identity;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Who must not see a user's typing: everyone with a block between them, either way, as Identity answers the user
/// (<c>GET /internal/v1/relations/blocked</c> with their own token). Asked on a user's first typing and kept for
/// <see cref="Lifetime"/>; <c>BlocksChanged</c> forgets both sides at once on every instance. If Identity cannot answer,
/// typing goes to every member, as before blocks existed (typing is shown for seconds, and sends, presence and calls
/// across a block are refused where they are decided).
/// </summary>
public sealed class TypingBlocks(IHttpClientFactory clients, TimeProvider time, ILogger<TypingBlocks> logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private const int MaxUsers = 100_000;

    private sealed record Entry(IReadOnlyList<Guid> Hidden, DateTimeOffset Until);

    private sealed record Answer(List<Guid> UserIds);

    private readonly ConcurrentDictionary<Guid, Entry> _byUser = new();

    public async Task<IReadOnlyList<Guid>> HiddenFromAsync(Guid userId, string token, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_byUser.TryGetValue(userId, out var known) && known.Until > now)
            return known.Hidden;
        IReadOnlyList<Guid> hidden;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "internal/v1/relations/blocked");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await clients.CreateClient(nameof(TypingBlocks)).SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            hidden = (await response.Content.ReadFromJsonAsync<Answer>(cancellationToken))?.UserIds ?? [];
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Identity did not say whom {UserId} blocked; their typing goes to every member", userId);
            // Asked again after a short while, not on every keystroke.
            hidden = [];
            _byUser[userId] = new Entry(hidden, now + TimeSpan.FromSeconds(30));
            return hidden;
        }
        if (_byUser.Count >= MaxUsers)
            foreach (var (stale, entry) in _byUser)
                if (entry.Until <= now)
                    _byUser.TryRemove(stale, out _);
        _byUser[userId] = new Entry(hidden, now + Lifetime);
        return hidden;
    }

    public void Forget(IEnumerable<Guid> userIds)
    {
        foreach (var userId in userIds)
            _byUser.TryRemove(userId, out _);
    }
}

/// <summary>A block placed or lifted: both sides' typing audiences are asked again.</summary>
public sealed class TypingBlocksConsumer(TypingBlocks blocks) : IConsumer<BlocksChanged>
{
    public Task Consume(ConsumeContext<BlocksChanged> context)
    {
        blocks.Forget([context.Message.OwnerId, .. context.Message.Added, .. context.Message.Removed]);
        return Task.CompletedTask;
    }
}
