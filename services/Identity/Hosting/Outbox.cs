using System.Text.Json;
using System.Threading.Channels;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Platform.Contracts.Identity;
using Platform.Identity.Data;

namespace Platform.Identity.Hosting;

/// <summary>
/// Integration events leave Identity through an outbox: <see cref="Add{T}"/> stages the event in the same
/// transaction as the change it reports, and <see cref="OutboxRelay"/> publishes it after the commit. A crash
/// between commit and publish delays the event; it never loses it. Consumers dedupe on the message id.
/// </summary>
public static class Outbox
{
    internal static readonly Dictionary<string, Type> EventTypes = new[]
    {
        typeof(UserRegistered), typeof(UserProfileChanged), typeof(UserDisabled), typeof(InviteCreated), typeof(ContactsChanged),
        typeof(UserSessionsRevoked), typeof(PasswordResetRequested), typeof(VerificationCodeRequested), typeof(BlocksChanged), typeof(PrivacyChanged),
        typeof(UserDeleted),
    }.ToDictionary(type => type.FullName!);

    public static void Add<T>(this IdentityDb db, T message, DateTimeOffset now) where T : class
    {
        if (!EventTypes.ContainsKey(typeof(T).FullName!))
            throw new InvalidOperationException($"{typeof(T).FullName} is not an Identity integration event.");
        db.Outbox.Add(new OutboxMessage
        {
            Id = Guid.CreateVersion7(now),
            Type = typeof(T).FullName!,
            Payload = JsonSerializer.Serialize(message, JsonSerializerOptions.Web),
            CreatedAt = now,
        });
    }
}

/// <summary>Wakes the relay right after a commit, so the normal path publishes at once instead of at the next poll.</summary>
public sealed class OutboxSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    internal async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }
}

public sealed class OutboxRelay(
    IServiceScopeFactory scopes,
    OutboxSignal signal,
    DatabaseReadiness readiness,
    TimeProvider time,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await readiness.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await PublishBatchAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Publishing from the outbox failed; retrying in {Interval}", PollInterval);
            }
            await signal.WaitAsync(PollInterval, stoppingToken);
        }
    }

    private async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
        var publisher = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // SKIP LOCKED: several instances relay in parallel without publishing a message twice. Only types this version
        // knows: a row written by a newer version (before a rollback) waits for it, without blocking the ones behind it.
        var batch = await db.Outbox
            .FromSqlRaw($$"""SELECT * FROM "{{IdentityDb.Schema}}"."outbox" WHERE "PublishedAt" IS NULL AND "Type" = ANY({0}) ORDER BY "Id" LIMIT {{BatchSize}} FOR UPDATE SKIP LOCKED""",
                // One parameter, the array (a bare string[] would be taken as the parameter list itself).
                [(object)Outbox.EventTypes.Keys.ToArray()])
            .ToListAsync(cancellationToken);
        foreach (var message in batch)
        {
            var type = Outbox.EventTypes[message.Type];
            var payload = JsonSerializer.Deserialize(message.Payload, type, JsonSerializerOptions.Web)!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await publisher.Publish(payload, type, context => context.MessageId = message.Id, timeout.Token);
            message.PublishedAt = time.GetUtcNow();
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return batch.Count;
    }
}
