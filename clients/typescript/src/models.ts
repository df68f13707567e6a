import type { components as Identity } from "./generated/identity.js";
import type { components as Media } from "./generated/media.js";
import type { components as Messaging } from "./generated/messaging.js";
import type { components as Notifications } from "./generated/notifications.js";
import type { components as Presence } from "./generated/presence.js";

// The API's shapes, by the names Platform.Client uses, all from the generated types. What no OpenAPI document
// describes (the hub's payloads, an event's data) is typed by hand in handwritten.ts.

/** A page of a list: the items and the cursor of the next page (null on the last one). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export type Conversation = Messaging["schemas"]["ConversationDto"];
export type InboxRow = Messaging["schemas"]["InboxRow"];
export type JoinedConversation = Messaging["schemas"]["JoinedConversation"];
export type Member = Messaging["schemas"]["MemberDto"];
export type Message = Messaging["schemas"]["MessageDto"];
export type MessagePreview = Messaging["schemas"]["MessagePreview"];
export type Reaction = Messaging["schemas"]["ReactionDto"];
/** A file attached to a message: its id at once; type, size, dimensions, thumbnail, blurhash and `animated` once Media processed it. */
export type Attachment = Messaging["schemas"]["AttachmentDto"];
/** A message I saved, with its conversation and when I saved it. */
export type SavedMessage = Messaging["schemas"]["SavedMessageDto"];
export type Receipts = Messaging["schemas"]["ReceiptsDto"];
export type Call = Messaging["schemas"]["CallDto"];
/** A search result: the message, its conversation, and fragments of its text with the matched words as UTF-16 ranges. */
export type SearchHit = Messaging["schemas"]["SearchHit"];
export type SearchHighlight = Messaging["schemas"]["SearchHighlight"];
/** A thread: its root, a page of replies, whether I follow it and how far I read it. */
export type Thread = Messaging["schemas"]["ThreadDto"];
/** A thread I follow, with my unread and mention counts in it. */
export type FollowedThread = Messaging["schemas"]["ThreadRow"];
export type ThreadRead = Messaging["schemas"]["ThreadReadDto"];
/** A public channel in the directory, with whether I am a member. */
export type DirectoryChannel = Messaging["schemas"]["ChannelDirectoryRow"];
export type InviteLink = Messaging["schemas"]["InviteLinkDto"];
export type InviteLinkInfo = Messaging["schemas"]["InviteLinkInfo"];
export type InvitePreview = Messaging["schemas"]["InvitePreviewDto"];
/** A message of mine waiting for its time: `state` is `pending`, then `sent` (`messageId`) or `failed` (`error`). */
export type ScheduledMessage = Messaging["schemas"]["ScheduledMessageDto"];
export type MessageReport = Messaging["schemas"]["ReportDto"];
/** A bot's answer for one member only (hub `ephemeral`, and the answer to the bot's send). */
export type EphemeralMessage = Messaging["schemas"]["EphemeralMessageDto"];
/** A registered slash command with the secret that signs its deliveries (shown to the bot and admins at registration). */
export type RegisteredBotCommand = Messaging["schemas"]["RegisteredBotCommand"];
/** A slash command clients can offer: `/name`, its bot, what it does. */
export type BotCommandInfo = Messaging["schemas"]["BotCommandDto"];
/** A new incoming webhook: whoever holds `url` posts to the conversation (shown once). */
export type CreatedIncomingWebhook = Messaging["schemas"]["CreatedIncomingWebhook"];
export type IncomingWebhookInfo = Messaging["schemas"]["IncomingWebhookDto"];
export type IceServers = Messaging["schemas"]["IceServersResponse"];
/** One event of a conversation's log, as the log endpoint and the hub's `event` send it; `data` depends on `type`. */
export type EventEnvelope = Messaging["schemas"]["EventEnvelope"];

export type MyProfile = Identity["schemas"]["MyProfile"];
export type TwoFactorStatus = Identity["schemas"]["TwoFactorStatus"];
export type AuthenticatorSetup = Identity["schemas"]["AuthenticatorSetup"];
export type RecoveryCodeList = Identity["schemas"]["RecoveryCodeList"];
export type PublicProfile = Identity["schemas"]["PublicProfile"];
export type RegisterRequest = Identity["schemas"]["RegisterRequest"];
export type Contact = Identity["schemas"]["ContactView"];
export type ContactMatches = Identity["schemas"]["ImportContactsResponse"];
export type BlockedUser = Identity["schemas"]["BlockView"];
export type PrivacySettings = Identity["schemas"]["PrivacyView"];
export type Invite = Identity["schemas"]["InviteView"];
export type DataExport = Identity["schemas"]["ExportView"];
/** A new bot and its client credentials (the secret is shown once). */
export type CreatedBot = Identity["schemas"]["CreatedBot"];
export type BotInfo = Identity["schemas"]["BotView"];

export type PresenceInfo = Presence["schemas"]["PresenceView"];
export type MyPresence = Presence["schemas"]["OwnPresence"];
export type Occupancy = Presence["schemas"]["Occupancy"];

export type NotificationItem = Notifications["schemas"]["NotificationDto"];
export type NotificationPage = Notifications["schemas"]["FeedPage"];
export type NotificationPreferences = Notifications["schemas"]["PreferencesDto"];
export type PushSubscriptionInfo = Notifications["schemas"]["SubscriptionDto"];
export type Webhook = Notifications["schemas"]["WebhookDto"];
export type WebhookCreated = Notifications["schemas"]["WebhookCreated"];
export type WebhookSecretRotated = Notifications["schemas"]["WebhookSecretRotated"];
export type WebhookDelivery = Notifications["schemas"]["WebhookDeliveryDto"];

export type MediaFile = Media["schemas"]["MediaDto"];
export type MediaDetails = Media["schemas"]["MediaDetailsDto"];
export type LinkPreview = Media["schemas"]["LinkPreviewDto"];
