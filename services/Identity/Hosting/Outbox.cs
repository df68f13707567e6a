using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.ServiceDefaults;

namespace Platform.Identity.Hosting;

/// <summary>
/// Integration events leave Identity through the platform's outbox (<see cref="OutboxDispatcher"/>): <see cref="Add{T}"/>
/// stages the event in the same transaction as the change it reports, <see cref="OutboxCommitInterceptor"/> hands it to
/// the dispatcher once that transaction commits, and the relay publishes what a crash or a broker outage left behind.
/// Consumers dedupe on the message id (the entry's id).
/// </summary>
public static class Outbox
{
    /// <summary>Identity's entries need no order among themselves beyond the order of their commits: one key.</summary>
    public static readonly Guid Key = Guid.Empty;

    internal static readonly Dictionary<string, Type> EventTypes = new[]
    {
        typeof(UserRegistered), typeof(UserProfileChanged), typeof(UserDisabled), typeof(InviteCreated), typeof(ContactsChanged),
        typeof(UserSessionsRevoked), typeof(PasswordResetRequested), typeof(VerificationCodeRequested), typeof(BlocksChanged), typeof(PrivacyChanged),
        typeof(UserDeleted), typeof(UserRolesChanged),
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

    internal static OutboxItem Item(OutboxMessage message) =>
        new(message.Id, Key, message.CreatedAt.UtcTicks, JsonSerializer.Deserialize(message.Payload, EventTypes[message.Type], JsonSerializerOptions.Web)!);
}

/// <summary>
/// Hands the outbox entries a <see cref="IdentityDb"/> saved to the dispatcher once they are committed: at the end of
/// <c>SaveChanges</c> when it ran its own transaction, or when the explicit transaction around it commits (never when it
/// rolls back).
/// </summary>
public sealed class OutboxCommitInterceptor(OutboxDispatcher dispatcher) : SaveChangesInterceptor, IDbTransactionInterceptor
{
    // Entries saved inside an explicit transaction, waiting for its commit.
    private static readonly ConditionalWeakTable<DbTransaction, List<OutboxItem>> Waiting = [];

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Stage(eventData.Context);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Stage(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Release(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Release(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Staged.Remove(eventData.Context!);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Staged.Remove(eventData.Context!);
        return Task.CompletedTask;
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(transaction);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(transaction);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Waiting.Remove(transaction);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Waiting.Remove(transaction);
        return Task.CompletedTask;
    }

    // The entries being saved, between SavingChanges and SavedChanges.
    private static readonly ConditionalWeakTable<DbContext, List<OutboxItem>> Staged = [];

    private static void Stage(DbContext? context)
    {
        if (context is null)
            return;
        // A type this version does not know (written by a newer one) is left to that version's relay.
        var added = context.ChangeTracker.Entries<OutboxMessage>()
            .Where(e => e.State == EntityState.Added && Outbox.EventTypes.ContainsKey(e.Entity.Type))
            .Select(e => Outbox.Item(e.Entity)).ToList();
        if (added.Count > 0)
            Staged.AddOrUpdate(context, added);
    }

    private void Release(DbContext? context)
    {
        if (context is null || !Staged.TryGetValue(context, out var items))
            return;
        Staged.Remove(context);
        if (context.Database.CurrentTransaction?.GetDbTransaction() is { } transaction)
            Waiting.GetValue(transaction, _ => []).AddRange(items);
        else
            dispatcher.Committed(items);
    }

    private void Committed(DbTransaction transaction)
    {
        if (Waiting.TryGetValue(transaction, out var items))
        {
            Waiting.Remove(transaction);
            dispatcher.Committed(items);
        }
    }
}

/// <summary>Identity's outbox table: entries are marked published (<c>PublishedAt</c>), not deleted.</summary>
public sealed class IdentityOutboxStore(IServiceScopeFactory scopes, DatabaseReadiness readiness, TimeProvider time) : IClaimingOutboxStore
{
    public async Task<int> SweepAsync(
        DateTimeOffset olderThan, int limit, Func<IReadOnlyList<OutboxItem>, Task<IReadOnlyList<Guid>>> publish, CancellationToken cancellationToken)
    {
        await readiness.WaitAsync(cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // SKIP LOCKED: several instances relay in parallel without publishing a message twice. Only types this version
        // knows: a row written by a newer version (before a rollback) waits for it, without blocking the ones behind it.
        var types = Outbox.EventTypes.Keys.ToArray();
        var batch = await db.Outbox
            .FromSql($"""SELECT * FROM identity.outbox WHERE "PublishedAt" IS NULL AND "CreatedAt" < {olderThan} AND "Type" = ANY({types}) ORDER BY "Id" LIMIT {limit} FOR UPDATE SKIP LOCKED""")
            .ToListAsync(cancellationToken);
        if (batch.Count == 0)
            return 0;
        var published = (await publish(batch.Select(Outbox.Item).ToList())).ToHashSet();
        var now = time.GetUtcNow();
        foreach (var message in batch.Where(m => published.Contains(m.Id)))
            message.PublishedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return published.Count;
    }

    public async Task MarkPublishedAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
        var all = ids.ToArray();
        var now = time.GetUtcNow();
        await db.Outbox.Where(m => all.Contains(m.Id)).ExecuteUpdateAsync(m => m.SetProperty(x => x.PublishedAt, now), cancellationToken);
    }
}
