using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Client;

/// <summary>A page of a list: the items and the cursor of the next page (null on the last one).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>A seq of a conversation's log (<c>GET .../seq?at=</c>).</summary>
public sealed record SeqAt(long Seq);

/// <summary>A conversation as its member sees it.</summary>
public sealed record Conversation(
    Guid Id, string Kind, string? Title, string? Topic, bool IsPublic, int? RetentionDays, string Role, int MemberCount, long LastSeq,
    Guid CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset LastActivityAt);

/// <summary>A user I blocked.</summary>
public sealed record BlockedUser(Guid UserId, string Username, string DisplayName, DateTimeOffset BlockedAt);

/// <summary>A report of a message: <see cref="Status"/> is open or resolved.</summary>
public sealed record MessageReport(
    Guid Id, Guid ConversationId, Guid MessageId, long MessageSeq, Guid ReportedBy, string Reason, string Status, DateTimeOffset ReportedAt, long Seq,
    Guid? ResolvedBy, DateTimeOffset? ResolvedAt, string? Resolution);

/// <summary>A data export of my account: <see cref="Status"/> is pending, ready (with <see cref="DownloadUrl"/>) or failed.</summary>
public sealed record DataExport(Guid Id, string Status, Uri? DownloadUrl, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>My privacy settings: <c>lastSeen</c> everyone, contacts or nobody; <c>whoCanAdd</c> everyone or contacts.</summary>
/// <summary>My own profile (<c>GET /api/v1/users/me</c>): email and phone with whether each is verified.</summary>
public sealed record MyProfile(
    Guid Id, string Username, string DisplayName, string? Email, bool EmailVerified, string? Phone, bool PhoneVerified,
    Guid? AvatarMediaId, string? StatusText, IReadOnlyList<string> Roles, DateTimeOffset CreatedAt, bool IsBot = false);

/// <summary>Whether two-factor sign-in is on, and how many unused recovery codes are left.</summary>
public sealed record TwoFactorStatus(bool Enabled, int RecoveryCodesLeft);

/// <summary>A new authenticator: the key to type in, or the <c>otpauth://</c> URI to show as a QR code.</summary>
public sealed record AuthenticatorSetup(string SharedKey, string AuthenticatorUri);

/// <summary>Recovery codes, each good for one sign-in instead of an authenticator code.</summary>
public sealed record RecoveryCodeList(IReadOnlyList<string> RecoveryCodes);

/// <summary>Who sees my presence and last seen (<c>everyone</c>, <c>contacts</c>, <c>nobody</c>), whether I send read receipts, who may add me to groups.</summary>
public sealed record PrivacySettings(string LastSeen, bool ReadReceipts, string WhoCanAdd);

/// <summary>A row of the inbox; <see cref="State"/> is <c>requested</c> for a message request not yet accepted, else <c>active</c>.</summary>
public sealed record InboxRow(
    Guid Id, string Kind, string? Title, string Role, int UnreadCount, int MentionCount, MessagePreview? LastMessage, DateTimeOffset LastActivityAt,
    long LastSeq, long ReadSeq, int MemberCount, string State = "active");

/// <summary>The newest message of a conversation, shortened.</summary>
public sealed record MessagePreview(Guid Id, long Seq, Guid SenderId, string Text, bool Deleted, DateTimeOffset CreatedAt);

/// <summary>One emoji's reactions on a message.</summary>
public sealed record Reaction(string Emoji, int Count, IReadOnlyList<Guid> UserIds);

/// <summary>
/// A file attached to a message: its id at once; its type, size, dimensions, duration, thumbnail, blurhash placeholder and
/// whether it is animated once Media has processed it (the event <see cref="EventTypes.MessageAttachmentsReady"/>).
/// </summary>
public sealed record Attachment(
    Guid Id, string? ContentType = null, long? Size = null, int? Width = null, int? Height = null, long? DurationMs = null,
    string? ThumbnailUrl = null, string? BlurHash = null, bool? Animated = null);

/// <summary>A message, with its place in the conversation (<see cref="Seq"/>); <see cref="MassMention"/> is <c>channel</c> or <c>here</c> when it called everyone (online).</summary>
public sealed record Message(
    Guid Id, Guid ConversationId, long Seq, Guid SenderId, string ClientMessageId, string Text, IReadOnlyList<Guid> Mentions, IReadOnlyList<string> Urls,
    Guid? ReplyTo, int ReplyCount, DateTimeOffset? LastReplyAt, bool Edited, DateTimeOffset? EditedAt, bool Deleted,
    IReadOnlyList<Reaction> Reactions, IReadOnlyList<Attachment> Attachments, DateTimeOffset CreatedAt,
    IReadOnlyList<LinkPreview>? LinkPreviews = null, ForwardReference? ForwardedFrom = null, bool Pinned = false,
    bool SenderIsBot = false, string SenderKind = "user", string? SenderName = null, string? MassMention = null);

/// <summary>A bot's answer for one member only (<see cref="EphemeralTo"/>), answering the command <see cref="ResponseId"/> if set.</summary>
public sealed record EphemeralMessage(
    Guid Id, Guid ConversationId, Guid SenderId, string Text, DateTimeOffset CreatedAt, Guid EphemeralTo, Guid? ResponseId,
    bool SenderIsBot = true, string SenderKind = "bot", string? SenderName = null);

/// <summary>A send that was a bot's slash command: it went to the bot (whose answer comes later), not into the log.</summary>
public sealed record CommandAccepted(string Command, Guid BotId, Guid ResponseId, Guid ConversationId);

/// <summary>What sending a text did: posted a <see cref="Message"/>, or ran a slash command (<see cref="Command"/>).</summary>
public sealed record SendOutcome(Message? Message, CommandAccepted? Command);

/// <summary>A new bot and its client credentials (the secret is shown once).</summary>
public sealed record CreatedBot(Guid UserId, string Username, string DisplayName, string ClientId, string ClientSecret);

/// <summary>A bot as platform admins see it.</summary>
public sealed record BotInfo(Guid UserId, string Username, string DisplayName, string ClientId, bool Disabled, DateTimeOffset CreatedAt);

/// <summary>A registered slash command, with the secret that signs its deliveries (shown to the bot and admins at registration).</summary>
public sealed record RegisteredBotCommand(Guid BotId, string Name, string Description, string Url, string Secret, DateTimeOffset CreatedAt);

/// <summary>A slash command clients can offer: <c>/name</c>, its bot and what it does.</summary>
public sealed record BotCommandInfo(Guid BotId, string Name, string Description);

/// <summary>A new incoming webhook: whoever holds <see cref="Url"/> posts to the conversation (shown once).</summary>
public sealed record CreatedIncomingWebhook(Guid Id, Guid ConversationId, string Name, string Url, Guid CreatedBy, DateTimeOffset CreatedAt);

/// <summary>An incoming webhook as owners and admins see it (without its URL).</summary>
public sealed record IncomingWebhookInfo(Guid Id, Guid ConversationId, string Name, Guid CreatedBy, DateTimeOffset CreatedAt);

/// <summary>A message I saved for later, with its conversation and when I saved it.</summary>
public sealed record SavedMessage(Guid ConversationId, Message Message, DateTimeOffset SavedAt);

/// <summary>The message a forward was made from; opening it needs membership of its conversation.</summary>
public sealed record ForwardReference(Guid ConversationId, Guid MessageId);

/// <summary>A thread: its root, a page of replies (<see cref="Next"/> continues), whether I follow it and how far I read it.</summary>
public sealed record MessageThread(Message Root, IReadOnlyList<Message> Items, string? Next, bool Following, long ReadSeq);

/// <summary>A thread I follow (<see cref="Id"/> is its root's id), with my unread replies and those mentioning me.</summary>
public sealed record FollowedThread(
    Guid Id, Guid ConversationId, Message Root, int ReplyCount, DateTimeOffset? LastReplyAt, int UnreadCount, int MentionCount, long ReadSeq);

/// <summary>My read marker of a thread.</summary>
public sealed record ThreadRead(Guid Id, Guid ConversationId, bool Following, long ReadSeq);

/// <summary>A public channel in the directory, with whether I am a member of it.</summary>
public sealed record DirectoryChannel(Guid Id, string? Title, string? Topic, int MemberCount, DateTimeOffset CreatedAt, DateTimeOffset LastActivityAt, bool IsMember);

/// <summary>A member of a conversation: role, and the seq and time of joining.</summary>
public sealed record Member(Guid UserId, string Role, long JoinedSeq, DateTimeOffset JoinedAt);

/// <summary>
/// A message of mine waiting for its time: <see cref="State"/> is <c>pending</c>, then <c>sent</c> (<see cref="MessageId"/>)
/// or <c>failed</c> (<see cref="Error"/>: I could no longer post there).
/// </summary>
public sealed record ScheduledMessage(
    Guid Id, Guid ConversationId, string ClientMessageId, string Text, IReadOnlyList<Guid> Attachments, DateTimeOffset SendAt, string State,
    Guid? MessageId, string? Error, DateTimeOffset CreatedAt);

/// <summary>An invite link: <see cref="Url"/> (at the Gateway) holds <see cref="Token"/>.</summary>
public sealed record InviteLink(string Token, string Url, DateTimeOffset ExpiresAt, Guid ConversationId, string Id, int? MaxUses = null);

/// <summary>A live invite link as its conversation's owners and admins list it: its id (to revoke it), never the token.</summary>
public sealed record InviteLinkInfo(string Id, Guid ConversationId, Guid CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, int? MaxUses = null, int Uses = 0);

/// <summary>What an invite link leads to.</summary>
public sealed record InvitePreview(Guid ConversationId, string Kind, string? Title, string? Topic, int MemberCount, DateTimeOffset ExpiresAt);

/// <summary>A search result: the message, its conversation, and the parts of its text that matched.</summary>
public sealed record SearchHit(Guid ConversationId, Message Message, IReadOnlyList<SearchHighlight> Highlights);

/// <summary>A fragment of a message's text; <see cref="Matches"/> are the matched words, as UTF-16 ranges of <see cref="Text"/>.</summary>
public sealed record SearchHighlight(string Text, IReadOnlyList<HighlightRange> Matches);

/// <summary>A range of a text: <see cref="Length"/> characters from <see cref="Start"/>.</summary>
public sealed record HighlightRange(int Start, int Length);

/// <summary>A preview of a web page: on a message (attached by Media), or from <c>GET /link-previews</c> with the page's final URL.</summary>
public sealed record LinkPreview(
    string Url, string? Title, string? Description, string? ImageUrl, string? SiteName, string? FinalUrl = null, string? Type = null, DateTimeOffset? FetchedAt = null);

/// <summary>
/// An uploaded file. <see cref="ThumbnailUrl"/> (images and videos) needs the bearer token and redirects to a signed URL;
/// <see cref="BlurHash"/> is a placeholder to show meanwhile; <see cref="Waveform"/> (audio) holds 64 peak levels, 0-100;
/// <see cref="Animated"/>: an animated GIF or WebP kept animated (its thumbnail is a still).
/// </summary>
public sealed record MediaFile(
    Guid Id, string ContentType, long Size, int? Width, int? Height, long? DurationMs, string? ThumbnailUrl, string Status, string Kind,
    string? FileName, string? BlurHash, IReadOnlyList<int>? Waveform, DateTimeOffset CreatedAt, bool Animated = false);

/// <summary>A short-lived download URL that needs no token (for an &lt;img&gt;, a player, or a plain GET).</summary>
public sealed record SignedUrl(string Url, DateTimeOffset ExpiresAt);

/// <summary>A file with signed URLs of its bytes and thumbnails.</summary>
public sealed record MediaDetails(MediaFile Media, SignedUrl Download, SignedUrl? SmallThumbnail, SignedUrl? LargeThumbnail);

/// <summary>My receipt cursors in a conversation.</summary>
public sealed record Receipts(Guid ConversationId, long Delivered, long Read);

/// <summary>
/// One event of a conversation's log: <c>{conversationId, seq, type, occurredAt, actorId, data}</c>, the same from
/// the realtime stream and from <see cref="PlatformClient.GetEventsAsync"/>.
/// </summary>
public sealed record ConversationEvent(Guid ConversationId, long Seq, string Type, DateTimeOffset OccurredAt, Guid ActorId, JsonElement Data)
{
    /// <summary>For <c>message.posted</c>: the message; otherwise null.</summary>
    public Message? AsMessage() => Type == EventTypes.MessagePosted ? Data.Deserialize<Message>(PlatformJson.Options) : null;
}

/// <summary>Someone is typing in a conversation, until <see cref="ExpiresAt"/>.</summary>
public sealed record TypingNotice(Guid ConversationId, Guid UserId, DateTimeOffset ExpiresAt);

/// <summary>A member's receipt cursors moved: they have the conversation up to <see cref="Delivered"/> and read up to <see cref="Read"/>.</summary>
public sealed record ReceiptNotice(Guid ConversationId, Guid UserId, long? Delivered, long? Read);

/// <summary>The <c>type</c> values of conversation events.</summary>
public static class EventTypes
{
    /// <summary>The conversation was created; <c>data.members</c> lists its members.</summary>
    public const string ConversationCreated = "conversation.created";
    /// <summary>Title, topic, retention or slow mode changed.</summary>
    public const string ConversationUpdated = "conversation.updated";
    /// <summary>A member joined or was added.</summary>
    public const string MemberJoined = "member.joined";
    /// <summary>A member left or was removed.</summary>
    public const string MemberLeft = "member.left";
    /// <summary>A member's role changed.</summary>
    public const string MemberRoleChanged = "member.role-changed";
    /// <summary>A moderator banned a user (<c>data.userId</c>, <c>reason</c>, <c>until</c>); a banned member's <c>member.left</c> follows.</summary>
    public const string MemberBanned = "member.banned";
    /// <summary>A moderator lifted a ban.</summary>
    public const string MemberUnbanned = "member.unbanned";
    /// <summary>A moderator timed a member out until <c>data.until</c> (null: lifted).</summary>
    public const string MemberTimedOut = "member.timed-out";
    /// <summary>A message was sent; <c>data</c> is the message.</summary>
    public const string MessagePosted = "message.posted";
    /// <summary>A message's text changed.</summary>
    public const string MessageEdited = "message.edited";
    /// <summary>A message was deleted.</summary>
    public const string MessageDeleted = "message.deleted";
    /// <summary>A message was pinned (<c>data.messageId</c>, <c>pinnedBy</c>).</summary>
    public const string MessagePinned = "message.pinned";
    /// <summary>A message was unpinned.</summary>
    public const string MessageUnpinned = "message.unpinned";
    /// <summary>Someone reacted to a message.</summary>
    public const string ReactionAdded = "reaction.added";
    /// <summary>Someone took a reaction back.</summary>
    public const string ReactionRemoved = "reaction.removed";
    /// <summary>A call started: <c>data</c> is <c>{callId, kind, startedBy, startedAt, ringsUntil}</c>; the other members' clients ring.</summary>
    public const string CallStarted = "call.started";
    /// <summary>A call ended: <c>data</c> is <c>{callId, kind, reason, endedBy, participants, startedAt, answeredAt, endedAt, durationSeconds}</c>.</summary>
    public const string CallEnded = "call.ended";
    /// <summary>A preview of a URL in a message arrived; <c>data</c> is <c>{messageId, url, title, description, imageUrl, siteName}</c>.</summary>
    public const string LinkPreviewAttached = "link-preview.attached";
    /// <summary>Media processed files of a message; <c>data</c> is <c>{messageId, attachments}</c> with each file's details (<see cref="Attachment"/>).</summary>
    public const string MessageAttachmentsReady = "message.attachments-ready";
}

/// <summary>The JSON settings of the Platform API (camelCase).</summary>
public static class PlatformJson
{
    /// <summary>Web defaults.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>
/// A user's presence as I may see it: <c>status</c> is <c>online</c>, <c>offline</c> or <c>unknown</c> (users who share
/// no conversation or contact with me); <c>availability</c> (<c>available</c>, <c>away</c>, <c>dnd</c>) while online.
/// </summary>
public sealed record PresenceInfo(Guid UserId, string Status, string? Availability, DateTimeOffset? LastActiveAt, string? StatusText);

/// <summary>My own presence: what others see (<c>status</c>), what I set (<c>availability</c>, incl. <c>invisible</c>), my connected devices.</summary>
public sealed record MyPresence(Guid UserId, string Status, string Availability, string? StatusText, DateTimeOffset? StatusExpiresAt,
    DateTimeOffset? LastActiveAt, IReadOnlyList<PresenceDevice> Devices);

/// <summary>One of my connected devices: <c>web</c>, <c>mobile</c>, <c>desktop</c> or <c>other</c>, and since when.</summary>
public sealed record PresenceDevice(string DeviceKind, DateTimeOffset? ConnectedAt);

/// <summary>A conversation's members online now.</summary>
public sealed record Occupancy(Guid ConversationId, int Members, int Online, IReadOnlyList<PresenceInfo> Items);

/// <summary>
/// A call: <c>state</c> is <c>ringing</c> (only the caller is in), <c>active</c> or <c>ended</c>; <c>kind</c> is
/// <c>audio</c> or <c>video</c>; <c>endReason</c> is <c>completed</c>, <c>missed</c>, <c>declined</c> or <c>failed</c>.
/// <see cref="Joined"/> are in the call now, <see cref="Ringing"/> are invited and have not answered,
/// <see cref="Participants"/> everyone who was ever in it.
/// </summary>
public sealed record Call(
    Guid Id, Guid ConversationId, string Kind, string State, Guid StartedBy, DateTimeOffset StartedAt, DateTimeOffset RingsUntil,
    DateTimeOffset? AnsweredAt, DateTimeOffset? EndedAt, string? EndReason, long DurationSeconds,
    IReadOnlyList<Guid> Invited, IReadOnlyList<Guid> Joined, IReadOnlyList<Guid> Ringing, IReadOnlyList<Guid> Declined,
    IReadOnlyList<Guid> Participants, long StartedSeq, long? EndedSeq);

/// <summary>One STUN or TURN server, shaped as WebRTC's <c>RTCIceServer</c>; TURN servers carry time-limited credentials.</summary>
public sealed record IceServer(IReadOnlyList<string> Urls, string? Username, string? Credential);

/// <summary>The ICE servers for my calls; TURN credentials expire at <see cref="ExpiresAt"/> (ask again before).</summary>
/// <param name="Servers">As <c>RTCConfiguration.iceServers</c> (JSON <c>iceServers</c>).</param>
/// <param name="ExpiresAt">When the TURN credentials stop working.</param>
/// <param name="Ttl">Their lifetime in seconds.</param>
public sealed record IceServers(
    [property: System.Text.Json.Serialization.JsonPropertyName("iceServers")] IReadOnlyList<IceServer> Servers, DateTimeOffset? ExpiresAt, long? Ttl);

/// <summary>A WebRTC signal from another participant of a call (an SDP offer or answer, an ICE candidate): a JSON object or string.</summary>
public sealed record CallSignalNotice(Guid CallId, Guid FromUserId, JsonElement Payload);

/// <summary>An entry of my notification feed (also pushed live as <see cref="RealtimeStream.Notification"/>).</summary>
public sealed record NotificationItem(Guid Id, string Kind, Guid? ConversationId, long? Seq, Guid? MessageId, Guid? ActorId, string Title, string? Body,
    DateTimeOffset CreatedAt, bool Read);

/// <summary>A page of my notification feed, newest first, with how many are unread in all.</summary>
public sealed record NotificationPage(IReadOnlyList<NotificationItem> Items, string? Next, int UnreadCount);

/// <summary>A registered webhook and its secret, which is shown only here (and on rotation).</summary>
public sealed record WebhookCreated(Guid Id, string Secret);

/// <summary>The new secret; the old one keeps signing (a second <c>v1=</c>) until <paramref name="PreviousSecretExpiresAt"/>.</summary>
public sealed record WebhookSecretRotated(Guid Id, string Secret, DateTimeOffset PreviousSecretExpiresAt);

/// <summary>An outgoing webhook; <paramref name="Disabled"/> once a delivery failed for the whole retry period.</summary>
public sealed record Webhook(Guid Id, string Url, IReadOnlyList<string> Events, Guid? ConversationId, Guid OwnerId, DateTimeOffset CreatedAt,
    bool Disabled, DateTimeOffset? DisabledAt, string? DisabledReason);

/// <summary>One event's delivery to a webhook: <c>pending</c> (queued or being retried), <c>delivered</c> or <c>failed</c>.</summary>
public sealed record WebhookDelivery(string Id, Guid EventId, string Type, Guid ConversationId, long Seq, string Status, int Attempts, int? StatusCode,
    string? Error, DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);
