using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OpenIddict.Abstractions;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;
using Platform.ServiceDefaults;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateBotRequest(string? DisplayName, string? Username);

/// <summary>What the admin gets once: the client secret is not shown again (OpenIddict keeps only its hash).</summary>
public sealed record CreatedBot(Guid UserId, string Username, string DisplayName, string ClientId, string ClientSecret);

public sealed record BotView(Guid UserId, string Username, string DisplayName, string ClientId, bool Disabled, DateTimeOffset CreatedAt);

/// <summary>
/// Platform admins create bots: a bot user (<see cref="User.IsBot"/>, no password) and a confidential OpenIddict client
/// (<c>bot-{userId:N}</c>) whose client-credentials tokens are the bot user's own (TokenEndpoint), so a bot uses the same
/// API and hub as users. Deleting a bot disables its user and removes its client: its token requests fail at once.
/// </summary>
public static class Bots
{
    public const string ClientIdPrefix = "bot-";

    public static bool IsBotClient(string clientId) => BotIdOf(clientId) is not null;

    public static Guid? BotIdOf(string clientId) =>
        clientId.StartsWith(ClientIdPrefix, StringComparison.Ordinal) && Guid.TryParseExact(clientId[ClientIdPrefix.Length..], "N", out var id) ? id : null;

    public static string ClientIdOf(Guid botId) => ClientIdPrefix + botId.ToString("N");

    public static RouteGroupBuilder MapBots(this RouteGroupBuilder bots)
    {
        bots.MapPost("/", CreateAsync).WithName("CreateBot");
        bots.MapGet("/", ListAsync).WithName("ListBots");
        bots.MapDelete("/{userId:guid}", DeleteAsync).WithName("DeleteBot");
        return bots;
    }

    private static async Task<Results<Created<CreatedBot>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateBotRequest request,
        HttpContext http,
        IdentityDb db,
        UserManager<User> users,
        IOpenIddictApplicationManager applications,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var displayName = request.DisplayName?.Trim();
        if (ProfileRules.DisplayNameError(displayName) is { } displayNameError)
            errors["displayName"] = [displayNameError];
        var username = request.Username is null ? null : Usernames.Normalise(request.Username);
        if (username is null || !Usernames.IsValid(username))
            errors["username"] = [ProfileRules.UsernameRule];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);
        if (await users.FindByNameAsync(username!) is not null)
            return UsernameTaken();

        var now = time.GetUtcNow();
        var bot = new User { Id = Guid.CreateVersion7(now), UserName = username, DisplayName = displayName!, IsBot = true, CreatedAt = now };
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            var created = await users.CreateAsync(bot);
            if (!created.Succeeded)
                return created.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.DuplicateUserName))
                    ? UsernameTaken()
                    : TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["username"] = created.Errors.Select(e => e.Description).ToArray() });
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            return UsernameTaken();
        }
        db.Add(new UserRegistered { UserId = bot.Id, Username = bot.UserName!, DisplayName = bot.DisplayName, RegisteredAt = now, IsBot = true }, now);
        await db.SaveChangesAsync(cancellationToken);
        // The same connection and transaction (OpenIddict's EF stores use this IdentityDb): the bot and its client together or neither.
        await applications.CreateAsync(new OpenIddictApplicationDescriptor
        {
            ClientId = ClientIdOf(bot.Id),
            ClientSecret = secret,
            DisplayName = $"Bot {bot.UserName}",
            ClientType = ClientTypes.Confidential,
            Permissions =
            {
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.ClientCredentials,
                Permissions.Prefixes.Scope + ClientSeeder.ApiScope,
            },
        }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/users/{bot.Id}", new CreatedBot(bot.Id, bot.UserName!, bot.DisplayName, ClientIdOf(bot.Id), secret));
    }

    private static async Task<Ok<Page<BotView>>> ListAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        var bots = await db.Users.AsNoTracking().Where(u => u.IsBot).OrderBy(u => u.UserName).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<BotView>(
            bots.Select(b => new BotView(b.Id, b.UserName!, b.DisplayName, ClientIdOf(b.Id), b.IsDisabled, b.CreatedAt)).ToList(), null));
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(
        Guid userId,
        HttpContext http,
        UserManager<User> users,
        IdentityDb db,
        IOpenIddictApplicationManager applications,
        IOpenIddictTokenManager tokens,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (await users.FindByIdAsync(userId.ToString()) is not { IsBot: true } bot)
            return TypedResults.NotFound();
        if (await applications.FindByClientIdAsync(ClientIdOf(bot.Id), cancellationToken) is { } application)
            await applications.DeleteAsync(application, cancellationToken);
        if (!bot.IsDisabled)
        {
            var now = time.GetUtcNow();
            bot.DisabledAt = now;
            bot.DisabledBy = http.User.UserId();
            // Other services drop the bot's connections and refuse its tokens, as for a disabled user.
            db.Add(new UserDisabled { UserId = bot.Id, DisabledBy = bot.DisabledBy ?? Guid.Empty, DisabledAt = now }, now);
            await users.UpdateSecurityStampAsync(bot);
        }
        await tokens.RevokeBySubjectAsync(bot.Id.ToString(), cancellationToken);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult UsernameTaken() => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Already registered", detail: "This username is taken.",
        extensions: new Dictionary<string, object?> { ["field"] = "username" });
}
