using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

/// <summary>A user I blocked, as I see it.</summary>
public sealed record BlockView(Guid UserId, string Username, string DisplayName, DateTimeOffset BlockedAt);

/// <summary>
/// <c>GET /api/v1/users/me/blocks</c>, <c>PUT/DELETE /api/v1/users/me/blocks/{userId}</c>. A block works both ways: no
/// new direct conversation, no adding to groups, no calls, no presence or typing between the two. Identity keeps the
/// blocks; each change is published as <see cref="BlocksChanged"/> (Presence and the Gateways apply it), and Messaging
/// asks <see cref="Relations"/> when it decides.
/// </summary>
public static class Blocks
{
    public const int MaxLimit = 200;

    public static RouteGroupBuilder MapBlocks(this RouteGroupBuilder users)
    {
        users.MapGet("/me/blocks", ListAsync);
        users.MapPut("/me/blocks/{userId:guid}", BlockAsync);
        users.MapDelete("/me/blocks/{userId:guid}", UnblockAsync);
        return users;
    }

    private static async Task<Results<Ok<Page<BlockView>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        int? limit, Guid? cursor, ClaimsPrincipal principal, IdentityDb db, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        if (limit is < 1 or > MaxLimit)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"1 to {MaxLimit}."] });
        var take = limit ?? 50;
        var query = db.Blocks.AsNoTracking().Where(b => b.OwnerId == me);
        if (cursor is { } after)
            query = query.Where(b => b.BlockedUserId.CompareTo(after) > 0);
        var items = await query
            .Join(db.Users, b => b.BlockedUserId, u => u.Id, (b, u) => new { Block = b, User = u })
            .OrderBy(x => x.Block.BlockedUserId)
            .Take(take + 1)
            .Select(x => new BlockView(x.User.Id, x.User.UserName!, x.User.DisplayName, x.Block.CreatedAt))
            .ToListAsync(cancellationToken);
        var more = items.Count > take;
        if (more)
            items.RemoveAt(take);
        return TypedResults.Ok(new Page<BlockView>(items, more ? items[^1].UserId.ToString() : null));
    }

    private static async Task<Results<Ok<BlockView>, ValidationProblem, ProblemHttpResult>> BlockAsync(
        Guid userId, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        if (userId == me)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["userId"] = ["You cannot block yourself."] });
        if (await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId, cancellationToken) is not { } user)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "User not found", detail: "No account has that id.");

        if (await db.Blocks.AsNoTracking().SingleOrDefaultAsync(b => b.OwnerId == me && b.BlockedUserId == userId, cancellationToken) is { } existing)
            return TypedResults.Ok(new BlockView(user.Id, user.UserName!, user.DisplayName, existing.CreatedAt));
        var now = time.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // ON CONFLICT: two requests at once block once, and only the one that inserted publishes.
        var inserted = await db.Database.ExecuteSqlInterpolatedAsync(
            $"""INSERT INTO identity.blocks ("OwnerId", "BlockedUserId", "CreatedAt") VALUES ({me}, {userId}, {now}) ON CONFLICT DO NOTHING""",
            cancellationToken);
        if (inserted > 0)
        {
            db.Add(new BlocksChanged { OwnerId = me, Added = [userId], ChangedAt = now }, now);
            await db.SaveChangesAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new BlockView(user.Id, user.UserName!, user.DisplayName, now));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> UnblockAsync(
        Guid userId, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var deleted = await db.Blocks.Where(b => b.OwnerId == me && b.BlockedUserId == userId).ExecuteDeleteAsync(cancellationToken);
        if (deleted > 0)
        {
            var now = time.GetUtcNow();
            db.Add(new BlocksChanged { OwnerId = me, Removed = [userId], ChangedAt = now }, now);
            await db.SaveChangesAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
