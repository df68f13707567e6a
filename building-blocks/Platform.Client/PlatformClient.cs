using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Client;

/// <summary>
/// The Platform's .NET client: typed calls to the Gateway's API and, through <see cref="Realtime"/>, an ordered
/// stream of conversation events that survives reconnects.
/// </summary>
public sealed class PlatformClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly TokenSource _tokens;
    private RealtimeStream? _realtime;

    /// <summary>Creates a client; nothing is sent until the first call.</summary>
    public PlatformClient(PlatformClientOptions options)
    {
        Options = options;
        _http = options.HttpMessageHandlerFactory is { } factory ? new HttpClient(factory()) : new HttpClient();
        _http.BaseAddress = options.GatewayUrl;
        _tokens = new TokenSource(options, _http);
    }

    /// <summary>The options the client was made with.</summary>
    public PlatformClientOptions Options { get; }

    /// <summary>The realtime stream (created on first use; call <see cref="RealtimeStream.StartAsync"/>).</summary>
    public RealtimeStream Realtime => _realtime ??= new RealtimeStream(this);

    /// <summary>A current access token (signing in or refreshing as needed).</summary>
    public Task<string> GetAccessTokenAsync(CancellationToken cancellationToken = default) => _tokens.GetAsync(cancellationToken);

    /// <summary>My profile, with whether my email and phone are verified.</summary>
    public Task<MyProfile> GetMeAsync(CancellationToken cancellationToken = default) =>
        SendAsync<MyProfile>(HttpMethod.Get, "api/v1/users/me", null, cancellationToken);

    /// <summary>
    /// Sends a verification code to my email (<paramref name="channel"/> <c>email</c>) or phone (<c>phone</c>); at most one
    /// a minute (a 429 <see cref="PlatformException"/> says when to try again).
    /// </summary>
    public Task RequestVerificationAsync(string channel, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, "api/v1/users/me/verification", new { channel }, cancellationToken);

    /// <summary>Verifies my email or phone with the code sent to it; the address is then mine alone (other accounts holding it lose it).</summary>
    public Task ConfirmVerificationAsync(string channel, string code, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, "api/v1/users/me/verification/confirm", new { channel, code }, cancellationToken);

    /// <summary>Whether two-factor sign-in is on, and how many recovery codes are left.</summary>
    public Task<TwoFactorStatus> GetTwoFactorAsync(CancellationToken cancellationToken = default) =>
        SendAsync<TwoFactorStatus>(HttpMethod.Get, "api/v1/users/me/two-factor", null, cancellationToken);

    /// <summary>A new authenticator key (while two-factor sign-in is off); turn it on with <see cref="EnableTwoFactorAsync"/>.</summary>
    public Task<AuthenticatorSetup> SetUpAuthenticatorAsync(CancellationToken cancellationToken = default) =>
        SendAsync<AuthenticatorSetup>(HttpMethod.Post, "api/v1/users/me/two-factor/authenticator", null, cancellationToken);

    /// <summary>Turns two-factor sign-in on with the authenticator's current code; answers 10 recovery codes to keep.</summary>
    public Task<RecoveryCodeList> EnableTwoFactorAsync(string code, CancellationToken cancellationToken = default) =>
        SendAsync<RecoveryCodeList>(HttpMethod.Post, "api/v1/users/me/two-factor/enable", new { code }, cancellationToken);

    /// <summary>Turns two-factor sign-in off (the authenticator and recovery codes stop working).</summary>
    public Task DisableTwoFactorAsync(string password, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, "api/v1/users/me/two-factor/disable", new { password }, cancellationToken);

    /// <summary>10 new recovery codes; the earlier ones stop working.</summary>
    public Task<RecoveryCodeList> NewRecoveryCodesAsync(string password, CancellationToken cancellationToken = default) =>
        SendAsync<RecoveryCodeList>(HttpMethod.Post, "api/v1/users/me/two-factor/recovery-codes", new { password }, cancellationToken);

    /// <summary>
    /// Deletes my account, confirmed with my password: Identity erases it at once and every service erases what it holds
    /// of me within seconds (my messages stay as deleted messages). Every token of mine is refused from then on. A wrong
    /// password throws a <see cref="PlatformException"/> with status 403 (429 with <see cref="PlatformException.RetryAfter"/>
    /// after too many).
    /// </summary>
    public Task DeleteAccountAsync(string password, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, "api/v1/users/me", new { password }, cancellationToken);

    /// <summary>
    /// Asks for an export of my data (a ZIP with JSON from every service and my uploaded files), built in the background;
    /// answers its id. One at a time (409 while one is pending), a few per hour (429).
    /// </summary>
    public async Task<Guid> RequestExportAsync(CancellationToken cancellationToken = default) =>
        (await SendAsync<JsonElement>(HttpMethod.Post, "api/v1/users/me/exports", null, cancellationToken)).GetProperty("id").GetGuid();

    /// <summary>An export's status; once ready, <see cref="DownloadExportAsync"/> fetches it until it expires.</summary>
    public Task<DataExport> GetExportAsync(Guid exportId, CancellationToken cancellationToken = default) =>
        SendAsync<DataExport>(HttpMethod.Get, $"api/v1/users/me/exports/{exportId}", null, cancellationToken);

    /// <summary>A ready export's ZIP archive; dispose the stream.</summary>
    public async Task<Stream> DownloadExportAsync(Guid exportId, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/users/me/exports/{exportId}/archive");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _tokens.GetAsync(cancellationToken));
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            response.Dispose();
            throw new PlatformException((int)response.StatusCode, response.ReasonPhrase ?? "Error", "The export could not be downloaded.");
        }
        return await response.Content.ReadAsStreamAsync(cancellationToken);
    }

    /// <summary>The users I blocked.</summary>
    public Task<Page<BlockedUser>> GetBlocksAsync(string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<BlockedUser>>(HttpMethod.Get, $"api/v1/users/me/blocks?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>Blocks a user: no direct messages, adds, calls, presence or typing between us, either way.</summary>
    public Task<BlockedUser> BlockUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync<BlockedUser>(HttpMethod.Put, $"api/v1/users/me/blocks/{userId}", null, cancellationToken);

    /// <summary>Lifts my block of a user (nothing happens if there was none).</summary>
    public Task UnblockUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/users/me/blocks/{userId}", null, cancellationToken);

    /// <summary>My privacy settings.</summary>
    public Task<PrivacySettings> GetPrivacyAsync(CancellationToken cancellationToken = default) =>
        SendAsync<PrivacySettings>(HttpMethod.Get, "api/v1/users/me/privacy", null, cancellationToken);

    /// <summary>
    /// Changes some of my privacy settings (null leaves one as it is): who sees my presence (<paramref name="lastSeen"/>:
    /// everyone, contacts, nobody), whether others see my read positions, who may add me to groups (everyone, contacts).
    /// </summary>
    public Task<PrivacySettings> SetPrivacyAsync(string? lastSeen = null, bool? readReceipts = null, string? whoCanAdd = null, CancellationToken cancellationToken = default) =>
        SendAsync<PrivacySettings>(HttpMethod.Put, "api/v1/users/me/privacy", new { lastSeen, readReceipts, whoCanAdd }, cancellationToken);

    /// <summary>Creates a conversation: <paramref name="kind"/> is direct, group or channel.</summary>
    public Task<Conversation> CreateConversationAsync(string kind, IEnumerable<Guid> memberIds, string? title = null, CancellationToken cancellationToken = default) =>
        SendAsync<Conversation>(HttpMethod.Post, "api/v1/conversations", new { kind, title, memberIds }, cancellationToken);

    /// <summary>The inbox: my conversations, newest activity first.</summary>
    public Task<Page<InboxRow>> GetInboxAsync(string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<InboxRow>>(HttpMethod.Get, $"api/v1/conversations?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>One conversation I am a member of.</summary>
    public Task<Conversation> GetConversationAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Conversation>(HttpMethod.Get, $"api/v1/conversations/{conversationId}", null, cancellationToken);

    /// <summary>The ids and last seqs of all my conversations.</summary>
    public async Task<IReadOnlyList<(Guid Id, long LastSeq)>> GetJoinedAsync(CancellationToken cancellationToken = default)
    {
        var all = new List<(Guid, long)>();
        string? after = null;
        do
        {
            var page = await SendAsync<Page<JoinedRow>>(HttpMethod.Get, $"api/v1/conversations/joined?limit=1000{(after is null ? "" : "&after=" + after)}", null, cancellationToken);
            all.AddRange(page.Items.Select(row => (row.Id, row.LastSeq)));
            after = page.Next;
        }
        while (after is not null);
        return all;
    }

    /// <summary>Adds members (owners and admins), or joins a public channel with my own id.</summary>
    public Task<Conversation> AddMembersAsync(Guid conversationId, IEnumerable<Guid> userIds, CancellationToken cancellationToken = default) =>
        SendAsync<Conversation>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/members", new { userIds }, cancellationToken);

    /// <summary>Accepts a message request (an inbox row with <c>State</c> <c>requested</c>): the sender sees my presence and receipts from now on.</summary>
    public Task AcceptRequestAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/accept", null, cancellationToken);

    /// <summary>Declines a message request: I leave the conversation, and it takes no more messages.</summary>
    public Task DeclineRequestAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/decline", null, cancellationToken);

    /// <summary>Leaves a conversation of any kind (a direct one takes no more messages until I open it again).</summary>
    public Task LeaveConversationAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/leave", null, cancellationToken);

    /// <summary>Reports a message to the conversation's moderators and the platform admins (reporting it again answers the first report).</summary>
    public Task<MessageReport> ReportMessageAsync(Guid conversationId, Guid messageId, string reason, CancellationToken cancellationToken = default) =>
        SendAsync<MessageReport>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages/{messageId}/reports", new { reason }, cancellationToken);

    /// <summary>The review queue: reports in conversations I moderate (all of them for platform admins), oldest first; <paramref name="status"/> open or resolved.</summary>
    public Task<Page<MessageReport>> GetReportsAsync(string? status = "open", Guid? after = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<MessageReport>>(HttpMethod.Get,
            $"api/v1/moderation/reports?limit={limit}{(status is null ? "" : "&status=" + status)}{(after is null ? "" : "&after=" + after)}", null, cancellationToken);

    /// <summary>Closes a report, with an optional note of what was done.</summary>
    public Task<MessageReport> ResolveReportAsync(Guid reportId, string? resolution = null, CancellationToken cancellationToken = default) =>
        SendAsync<MessageReport>(HttpMethod.Post, $"api/v1/moderation/reports/{reportId}/resolve", new { resolution }, cancellationToken);

    /// <summary>Removes a member, or leaves when it is my own id.</summary>
    public Task RemoveMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/members/{userId}", null, cancellationToken);

    /// <summary>
    /// Sends a message. Network failures and server errors are retried with the same <paramref name="clientMessageId"/>,
    /// so a retry never makes a second message.
    /// </summary>
    public async Task<Message> SendMessageAsync(
        Guid conversationId, string text, Guid? replyTo = null, IEnumerable<Guid>? attachments = null, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
    {
        var body = new { clientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N"), text, replyTo, attachments };
        return await SendWithRetriesAsync(conversationId, body, cancellationToken);
    }

    /// <summary>
    /// Forwards a message I can read into another conversation (or the same): the forward carries its text (or
    /// <paramref name="text"/> instead) and attachments, and <c>ForwardedFrom</c>, a reference that only the origin's
    /// members can open. Retried like <see cref="SendMessageAsync"/>.
    /// </summary>
    public Task<Message> ForwardMessageAsync(
        Guid conversationId, ForwardReference from, string? text = null, string? clientMessageId = null, CancellationToken cancellationToken = default) =>
        SendWithRetriesAsync(conversationId, new { clientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N"), text, forwardedFrom = from }, cancellationToken);

    private async Task<Message> SendWithRetriesAsync(Guid conversationId, object body, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await SendAsync<Message>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages", body, cancellationToken);
            }
            catch (Exception exception) when (attempt < Options.SendRetries && IsTransient(exception) && !cancellationToken.IsCancellationRequested)
            {
                // Not before the server said: a rate-limited send tried again sooner is only refused again.
                var backoff = Backoff.Delay(attempt, TimeSpan.FromSeconds(5));
                await Task.Delay(exception is PlatformException { RetryAfter: { } wait } && wait > backoff ? wait : backoff, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Sends a text that may be a slash command: a <c>/name</c> of a bot in the conversation goes to the bot (the outcome's
    /// <see cref="SendOutcome.Command"/>; its answer arrives later, maybe as <see cref="RealtimeStream.Ephemeral"/>), any
    /// other text is posted (<see cref="SendOutcome.Message"/>). Not retried: a command may act twice.
    /// </summary>
    public async Task<SendOutcome> SendTextAsync(Guid conversationId, string text, string? clientMessageId = null, CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync<JsonElement>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages",
            new { clientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N"), text }, cancellationToken);
        return answer.TryGetProperty("responseId", out _) && answer.TryGetProperty("command", out _)
            ? new SendOutcome(null, answer.Deserialize<CommandAccepted>(PlatformJson.Options))
            : new SendOutcome(answer.Deserialize<Message>(PlatformJson.Options), null);
    }

    /// <summary>
    /// As a bot: answers one member only, live on their connections and nowhere else (not in the log). Name the command's
    /// <paramref name="responseId"/> (its caller is the recipient) or the member, <paramref name="to"/>.
    /// </summary>
    public Task<EphemeralMessage> SendEphemeralAsync(Guid conversationId, string text, Guid? responseId = null, Guid? to = null, CancellationToken cancellationToken = default) =>
        SendAsync<EphemeralMessage>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages",
            new { text, ephemeral = true, responseId, ephemeralTo = to }, cancellationToken);

    /// <summary>Platform admins: creates a bot user and its client credentials (the secret is shown only now).</summary>
    public Task<CreatedBot> CreateBotAsync(string displayName, string username, CancellationToken cancellationToken = default) =>
        SendAsync<CreatedBot>(HttpMethod.Post, "api/v1/bots", new { displayName, username }, cancellationToken);

    /// <summary>Platform admins: every bot.</summary>
    public Task<Page<BotInfo>> GetBotsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<Page<BotInfo>>(HttpMethod.Get, "api/v1/bots", null, cancellationToken);

    /// <summary>Platform admins: disables a bot and removes its client; its token requests fail at once.</summary>
    public Task DeleteBotAsync(Guid botId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/bots/{botId}", null, cancellationToken);

    /// <summary>
    /// The bot itself or a platform admin: registers (or replaces) the slash command <c>/name</c>; commands are POSTed to
    /// <paramref name="url"/> (public addresses only), signed with the answer's <see cref="RegisteredBotCommand.Secret"/>.
    /// </summary>
    public Task<RegisteredBotCommand> RegisterBotCommandAsync(Guid botId, string name, string description, Uri url, CancellationToken cancellationToken = default) =>
        SendAsync<RegisteredBotCommand>(HttpMethod.Post, $"api/v1/bots/{botId}/commands", new { name, description, url = url.ToString() }, cancellationToken);

    /// <summary>A bot's slash commands.</summary>
    public Task<Page<BotCommandInfo>> GetBotCommandsAsync(Guid botId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<BotCommandInfo>>(HttpMethod.Get, $"api/v1/bots/{botId}/commands", null, cancellationToken);

    /// <summary>The bot itself or a platform admin: removes a slash command.</summary>
    public Task DeleteBotCommandAsync(Guid botId, string name, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/bots/{botId}/commands/{Uri.EscapeDataString(name)}", null, cancellationToken);

    /// <summary>The slash commands of the conversation's bots, to offer as the user types <c>/</c>.</summary>
    public Task<Page<BotCommandInfo>> GetConversationCommandsAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<BotCommandInfo>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/commands", null, cancellationToken);

    /// <summary>Owners and admins of a group or channel: a secret URL that posts messages as <paramref name="name"/> (shown only now).</summary>
    public Task<CreatedIncomingWebhook> CreateIncomingWebhookAsync(Guid conversationId, string? name = null, CancellationToken cancellationToken = default) =>
        SendAsync<CreatedIncomingWebhook>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/incoming-webhooks", new { name }, cancellationToken);

    /// <summary>Owners and admins: the conversation's incoming webhooks.</summary>
    public Task<Page<IncomingWebhookInfo>> GetIncomingWebhooksAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<IncomingWebhookInfo>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/incoming-webhooks", null, cancellationToken);

    /// <summary>Owners and admins: deletes an incoming webhook; its URL stops working at once.</summary>
    public Task DeleteIncomingWebhookAsync(Guid conversationId, Guid webhookId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/incoming-webhooks/{webhookId}", null, cancellationToken);

    /// <summary>Posts <paramref name="text"/> through an incoming webhook's URL (no token: the URL's secret is the credential).</summary>
    public static async Task PostToIncomingWebhookAsync(HttpClient http, Uri webhookUrl, string text, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsJsonAsync(webhookUrl, new { text }, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new PlatformException((int)response.StatusCode, response.ReasonPhrase ?? "Error", await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>
    /// Time travel: the conversation's messages as they were at <paramref name="asOf"/> (a time) or <paramref name="asOfSeq"/>
    /// (edits, reactions, replies and deletes up to then; text erased since stays erased), paged like <see cref="GetMessagesAsync"/>.
    /// </summary>
    public Task<Page<Message>> GetMessagesAsOfAsync(Guid conversationId, DateTimeOffset? asOf = null, long? asOfSeq = null, long? before = null, long? after = null,
        int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<Message>>(HttpMethod.Get,
            $"api/v1/conversations/{conversationId}/messages?limit={limit}{AsOfQuery(asOf, asOfSeq)}{(before is null ? "" : "&before=" + before)}{(after is null ? "" : "&after=" + after)}",
            null, cancellationToken);

    /// <summary>The conversation's members by user id (<paramref name="after"/> continues); with <paramref name="asOf"/> or <paramref name="asOfSeq"/>, as they were then.</summary>
    public Task<Page<Member>> GetMembersAsync(Guid conversationId, Guid? after = null, int limit = 50, DateTimeOffset? asOf = null, long? asOfSeq = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<Page<Member>>(HttpMethod.Get,
            $"api/v1/conversations/{conversationId}/members?limit={limit}{AsOfQuery(asOf, asOfSeq)}{(after is null ? "" : "&after=" + after)}", null, cancellationToken);

    /// <summary>
    /// Time travel: the conversation's last seq at or before <paramref name="at"/>, as far as I may see its log (0 before
    /// its first event): the point to read history up to.
    /// </summary>
    public async Task<long> GetSeqAtAsync(Guid conversationId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        (await SendAsync<SeqAt>(HttpMethod.Get,
            $"api/v1/conversations/{conversationId}/seq?at={Uri.EscapeDataString(at.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture))}",
            null, cancellationToken)).Seq;

    private static string AsOfQuery(DateTimeOffset? asOf, long? asOfSeq) =>
        (asOf is { } at ? "&asOf=" + Uri.EscapeDataString(at.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)) : "")
        + (asOfSeq is { } seq ? "&asOfSeq=" + seq : "");

    /// <summary>History in seq order: the newest page, or the page before <paramref name="before"/> / after <paramref name="after"/>.</summary>
    public Task<Page<Message>> GetMessagesAsync(Guid conversationId, long? before = null, long? after = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<Message>>(HttpMethod.Get,
            $"api/v1/conversations/{conversationId}/messages?limit={limit}{(before is null ? "" : "&before=" + before)}{(after is null ? "" : "&after=" + after)}", null, cancellationToken);

    /// <summary>One message of a conversation I am in (for instance a search hit's, to open the conversation at it).</summary>
    public Task<Message> GetMessageAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<Message>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/messages/{messageId}", null, cancellationToken);

    /// <summary>Pins a message to its conversation (members see <c>message.pinned</c>).</summary>
    public Task PinMessageAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Put, $"api/v1/conversations/{conversationId}/pins/{messageId}", null, cancellationToken);

    /// <summary>Unpins a message (members see <c>message.unpinned</c>).</summary>
    public Task UnpinMessageAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/pins/{messageId}", null, cancellationToken);

    /// <summary>The conversation's pinned messages, newest pin first.</summary>
    public Task<Page<Message>> GetPinsAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<Message>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/pins", null, cancellationToken);

    /// <summary>Saves a message for later; only I see my saved messages.</summary>
    public Task<SavedMessage> SaveMessageAsync(Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<SavedMessage>(HttpMethod.Put, $"api/v1/saved-messages/{messageId}", null, cancellationToken);

    /// <summary>Forgets a saved message.</summary>
    public Task UnsaveMessageAsync(Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/saved-messages/{messageId}", null, cancellationToken);

    /// <summary>My saved messages, newest saved first; pass the previous page's <c>Next</c> as <paramref name="cursor"/>.</summary>
    public Task<Page<SavedMessage>> GetSavedMessagesAsync(string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<SavedMessage>>(HttpMethod.Get, $"api/v1/saved-messages?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>Marks the conversation unread from <paramref name="fromSeq"/> on: moves only my read marker back, never the delivered one.</summary>
    public Task<Receipts> MarkUnreadAsync(Guid conversationId, long fromSeq, CancellationToken cancellationToken = default) =>
        SendAsync<Receipts>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/unread", new { fromSeq }, cancellationToken);

    /// <summary>Edits my message.</summary>
    public Task<Message> EditMessageAsync(Guid conversationId, Guid messageId, string text, CancellationToken cancellationToken = default) =>
        SendAsync<Message>(HttpMethod.Patch, $"api/v1/conversations/{conversationId}/messages/{messageId}", new { text }, cancellationToken);

    /// <summary>Deletes a message (mine, or any as an admin).</summary>
    public Task DeleteMessageAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/messages/{messageId}", null, cancellationToken);

    /// <summary>Adds my reaction.</summary>
    public Task<Message> AddReactionAsync(Guid conversationId, Guid messageId, string emoji, CancellationToken cancellationToken = default) =>
        SendAsync<Message>(HttpMethod.Put, $"api/v1/conversations/{conversationId}/messages/{messageId}/reactions/{Uri.EscapeDataString(emoji)}", null, cancellationToken);

    /// <summary>Takes my reaction back.</summary>
    public Task<Message> RemoveReactionAsync(Guid conversationId, Guid messageId, string emoji, CancellationToken cancellationToken = default) =>
        SendAsync<Message>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/messages/{messageId}/reactions/{Uri.EscapeDataString(emoji)}", null, cancellationToken);

    /// <summary>Moves my delivered and/or read cursors forward.</summary>
    public Task<Receipts> SendReceiptsAsync(Guid conversationId, long? delivered = null, long? read = null, CancellationToken cancellationToken = default) =>
        SendAsync<Receipts>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/receipts", new { delivered, read }, cancellationToken);

    /// <summary>The log after <paramref name="after"/>, in order.</summary>
    public Task<Page<ConversationEvent>> GetEventsAsync(Guid conversationId, long after, int limit = 500, CancellationToken cancellationToken = default) =>
        SendAsync<Page<ConversationEvent>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/events?after={after}&limit={limit}", null, cancellationToken);

    /// <summary>
    /// Full-text search over the messages of my conversations, best match first. Words match stemmed (English) and as
    /// written; <c>"a phrase"</c>, <c>or</c> and <c>-word</c> work as in web search engines. Pass the previous page's
    /// <c>Next</c> as <paramref name="cursor"/>.
    /// </summary>
    public Task<Page<SearchHit>> SearchMessagesAsync(
        string q, Guid? conversationId = null, Guid? senderId = null, DateTimeOffset? after = null, DateTimeOffset? before = null, string? cursor = null,
        int limit = 20, CancellationToken cancellationToken = default)
    {
        var query = new List<string> { "q=" + Uri.EscapeDataString(q), "limit=" + limit };
        if (conversationId is not null)
            query.Add("conversationId=" + conversationId);
        if (senderId is not null)
            query.Add("senderId=" + senderId);
        if (after is not null)
            query.Add("after=" + Uri.EscapeDataString(after.Value.ToString("O")));
        if (before is not null)
            query.Add("before=" + Uri.EscapeDataString(before.Value.ToString("O")));
        if (cursor is not null)
            query.Add("cursor=" + Uri.EscapeDataString(cursor));
        return SendAsync<Page<SearchHit>>(HttpMethod.Get, "api/v1/search/messages?" + string.Join('&', query), null, cancellationToken);
    }

    /// <summary>A thread: its root and its replies in seq order after <paramref name="after"/> (a reply's id shows its root's thread).</summary>
    public Task<MessageThread> GetThreadAsync(Guid conversationId, Guid messageId, long? after = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<MessageThread>(HttpMethod.Get,
            $"api/v1/conversations/{conversationId}/messages/{messageId}/thread?limit={limit}{(after is null ? "" : "&after=" + after)}", null, cancellationToken);

    /// <summary>Follows a thread (what it holds now counts as read). Replying in a thread follows it too.</summary>
    public Task FollowThreadAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Put, $"api/v1/conversations/{conversationId}/messages/{messageId}/follow", null, cancellationToken);

    /// <summary>Stops following a thread; being its root's author does not follow it again (replying does).</summary>
    public Task UnfollowThreadAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/messages/{messageId}/follow", null, cancellationToken);

    /// <summary>Moves my read marker of a thread forward: to <paramref name="seq"/>, or to its end.</summary>
    public Task<ThreadRead> MarkThreadReadAsync(Guid conversationId, Guid messageId, long? seq = null, CancellationToken cancellationToken = default) =>
        SendAsync<ThreadRead>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/messages/{messageId}/thread/read", new { seq }, cancellationToken);

    /// <summary>The threads I follow, newest reply first, with my unread and mention counts in each.</summary>
    public Task<Page<FollowedThread>> GetFollowedThreadsAsync(string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<FollowedThread>>(HttpMethod.Get, $"api/v1/threads?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>The public channels, newest first; <paramref name="q"/> matches their title or topic. Join one with <see cref="AddMembersAsync"/> and my own id.</summary>
    public Task<Page<DirectoryChannel>> GetPublicChannelsAsync(string? q = null, string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<DirectoryChannel>>(HttpMethod.Get,
            $"api/v1/channels?limit={limit}{(q is null ? "" : "&q=" + Uri.EscapeDataString(q))}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>
    /// Schedules a message to be sent at <paramref name="sendAt"/> (at most a year ahead), through the normal send path then:
    /// if I can no longer post there it is marked failed. The same <paramref name="clientMessageId"/> twice schedules once.
    /// </summary>
    public Task<ScheduledMessage> ScheduleMessageAsync(Guid conversationId, string clientMessageId, string text, DateTimeOffset sendAt,
        IReadOnlyList<Guid>? attachments = null, CancellationToken cancellationToken = default) =>
        SendAsync<ScheduledMessage>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/scheduled-messages",
            new { clientMessageId, text, attachments, sendAt }, cancellationToken);

    /// <summary>My scheduled messages of the conversation not yet sent (pending or failed), soonest first.</summary>
    public Task<Page<ScheduledMessage>> GetScheduledMessagesAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<ScheduledMessage>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/scheduled-messages", null, cancellationToken);

    /// <summary>Changes a pending scheduled message's text, time or both (409 once it was sent or failed).</summary>
    public Task<ScheduledMessage> UpdateScheduledMessageAsync(Guid conversationId, Guid scheduledId, string? text = null, DateTimeOffset? sendAt = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<ScheduledMessage>(HttpMethod.Patch, $"api/v1/conversations/{conversationId}/scheduled-messages/{scheduledId}", new { text, sendAt }, cancellationToken);

    /// <summary>Cancels a pending scheduled message, or dismisses a failed one.</summary>
    public Task CancelScheduledMessageAsync(Guid conversationId, Guid scheduledId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/scheduled-messages/{scheduledId}", null, cancellationToken);

    /// <summary>
    /// Makes an invite link to a group or channel I own or administer (default: valid 7 days, at most 30); with
    /// <paramref name="maxUses"/>, it admits that many new members and no more.
    /// </summary>
    public Task<InviteLink> CreateInviteLinkAsync(Guid conversationId, DateTimeOffset? expiresAt = null, int? maxUses = null, CancellationToken cancellationToken = default) =>
        SendAsync<InviteLink>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/invite-links", new { expiresAt, maxUses }, cancellationToken);

    /// <summary>The conversation's unexpired invite links, newest first (owners and admins).</summary>
    public Task<Page<InviteLinkInfo>> GetInviteLinksAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Page<InviteLinkInfo>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/invite-links", null, cancellationToken);

    /// <summary>Revokes an invite link by its id: nobody joins with it any more (owners and admins).</summary>
    public Task RevokeInviteLinkAsync(Guid conversationId, string linkId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/conversations/{conversationId}/invite-links/{Uri.EscapeDataString(linkId)}", null, cancellationToken);

    /// <summary>What an invite link leads to.</summary>
    public Task<InvitePreview> GetInviteLinkAsync(string token, CancellationToken cancellationToken = default) =>
        SendAsync<InvitePreview>(HttpMethod.Get, $"api/v1/invite-links/{Uri.EscapeDataString(token)}", null, cancellationToken);

    /// <summary>Joins the conversation an invite link leads to, as a member.</summary>
    public Task<Conversation> JoinByInviteLinkAsync(string token, CancellationToken cancellationToken = default) =>
        SendAsync<Conversation>(HttpMethod.Post, $"api/v1/invite-links/{Uri.EscapeDataString(token)}/join", null, cancellationToken);

    /// <summary>The presence of up to 500 users, as I may see them (<c>unknown</c> for users I share nothing with).</summary>
    public async Task<IReadOnlyList<PresenceInfo>> GetPresenceAsync(IEnumerable<Guid> userIds, CancellationToken cancellationToken = default) =>
        (await SendAsync<Page<PresenceInfo>>(HttpMethod.Post, "api/v1/presence/query", new { userIds }, cancellationToken)).Items;

    /// <summary>My presence: what others see, what I set, my connected devices.</summary>
    public Task<MyPresence> GetMyPresenceAsync(CancellationToken cancellationToken = default) =>
        SendAsync<MyPresence>(HttpMethod.Get, "api/v1/presence/me", null, cancellationToken);

    /// <summary>Sets my status: <c>available</c>, <c>away</c>, <c>dnd</c> or <c>invisible</c> (others see me offline), until <paramref name="expiresAt"/>.</summary>
    public Task<MyPresence> SetStatusAsync(string status, string? statusText = null, DateTimeOffset? expiresAt = null, CancellationToken cancellationToken = default) =>
        SendAsync<MyPresence>(HttpMethod.Put, "api/v1/presence/me", new { status, statusText, expiresAt }, cancellationToken);

    /// <summary>The members of a conversation of mine who are online now.</summary>
    public Task<Occupancy> GetOccupancyAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<Occupancy>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/occupancy", null, cancellationToken);

    /// <summary>
    /// Starts an <c>audio</c> or <c>video</c> call in a direct or group conversation: the other members ring (a
    /// <c>call.started</c> event) until they join or decline, or the ring timeout ends it as missed. While a call
    /// rings or goes on in the conversation, answers that call instead of starting another.
    /// </summary>
    public Task<Call> StartCallAsync(Guid conversationId, string kind, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Post, $"api/v1/conversations/{conversationId}/calls", new { kind }, cancellationToken);

    /// <summary>A call of one of my conversations.</summary>
    public Task<Call> GetCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Get, $"api/v1/calls/{callId}", null, cancellationToken);

    /// <summary>A conversation's calls, newest first (<c>next</c> is the <paramref name="before"/> of the next page).</summary>
    public Task<Page<Call>> GetCallsAsync(Guid conversationId, long? before = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<Call>>(HttpMethod.Get, $"api/v1/conversations/{conversationId}/calls?limit={limit}{(before is null ? "" : "&before=" + before)}", null, cancellationToken);

    /// <summary>Joins (answers) a call; 409 when it ended, or when it already has the most participants a mesh call allows.</summary>
    public Task<Call> JoinCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Post, $"api/v1/calls/{callId}/join", null, cancellationToken);

    /// <summary>Hangs up; the call ends when fewer than two people remain in it.</summary>
    public Task<Call> LeaveCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Post, $"api/v1/calls/{callId}/leave", null, cancellationToken);

    /// <summary>Declines a call I was invited to; a ringing call every invitee declined ends as declined.</summary>
    public Task<Call> DeclineCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Post, $"api/v1/calls/{callId}/decline", null, cancellationToken);

    /// <summary>Ends the call for everyone; <paramref name="failed"/> records that the connection could not be set up.</summary>
    public Task<Call> EndCallAsync(Guid callId, bool failed = false, CancellationToken cancellationToken = default) =>
        SendAsync<Call>(HttpMethod.Post, $"api/v1/calls/{callId}/end", failed ? new { reason = "failed" } : null, cancellationToken);

    /// <summary>The STUN and TURN servers for calls, with TURN credentials valid for a limited time.</summary>
    public Task<IceServers> GetIceServersAsync(CancellationToken cancellationToken = default) =>
        SendAsync<IceServers>(HttpMethod.Get, "api/v1/calls/ice-servers", null, cancellationToken);

    /// <summary>My notification feed, newest first; pass the previous page's <c>Next</c> as <paramref name="cursor"/>.</summary>
    public Task<NotificationPage> GetNotificationsAsync(string? cursor = null, int limit = 30, CancellationToken cancellationToken = default) =>
        SendAsync<NotificationPage>(HttpMethod.Get, $"api/v1/notifications?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>Marks notifications read, by id or everything up to a time; answers the unread count left.</summary>
    public async Task<int> MarkNotificationsReadAsync(IEnumerable<Guid>? ids = null, DateTimeOffset? upTo = null, CancellationToken cancellationToken = default) =>
        (await SendAsync<JsonElement>(HttpMethod.Post, "api/v1/notifications/read", new { ids = ids?.ToArray(), upTo }, cancellationToken)).GetProperty("unreadCount").GetInt32();

    /// <summary>Registers this device for Web Push (the browser's subscription) or a native token (<c>apns</c>, <c>fcm</c>).</summary>
    public Task<JsonElement> RegisterPushAsync(string endpointOrToken, string? p256dh = null, string? auth = null, string platform = "web", CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/push-subscriptions", platform == "web"
            ? new { endpoint = endpointOrToken, keys = new { p256dh, auth } }
            : new { platform, token = endpointOrToken }, cancellationToken);

    /// <summary>
    /// Registers an outgoing webhook: the conversation's events of <paramref name="events"/> types are posted to
    /// <paramref name="url"/>, signed with the returned secret (shown only now). A conversation's admins and owners
    /// register for it; a platform admin may leave <paramref name="conversationId"/> out (every conversation).
    /// </summary>
    public Task<WebhookCreated> CreateWebhookAsync(string url, IEnumerable<string> events, Guid? conversationId = null, CancellationToken cancellationToken = default) =>
        SendAsync<WebhookCreated>(HttpMethod.Post, "api/v1/webhooks", new { url, events = events.ToArray(), conversationId }, cancellationToken);

    /// <summary>My webhooks, or (for its admins and owners) a conversation's.</summary>
    public Task<Page<Webhook>> GetWebhooksAsync(Guid? conversationId = null, CancellationToken cancellationToken = default) =>
        SendAsync<Page<Webhook>>(HttpMethod.Get, $"api/v1/webhooks{(conversationId is null ? "" : "?conversationId=" + conversationId)}", null, cancellationToken);

    /// <summary>Deletes a webhook; what it still had queued is not sent.</summary>
    public Task DeleteWebhookAsync(Guid webhookId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"api/v1/webhooks/{webhookId}", null, cancellationToken);

    /// <summary>A new secret; until <see cref="WebhookSecretRotated.PreviousSecretExpiresAt"/> deliveries are signed with both.</summary>
    public Task<WebhookSecretRotated> RotateWebhookSecretAsync(Guid webhookId, CancellationToken cancellationToken = default) =>
        SendAsync<WebhookSecretRotated>(HttpMethod.Post, $"api/v1/webhooks/{webhookId}/rotate-secret", null, cancellationToken);

    /// <summary>A webhook's delivery log, newest first; pass the previous page's <c>Next</c> as <paramref name="cursor"/>.</summary>
    public Task<Page<WebhookDelivery>> GetWebhookDeliveriesAsync(Guid webhookId, string? cursor = null, int limit = 50, CancellationToken cancellationToken = default) =>
        SendAsync<Page<WebhookDelivery>>(HttpMethod.Get,
            $"api/v1/webhooks/{webhookId}/deliveries?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", null, cancellationToken);

    /// <summary>Stops the realtime stream and releases the HTTP client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_realtime is not null)
            await _realtime.DisposeAsync();
        _http.Dispose();
    }

    internal HttpMessageHandler? NewHandler() => Options.HttpMessageHandlerFactory?.Invoke();

    /// <summary>
    /// Uploads a file (streamed, multipart). Its type comes from its bytes, not <paramref name="fileName"/>; images come
    /// back re-encoded with thumbnails. Attach it by passing its id to <see cref="SendMessageAsync"/>.
    /// </summary>
    public Task<MediaFile> UploadMediaAsync(Stream content, string fileName, CancellationToken cancellationToken = default)
    {
        var file = new StreamContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var form = new MultipartFormDataContent { { file, "file", fileName } };
        return SendAsync<MediaFile>(HttpMethod.Post, "api/v1/media", form, cancellationToken);
    }

    /// <summary>A file I uploaded or that was shared in one of my conversations, with signed URLs.</summary>
    public Task<MediaDetails> GetMediaAsync(Guid mediaId, CancellationToken cancellationToken = default) =>
        SendAsync<MediaDetails>(HttpMethod.Get, $"api/v1/media/{mediaId}/details", null, cancellationToken);

    /// <summary>Opens a file's bytes through a fresh signed URL; dispose the stream.</summary>
    public async Task<Stream> OpenMediaAsync(Guid mediaId, CancellationToken cancellationToken = default)
    {
        var details = await GetMediaAsync(mediaId, cancellationToken);
        var response = await _http.GetAsync(details.Download.Url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            response.Dispose();
            throw new PlatformException((int)response.StatusCode, response.ReasonPhrase ?? "Error", "The file could not be downloaded.");
        }
        return await response.Content.ReadAsStreamAsync(cancellationToken);
    }

    /// <summary>A preview of a web page (title, description, image), fetched by Media.</summary>
    public Task<LinkPreview> GetLinkPreviewAsync(string url, CancellationToken cancellationToken = default) =>
        SendAsync<LinkPreview>(HttpMethod.Get, $"api/v1/link-previews?url={Uri.EscapeDataString(url)}", null, cancellationToken);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _tokens.GetAsync(cancellationToken));
        if (body is HttpContent content)
            request.Content = content;
        else if (body is not null)
            request.Content = JsonContent.Create(body, options: PlatformJson.Options);
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var problem = response.Content.Headers.ContentLength is > 0 || response.Content.Headers.ContentType is not null
                ? await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false)
                : default;
            throw new PlatformException((int)response.StatusCode,
                problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("title", out var title) ? title.GetString()! : response.ReasonPhrase ?? "Error",
                problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("detail", out var detail) ? detail.GetString() : null)
            {
                RetryAfter = response.Headers.RetryAfter is { } retryAfter
                    ? retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : null)
                    : null,
            };
        }
        // 204, and a 202 without a body (a code was sent).
        if (response.StatusCode == HttpStatusCode.NoContent || response.Content.Headers.ContentLength == 0)
            return default!;
        return (await response.Content.ReadFromJsonAsync<T>(PlatformJson.Options, cancellationToken))!;
    }

    private static bool IsTransient(Exception exception) => exception switch
    {
        HttpRequestException => true,
        TaskCanceledException => true,
        PlatformException platform => platform.Status is 408 or 429 or >= 500,
        _ => false,
    };

    private sealed record JoinedRow(Guid Id, long LastSeq);
}

/// <summary>Exponential backoff with full jitter.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(int attempt, TimeSpan max)
    {
        var ceiling = Math.Min(max.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(attempt, 16)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling + 50);
    }
}
