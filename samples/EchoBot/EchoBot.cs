using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Client;

namespace Platform.Samples.EchoBot;

/// <summary>Where the Platform is, the bot's client credentials, and where the Platform reaches the bot.</summary>
public sealed class EchoBotOptions
{
    /// <summary>The Gateway's URL.</summary>
    public required Uri GatewayUrl { get; init; }

    /// <summary>The bot's client id and secret, from <c>POST /api/v1/bots</c>.</summary>
    public required string ClientId { get; init; }

    public required string ClientSecret { get; init; }

    /// <summary>Where this bot listens, e.g. <c>http://0.0.0.0:8080</c> (<c>http://127.0.0.1:0</c>: any free port).</summary>
    public string Listen { get; init; } = "http://0.0.0.0:8080";

    /// <summary>The URL Messaging posts commands to (a public address); by default the address it listens on.</summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>Signatures older (or newer) than this are refused, so a recorded request cannot be replayed later.</summary>
    public TimeSpan SignatureTolerance { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// A sample bot on the .NET SDK: signs in with client credentials, registers <c>/echo</c>, answers it only to the caller
/// (an ephemeral message), and answers mentions of itself in the conversation (through the realtime hub).
/// </summary>
public sealed class EchoBot : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly PlatformClient _platform;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _listening;
    private string _secret = "";

    private EchoBot(WebApplication app, PlatformClient platform)
    {
        _app = app;
        _platform = platform;
    }

    /// <summary>The bot's user id.</summary>
    public Guid UserId { get; private set; }

    /// <summary>Where the bot listens for commands.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Starts listening, signs in, registers <c>/echo</c> and connects to the hub.</summary>
    public static async Task<EchoBot> StartAsync(EchoBotOptions options, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(options.Listen);
        var platform = new PlatformClient(new PlatformClientOptions { GatewayUrl = options.GatewayUrl, ClientId = options.ClientId, ClientSecret = options.ClientSecret });
        var bot = new EchoBot(builder.Build(), platform);
        bot._app.MapPost("/commands/echo", (HttpRequest request) => bot.OnCommandAsync(request, options));
        await bot._app.StartAsync(cancellationToken);
        bot.Address = new Uri(bot._app.Urls.First().TrimEnd('/') + "/");

        bot.UserId = (await platform.GetMeAsync(cancellationToken)).Id;
        var registered = await platform.RegisterBotCommandAsync(bot.UserId, "echo", "Repeats your text, to you alone",
            new Uri(options.PublicUrl ?? bot.Address, "commands/echo"), cancellationToken);
        bot._secret = registered.Secret;

        await platform.Realtime.StartAsync(cancellationToken: cancellationToken);
        bot._listening = bot.AnswerMentionsAsync(bot._stopping.Token);
        return bot;
    }

    /// <summary>Checks the signature, answers 200 at once, and replies to the caller alone.</summary>
    private async Task<IResult> OnCommandAsync(HttpRequest request, EchoBotOptions options)
    {
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        if (!Verify(request.Headers["Platform-Signature"].ToString(), body, _secret, options.SignatureTolerance))
            return Results.Unauthorized();
        var command = JsonSerializer.Deserialize<CommandRequest>(body, JsonSerializerOptions.Web);
        if (command is null)
            return Results.BadRequest();
        // The answer goes through the API; the command's request need not wait for it.
        _ = Task.Run(async () =>
        {
            var text = string.IsNullOrWhiteSpace(command.Text) ? "(nothing to echo)" : command.Text;
            await _platform.SendEphemeralAsync(command.ConversationId, text, responseId: command.ResponseId, cancellationToken: _stopping.Token);
        });
        return Results.Ok();
    }

    /// <summary><c>Platform-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;</c>, within the tolerance.</summary>
    public static bool Verify(string header, string body, string secret, TimeSpan tolerance)
    {
        var parts = header.Split(',').Select(part => part.Split('=', 2)).Where(pair => pair.Length == 2).ToDictionary(pair => pair[0], pair => pair[1]);
        if (!parts.TryGetValue("t", out var t) || !long.TryParse(t, out var seconds) || !parts.TryGetValue("v1", out var signature))
            return false;
        if ((DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > tolerance)
            return false;
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{body}"));
        byte[] given;
        try
        {
            given = Convert.FromHexString(signature);
        }
        catch (FormatException)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>Answers every message that mentions the bot, in the same conversation, visible to all.</summary>
    private async Task AnswerMentionsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var received in _platform.Realtime.ReadEventsAsync(cancellationToken))
            {
                if (received.AsMessage() is not { } message || message.SenderId == UserId || !message.Mentions.Contains(UserId))
                    continue;
                try
                {
                    await _platform.SendMessageAsync(message.ConversationId, $"You called? You said: {message.Text}", replyTo: message.Id,
                        clientMessageId: $"echo-{message.Id:N}", cancellationToken: cancellationToken);
                }
                catch (PlatformException)
                {
                    // The conversation may have gone away (or the bot was removed from it); the next mention gets its answer.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_listening is not null)
            await _listening;
        await _platform.DisposeAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private sealed record CommandRequest(string Command, string Text, Guid ConversationId, Guid UserId, Guid ResponseId);
}
