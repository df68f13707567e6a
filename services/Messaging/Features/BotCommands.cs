using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed class BotCommandOptions
{
    public const string Section = "BotCommands";

    /// <summary>How long a bot has to accept a command; its answer comes later, through the API.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Ports a command URL may use; empty means 80, 443, 8080 and 8443.</summary>
    public int[] AllowedPorts { get; set; } = [];

    /// <summary>
    /// Exceptions to "public addresses only", as <c>ip:port</c> (a bot inside the cluster, a test's local bot); nothing
    /// else private, loopback or link-local is ever called (the same AddressPolicy as link previews).
    /// </summary>
    public string[] AllowedEndpoints { get; set; } = [];

    public int MaxCommandsPerBot { get; set; } = 50;

    /// <summary>How long a command's <c>responseId</c> addresses its caller for an ephemeral answer.</summary>
    public TimeSpan ResponseLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public IReadOnlyList<int> EffectivePorts => AllowedPorts.Length > 0 ? AllowedPorts : [80, 443, 8080, 8443];
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RegisterBotCommandRequest(string? Name, string? Description, string? Url);

/// <summary>A registered command as its bot (or an admin) sees it, with the secret that signs its deliveries.</summary>
public sealed record RegisteredBotCommand(Guid BotId, string Name, string Description, string Url, string Secret, DateTimeOffset CreatedAt);

/// <summary>What clients show: <c>/name</c> and what it does.</summary>
public sealed record BotCommandDto(Guid BotId, string Name, string Description);

/// <summary>The answer to a send that was a slash command: it went to the bot instead of the log.</summary>
public sealed record CommandAccepted(string Command, Guid BotId, Guid ResponseId, Guid ConversationId);

/// <summary>A bot's slash command: <c>/name</c>, sent to <see cref="Url"/> signed with <see cref="Secret"/>.</summary>
public sealed record BotCommand
{
    public string Id { get; init; } = "";
    public Guid BotId { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string Url { get; init; } = "";
    /// <summary>The HMAC key of the deliveries' signatures: needed in clear to sign (unlike a webhook URL's secret, which is only checked).</summary>
    public string Secret { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }

    public static string KeyOf(Guid botId, string name) => $"{botId:N}:{name}";
}

/// <summary>A command sent to a bot: whom its ephemeral answer is for (<c>responseId</c> in the bot's answer).</summary>
public sealed record CommandInvocation
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public Guid BotId { get; init; }
    public Guid CallerId { get; init; }
    public string Name { get; init; } = "";
    public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>
/// Slash commands: a bot (or a platform admin for it) registers <c>/name</c> with a description and a URL. A message
/// whose text starts with <c>/name</c>, sent in a conversation the bot is an active member of, is not posted: the sender
/// gets 202 with a <see cref="CommandAccepted"/>, and the command goes to the bot's URL (CommandDispatcher). A <c>/word</c>
/// no member bot registered is an ordinary message.
/// </summary>
public static partial class BotCommands
{
    public const string BotRole = "bot";
    public const int MaxDescriptionLength = 200;
    public const int MaxUrlLength = 2000;

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,31}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^/([a-z0-9][a-z0-9_-]{0,31})(?:\s+(.*))?$", RegexOptions.Singleline)]
    private static partial Regex CommandPattern();

    public static void MapBotCommands(this RouteGroupBuilder bots)
    {
        bots.MapPost("/{userId:guid}/commands", Register).WithName("RegisterBotCommand");
        bots.MapGet("/{userId:guid}/commands", ListOfBot).WithName("ListBotCommands");
        bots.MapDelete("/{userId:guid}/commands/{name}", Unregister).WithName("DeleteBotCommand");
    }

    public static void MapConversationCommands(this RouteGroupBuilder conversations) =>
        conversations.MapGet("/{id:guid}/commands", ListOfConversation).WithName("ListConversationCommands");

    /// <summary>The bot itself (its own token) or a platform admin, for a user Messaging knows as a bot.</summary>
    private static async Task<DomainError?> MayManageAsync(HttpContext http, IQuerySession session, Guid botId, CancellationToken cancellationToken)
    {
        var callerId = http.User.UserId();
        if (callerId == botId && http.User.IsInRole(BotRole))
            return null;
        if (!http.User.IsInRole("admin"))
            return DomainError.Forbidden("Only the bot itself or a platform admin manages its commands.");
        return await session.LoadAsync<UserDirectoryEntry>(botId, cancellationToken) is { IsBot: true, Deleted: false }
            ? null
            : new DomainError(StatusCodes.Status404NotFound, "Bot not found", "There is no such bot (a new bot is known here a moment after it is created).");
    }

    private static async Task<Results<Created<RegisteredBotCommand>, ProblemHttpResult>> Register(
        Guid userId, RegisterBotCommandRequest request, HttpContext http, IDocumentSession session, IOptions<BotCommandOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if (await MayManageAsync(http, session, userId, cancellationToken) is { } refused)
            return Http.Problem(refused);
        var name = request.Name?.Trim().TrimStart('/').ToLowerInvariant() ?? "";
        if (!NamePattern().IsMatch(name))
            return Http.Invalid("name is 1 to 32 characters: lowercase letters, digits, - and _, starting with a letter or digit.");
        var description = ConversationRules.CleanText(request.Description)?.Trim() ?? "";
        if (description.Length > MaxDescriptionLength)
            return Http.Invalid($"description is at most {MaxDescriptionLength} characters.");
        if (request.Url is not { Length: > 0 and <= MaxUrlLength } || !Uri.TryCreate(request.Url, UriKind.Absolute, out var url)
            || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.UserInfo))
            return Http.Invalid($"url is an absolute http or https URL without credentials, at most {MaxUrlLength} characters.");
        if (!options.Value.EffectivePorts.Contains(url.Port) && !options.Value.AllowedEndpoints.Any(e => e.EndsWith($":{url.Port}", StringComparison.Ordinal)))
            return Http.Invalid($"url must use one of the ports {string.Join(", ", options.Value.EffectivePorts)}.");
        if (IPAddress.TryParse(url.IdnHost.Trim('[', ']'), out var literal)
            && !new AddressPolicy(options.Value.EffectivePorts, options.Value.AllowedEndpoints).Allows(literal, url.Port))
            return Http.Invalid($"{url.Host} is not a public address.");

        var key = BotCommand.KeyOf(userId, name);
        var existing = await session.LoadAsync<BotCommand>(key, cancellationToken);
        if (existing is null && await session.Query<BotCommand>().CountAsync(c => c.BotId == userId, cancellationToken) >= options.Value.MaxCommandsPerBot)
            return Http.Problem(DomainError.Conflict($"A bot has at most {options.Value.MaxCommandsPerBot} commands."));
        // Registering a name again replaces its description and URL and gives it a new secret.
        var command = new BotCommand
        {
            Id = key, BotId = userId, Name = name, Description = description, Url = url.ToString(),
            Secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            CreatedAt = time.GetUtcNow(),
        };
        session.Store(command);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/bots/{userId}/commands/{name}",
            new RegisteredBotCommand(userId, name, description, command.Url, command.Secret, command.CreatedAt));
    }

    private static async Task<Ok<Page<BotCommandDto>>> ListOfBot(Guid userId, IQuerySession session, CancellationToken cancellationToken)
    {
        var commands = await session.Query<BotCommand>().Where(c => c.BotId == userId).OrderBy(c => c.Name).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<BotCommandDto>(commands.Select(c => new BotCommandDto(c.BotId, c.Name, c.Description)).ToList(), null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Unregister(
        Guid userId, string name, HttpContext http, IDocumentSession session, CancellationToken cancellationToken)
    {
        if (await MayManageAsync(http, session, userId, cancellationToken) is { } refused)
            return Http.Problem(refused);
        session.Delete<BotCommand>(BotCommand.KeyOf(userId, name.TrimStart('/').ToLowerInvariant()));
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>The commands of the conversation's member bots, for clients to offer as the user types <c>/</c>.</summary>
    private static async Task<Results<Ok<Page<BotCommandDto>>, ProblemHttpResult>> ListOfConversation(
        Guid id, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);
        var commands = await CommandsOfMembersAsync(session, id, null, cancellationToken);
        return TypedResults.Ok(new Page<BotCommandDto>(commands.OrderBy(c => c.Name).Select(c => new BotCommandDto(c.BotId, c.Name, c.Description)).ToList(), null));
    }

    private static async Task<IReadOnlyList<BotCommand>> CommandsOfMembersAsync(IQuerySession session, Guid conversationId, string? name, CancellationToken cancellationToken)
    {
        var query = session.Query<BotCommand>().AsQueryable();
        if (name is not null)
            query = query.Where(c => c.Name == name);
        var commands = await query.OrderBy(c => c.CreatedAt).Take(1000).ToListAsync(cancellationToken);
        if (commands.Count == 0)
            return [];
        var keys = commands.Select(c => Membership.KeyOf(conversationId, c.BotId)).Distinct().ToArray();
        var members = (await session.LoadManyAsync<Membership>(cancellationToken, keys)).Where(m => m.Active).Select(m => m.UserId).ToHashSet();
        return commands.Where(c => members.Contains(c.BotId)).ToList();
    }

    /// <summary>
    /// The command a message text invokes in this conversation, if it starts with <c>/name</c> of a member bot's command;
    /// with the rest of the text as its argument.
    /// </summary>
    public static async Task<(BotCommand Command, string Arguments)?> MatchAsync(IQuerySession session, Guid conversationId, string text, CancellationToken cancellationToken)
    {
        if (!text.StartsWith('/') || CommandPattern().Match(text) is not { Success: true } match)
            return null;
        var commands = await CommandsOfMembersAsync(session, conversationId, match.Groups[1].Value, cancellationToken);
        return commands.Count == 0 ? null : (commands[0], match.Groups[2].Value.Trim());
    }

    /// <summary>The signature header's value: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;</c>, as for outgoing webhooks.</summary>
    public static string Signature(string secret, long unixSeconds, string body)
    {
        var signed = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{unixSeconds}.{body}"));
        return $"t={unixSeconds},v1={Convert.ToHexStringLower(signed)}";
    }
}

/// <summary>One command on its way to a bot.</summary>
public sealed record CommandDelivery(BotCommand Command, Guid ResponseId, Guid ConversationId, Guid CallerId, string Arguments, string Text, DateTimeOffset SentAt);

/// <summary>
/// Sends commands to bots in the background, so a slow, failing or unreachable bot never holds up or breaks the sender's
/// request: each is one POST, signed (<c>Platform-Signature</c>), with a short timeout, to public addresses only (the
/// shared <see cref="AddressPolicy"/>, checked again on the connected socket; no redirects, no proxy, no cookies). A
/// failed delivery is logged and counted, not retried: the user sends the command again.
/// </summary>
public sealed class CommandDispatcher : BackgroundService
{
    public const string SignatureHeader = "Platform-Signature";
    public const string CommandIdHeader = "Platform-Command-Id";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly DnsHostResolver Resolver = new();

    private readonly Channel<CommandDelivery> _deliveries = Channel.CreateBounded<CommandDelivery>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly HttpClient _client;
    private readonly BotCommandOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CommandDispatcher> _logger;

    public CommandDispatcher(IOptions<BotCommandOptions> options, TimeProvider time, ILogger<CommandDispatcher> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        var policy = new AddressPolicy(_options.EffectivePorts, _options.AllowedEndpoints);
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = _options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = (context, cancellationToken) => policy.ConnectAsync(context.DnsEndPoint, Resolver, cancellationToken),
        })
        { Timeout = _options.Timeout };
    }

    /// <summary>False when too many commands are waiting: the caller is told to try again.</summary>
    public bool Enqueue(CommandDelivery delivery) => _deliveries.Writer.TryWrite(delivery);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(8);
        await foreach (var delivery in _deliveries.Reader.ReadAllAsync(stoppingToken))
        {
            await slots.WaitAsync(stoppingToken);
            _ = Task.Run(async () =>
            {
                try
                {
                    await DeliverAsync(delivery, stoppingToken);
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None);
        }
    }

    public static string BodyOf(CommandDelivery delivery) => JsonSerializer.Serialize(new
    {
        command = delivery.Command.Name,
        text = delivery.Arguments,
        messageText = delivery.Text,
        conversationId = delivery.ConversationId,
        userId = delivery.CallerId,
        botId = delivery.Command.BotId,
        responseId = delivery.ResponseId,
        sentAt = delivery.SentAt,
    }, Json);

    private async Task DeliverAsync(CommandDelivery delivery, CancellationToken cancellationToken)
    {
        var body = BodyOf(delivery);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Command.Url)
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Add(SignatureHeader, BotCommands.Signature(delivery.Command.Secret, _time.GetUtcNow().ToUnixTimeSeconds(), body));
        request.Headers.Add(CommandIdHeader, delivery.ResponseId.ToString());
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
                _logger.LogWarning("The bot {BotId} answered /{Command} with {Status}", delivery.Command.BotId, delivery.Command.Name, (int)response.StatusCode);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("Sending /{Command} to the bot {BotId} failed: {Reason}", delivery.Command.Name, delivery.Command.BotId,
                AddressPolicy.Blocked(exception)?.Message ?? exception.Message);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }
}
