namespace Platform.Client;

/// <summary>Where the Platform is and how to sign in to it.</summary>
public sealed class PlatformClientOptions
{
    /// <summary>The Gateway's URL, e.g. <c>https://chat.example.com/</c>.</summary>
    public required Uri GatewayUrl { get; init; }

    /// <summary>Sign in with the password grant of <see cref="ClientId"/>; refreshed automatically.</summary>
    public string? Username { get; init; }

    /// <summary>The password for <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>
    /// For an account with two-factor sign-in on: gives the authenticator's current code (or a recovery code) each time
    /// the client signs in with the password (sent as the password grant's <c>otp</c> parameter).
    /// </summary>
    public Func<CancellationToken, Task<string>>? TwoFactorCodeProvider { get; init; }

    /// <summary>The OAuth client used for the password grant (a bot's own client id with <see cref="ClientSecret"/>).</summary>
    public string ClientId { get; init; } = "platform-cli";

    /// <summary>
    /// A bot signs in with its client credentials (<c>POST /api/v1/bots</c> gave <see cref="ClientId"/> and this secret)
    /// instead of a username and password; its tokens are the bot user's, for the same API and hub.
    /// </summary>
    public string? ClientSecret { get; init; }

    /// <summary>Scopes asked for at sign-in.</summary>
    public string Scope { get; init; } = "openid profile email offline_access api";

    /// <summary>Instead of signing in: a source of access tokens (for apps that sign in themselves).</summary>
    public Func<CancellationToken, Task<string>>? AccessTokenProvider { get; init; }

    /// <summary>Use the MessagePack hub protocol instead of JSON.</summary>
    public bool UseMessagePack { get; init; }

    /// <summary>Send delivered receipts (hub <c>Ack</c>) for events the stream hands out.</summary>
    public bool AcknowledgeDeliveries { get; init; } = true;

    /// <summary>How many times <see cref="PlatformClient.SendMessageAsync"/> retries a send that failed on the way (same <c>clientMessageId</c>).</summary>
    public int SendRetries { get; init; } = 5;

    /// <summary>The longest wait between reconnect attempts.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Connect the realtime stream over WebSockets straight away, without SignalR's negotiate request: one HTTP
    /// connection per stream instead of two and one request less per (re)connect. Only where WebSockets are known to
    /// pass (no fallback to Server-Sent Events or long polling).
    /// </summary>
    public bool SkipNegotiation { get; init; }

    /// <summary>For tests and proxies: the handler under the SDK's HTTP calls.</summary>
    public Func<HttpMessageHandler>? HttpMessageHandlerFactory { get; init; }

    /// <summary>What this device is, as Presence lists it: <c>web</c>, <c>mobile</c>, <c>desktop</c> or <c>other</c>.</summary>
    public string DeviceKind { get; init; } = "other";
}
