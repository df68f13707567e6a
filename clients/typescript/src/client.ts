import createClient, { type Client, type Middleware } from "openapi-fetch";
import { type AccessTokenFactory, PasswordTokenSource, withSlash } from "./auth.js";
import { backoffDelay, delay } from "./backoff.js";
import { isTransient, PlatformError } from "./errors.js";
import type { paths as IdentityPaths } from "./generated/identity.js";
import type { paths as MediaPaths } from "./generated/media.js";
import type { paths as MessagingPaths } from "./generated/messaging.js";
import type { paths as NotificationsPaths } from "./generated/notifications.js";
import type { paths as PresencePaths } from "./generated/presence.js";
import type { CommandAccepted, ConversationEvent } from "./handwritten.js";
import type {
  BlockedUser, Call, Conversation, IceServers, InboxRow, JoinedConversation, LinkPreview, MediaDetails, MediaFile, Message, MessageReport, MyPresence,
  DirectoryChannel, FollowedThread, InviteLink, InvitePreview, MyProfile, NotificationPage, Occupancy, Page, PresenceInfo, PrivacySettings, Receipts, TwoFactorStatus, AuthenticatorSetup, RecoveryCodeList,
  SavedMessage, SearchHit, Thread, ThreadRead, Contact, ContactMatches, Invite, InviteLinkInfo, NotificationPreferences, PushSubscriptionInfo, DataExport, Webhook, WebhookCreated, WebhookDelivery, WebhookSecretRotated,
  BotCommandInfo, BotInfo, CreatedBot, CreatedIncomingWebhook, EphemeralMessage, IncomingWebhookInfo, RegisteredBotCommand,
  Member, ScheduledMessage,
} from "./models.js";
import { Outbox, type OutboxStorage, randomId } from "./outbox.js";
import type { PositionStore } from "./positions.js";
import { RealtimeStream } from "./realtime.js";

/** Every public path of the API, as the services' OpenAPI documents describe them. */
export type PlatformPaths = IdentityPaths & MessagingPaths & PresencePaths & NotificationsPaths & MediaPaths;

export interface PlatformClientOptions {
  /** The Gateway's URL, e.g. `https://chat.example.com/`. */
  gatewayUrl: string | URL;
  /** Sign in with the password grant of `platform-cli` (scripts, Node); refreshed automatically. */
  username?: string;
  password?: string;
  /** Default `platform-cli`. */
  clientId?: string;
  /** Default `openid profile email offline_access api`. */
  scope?: string;
  /** Instead of signing in: a source of access tokens (a browser's `BrowserSignIn.accessTokenFactory`, your own). */
  accessTokenFactory?: AccessTokenFactory;
  /** How many times {@link PlatformClient.sendMessage} retries a send that failed on the way (same `clientMessageId`); default 5. */
  sendRetries?: number;
  /** The longest wait between reconnect attempts, in ms (default 10 000). */
  maxReconnectDelayMs?: number;
  /** Send delivered receipts (hub `Ack`, together, 500 ms after the first not yet sent) for events the stream hands out; default true. */
  acknowledgeDeliveries?: boolean;
  /** Where the stream keeps each conversation's position; default in memory (`WebStoragePositionStore` for browsers). */
  positionStore?: PositionStore;
  /** Where the outbox keeps messages not sent yet; default in memory (`WebStorageOutboxStorage` for browsers). */
  outboxStorage?: OutboxStorage;
  /** Whether the device is online (default `navigator.onLine` where there is one); see {@link PlatformClient.outbox}. */
  isOnline?: () => boolean;
  /** What this device is, as Presence lists it: `web`, `mobile`, `desktop` or `other` (default). */
  deviceKind?: "web" | "mobile" | "desktop" | "other";
  /** For tests and proxies: the fetch under the SDK's HTTP calls. */
  fetch?: typeof fetch;
}

export interface SearchMessagesQuery {
  /** Only this conversation (404 if I am not a member). */
  conversationId?: string;
  /** Only messages this user sent. */
  senderId?: string;
  /** Only messages sent after / before these ISO 8601 times. */
  after?: string;
  before?: string;
  /** The previous page's `next`. */
  cursor?: string;
  /** Page size, default 20, at most 100. */
  limit?: number;
}

export interface UploadOptions {
  /** Bytes per request; default 1 MiB. */
  chunkSize?: number;
  /** Called with the bytes Media has received so far and the file's size, after each chunk. */
  onProgress?: (sent: number, total: number) => void;
  /** How many times a failing chunk is tried again before the upload gives up; default 5. */
  retries?: number;
  signal?: AbortSignal;
}

export interface SendMessageOptions {
  replyTo?: string;
  attachments?: string[];
  /** Fixed by the caller to make a send idempotent across its own retries; default a new random id. */
  clientMessageId?: string;
  signal?: AbortSignal;
}

/**
 * The Platform's TypeScript client: typed calls to the Gateway's API, an outbox for messages composed offline, and,
 * through {@link realtime}, an ordered stream of conversation events that survives reconnects. Mirrors the .NET
 * `Platform.Client`.
 */
export class PlatformClient {
  /** Every path of the API, typed from the OpenAPI documents (openapi-fetch), with the token added and errors thrown as {@link PlatformError}. */
  readonly api: Client<PlatformPaths>;
  /** Messages queued with {@link queueMessage}: sent once each, in order, when online. */
  readonly outbox: Outbox<Message>;
  readonly options: PlatformClientOptions;
  readonly #gateway: string;
  readonly #tokens: AccessTokenFactory;
  readonly #fetch: typeof fetch;
  #realtime: RealtimeStream | undefined;

  constructor(options: PlatformClientOptions) {
    this.options = options;
    this.#gateway = withSlash(options.gatewayUrl);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    if (options.accessTokenFactory) this.#tokens = options.accessTokenFactory;
    else if (options.username !== undefined && options.password !== undefined) {
      this.#tokens = new PasswordTokenSource({
        gatewayUrl: this.#gateway, username: options.username, password: options.password,
        ...(options.clientId ? { clientId: options.clientId } : {}), ...(options.scope ? { scope: options.scope } : {}),
        fetch: this.#fetch,
      }).getAccessToken;
    } else throw new Error("Set username and password, or an accessTokenFactory.");

    this.api = createClient<PlatformPaths>({ baseUrl: this.#gateway.replace(/\/$/, ""), fetch: (request) => this.#fetch(request) });
    const tokens = this.#tokens;
    const auth: Middleware = {
      async onRequest({ request }) {
        request.headers.set("authorization", `Bearer ${await tokens()}`);
        return request;
      },
      async onResponse({ response }) {
        if (!response.ok) throw await PlatformError.fromResponse(response);
        return undefined;
      },
    };
    this.api.use(auth);

    const navigatorOnline = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    const isOnline = options.isOnline ?? (typeof navigatorOnline?.onLine === "boolean" ? () => navigatorOnline.onLine !== false : undefined);
    this.outbox = new Outbox<Message>({
      send: (entry) => this.#sendOnce(entry.conversationId, { text: entry.text, clientMessageId: entry.clientMessageId, replyTo: entry.replyTo ?? null, attachments: entry.attachments ?? null }),
      ...(options.outboxStorage ? { storage: options.outboxStorage } : {}),
      ...(isOnline ? { isOnline } : {}),
    });
    const events = globalThis as { addEventListener?: (name: string, listener: () => void) => void };
    // Browsers say when they are back online: send what waits at once.
    events.addEventListener?.("online", () => void this.outbox.online());
  }

  /** A current access token (signing in or refreshing as needed). */
  getAccessToken(): Promise<string> {
    return Promise.resolve(this.#tokens());
  }

  /** The realtime stream (created on first use; call {@link RealtimeStream.start}). */
  get realtime(): RealtimeStream {
    return (this.#realtime ??= new RealtimeStream(this));
  }

  /** The Gateway's URL, ending with a slash. */
  get gatewayUrl(): string {
    return this.#gateway;
  }

  /** My profile. */
  async getMe(): Promise<MyProfile> {
    return data(await this.api.GET("/api/v1/users/me"));
  }

  /** Sends a verification code to my email or phone; at most one a minute (a 429 {@link PlatformError} says when to retry). */
  async requestVerification(channel: "email" | "phone"): Promise<void> {
    await this.api.POST("/api/v1/users/me/verification", { body: { channel } });
  }

  /** Verifies my email or phone with the code sent to it; the address is then mine alone (other accounts holding it lose it). */
  async confirmVerification(channel: "email" | "phone", code: string): Promise<void> {
    await this.api.POST("/api/v1/users/me/verification/confirm", { body: { channel, code } });
  }

  /** Whether two-factor sign-in is on, and how many recovery codes are left. */
  async getTwoFactor(): Promise<TwoFactorStatus> {
    return data(await this.api.GET("/api/v1/users/me/two-factor"));
  }

  /** A new authenticator key (while two-factor sign-in is off): `sharedKey` to type in, `authenticatorUri` for a QR code. */
  async setUpAuthenticator(): Promise<AuthenticatorSetup> {
    return data(await this.api.POST("/api/v1/users/me/two-factor/authenticator"));
  }

  /** Turns two-factor sign-in on with the authenticator's current code; answers 10 recovery codes to keep. */
  async enableTwoFactor(code: string): Promise<RecoveryCodeList> {
    return data(await this.api.POST("/api/v1/users/me/two-factor/enable", { body: { code } }));
  }

  /** Turns two-factor sign-in off (the authenticator and the recovery codes stop working). */
  async disableTwoFactor(password: string): Promise<void> {
    await this.api.POST("/api/v1/users/me/two-factor/disable", { body: { password } });
  }

  /** 10 new recovery codes; the earlier ones stop working. */
  async newRecoveryCodes(password: string): Promise<RecoveryCodeList> {
    return data(await this.api.POST("/api/v1/users/me/two-factor/recovery-codes", { body: { password } }));
  }

  /**
   * Deletes my account, confirmed with my password: Identity erases it at once and every service erases what it holds of
   * me within seconds (my messages stay as deleted messages). Every token of mine is refused from then on. A wrong password
   * rejects with a `PlatformError` of status 403 (429 after too many).
   */
  async deleteAccount(password: string): Promise<void> {
    await this.api.DELETE("/api/v1/users/me", { body: { password } });
  }

  /**
   * Asks for an export of my data (a ZIP with JSON from every service and my uploaded files), built in the background;
   * resolves its id. One at a time (409 while one is pending), a few per hour (429).
   */
  async requestExport(): Promise<string> {
    return data(await this.api.POST("/api/v1/users/me/exports")).id;
  }

  /** An export's status; once ready, `downloadExport` fetches it until it expires. */
  async getExport(exportId: string): Promise<DataExport> {
    return data(await this.api.GET("/api/v1/users/me/exports/{id}", { params: { path: { id: exportId } } }));
  }

  /** A ready export's ZIP archive. */
  async downloadExport(exportId: string): Promise<Blob> {
    return data(await this.api.GET("/api/v1/users/me/exports/{id}/archive", { params: { path: { id: exportId } }, parseAs: "blob" })) as Blob;
  }

  /** The users I blocked. */
  async getBlocks(cursor?: string, limit = 50): Promise<Page<BlockedUser>> {
    return data(await this.api.GET("/api/v1/users/me/blocks", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** Blocks a user: no direct messages, adds, calls, presence or typing between us, either way. */
  async blockUser(userId: string): Promise<BlockedUser> {
    return data(await this.api.PUT("/api/v1/users/me/blocks/{userId}", { params: { path: { userId } } }));
  }

  /** Lifts my block of a user (nothing happens if there was none). */
  async unblockUser(userId: string): Promise<void> {
    await this.api.DELETE("/api/v1/users/me/blocks/{userId}", { params: { path: { userId } } });
  }

  /** My privacy settings. */
  async getPrivacy(): Promise<PrivacySettings> {
    return data(await this.api.GET("/api/v1/users/me/privacy"));
  }

  /**
   * Changes some of my privacy settings (what is left out stays): who sees my presence (`lastSeen`), whether others see
   * my read positions (`readReceipts`), who may add me to groups (`whoCanAdd`).
   */
  async setPrivacy(settings: { lastSeen?: "everyone" | "contacts" | "nobody"; readReceipts?: boolean; whoCanAdd?: "everyone" | "contacts" }): Promise<PrivacySettings> {
    return data(await this.api.PUT("/api/v1/users/me/privacy", {
      body: { lastSeen: settings.lastSeen ?? null, readReceipts: settings.readReceipts ?? null, whoCanAdd: settings.whoCanAdd ?? null },
    }));
  }

  /** Creates a conversation: `kind` is direct, group or channel. */
  async createConversation(kind: "direct" | "group" | "channel", memberIds: string[], title?: string): Promise<Conversation> {
    return data(await this.api.POST("/api/v1/conversations", {
      body: { kind, memberIds, title: title ?? null, topic: null, isPublic: null, retentionDays: null },
    }));
  }

  /** The inbox: my conversations, newest activity first. */
  async getInbox(cursor?: string, limit = 50): Promise<Page<InboxRow>> {
    return data(await this.api.GET("/api/v1/conversations", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** One conversation I am a member of. */
  async getConversation(conversationId: string): Promise<Conversation> {
    return data(await this.api.GET("/api/v1/conversations/{id}", { params: { path: { id: conversationId } } }));
  }

  /** The ids and last seqs of all my conversations. */
  async getJoined(): Promise<JoinedConversation[]> {
    const all: JoinedConversation[] = [];
    let after: string | undefined;
    do {
      const page: Page<JoinedConversation> = data(await this.api.GET("/api/v1/conversations/joined", {
        params: { query: { limit: 1000, ...(after ? { after } : {}) } as never },
      }));
      all.push(...page.items);
      after = page.next ?? undefined;
    } while (after);
    return all;
  }

  /** Adds members (owners and admins), or joins a public channel with my own id. */
  async addMembers(conversationId: string, userIds: string[]): Promise<Conversation> {
    return data(await this.api.POST("/api/v1/conversations/{id}/members", { params: { path: { id: conversationId } }, body: { userIds, role: null } }));
  }

  /** Accepts a message request (an inbox row with `state: "requested"`): the sender sees my presence and receipts from now on. */
  async acceptRequest(conversationId: string): Promise<void> {
    await this.api.POST("/api/v1/conversations/{id}/accept", { params: { path: { id: conversationId } } });
  }

  /** Declines a message request: I leave the conversation, and it takes no more messages. */
  async declineRequest(conversationId: string): Promise<void> {
    await this.api.POST("/api/v1/conversations/{id}/decline", { params: { path: { id: conversationId } } });
  }

  /** Leaves a conversation of any kind (a direct one takes no more messages until I open it again). */
  async leaveConversation(conversationId: string): Promise<void> {
    await this.api.POST("/api/v1/conversations/{id}/leave", { params: { path: { id: conversationId } } });
  }

  /** Reports a message to the conversation's moderators and the platform admins (reporting it again answers the first report). */
  async reportMessage(conversationId: string, messageId: string, reason: string): Promise<MessageReport> {
    return data(await this.api.POST("/api/v1/conversations/{id}/messages/{messageId}/reports", {
      params: { path: { id: conversationId, messageId } }, body: { reason },
    }));
  }

  /** The review queue: reports in conversations I moderate (all of them for platform admins), oldest first. */
  async getReports(status?: "open" | "resolved", after?: string, limit = 50): Promise<Page<MessageReport>> {
    return data(await this.api.GET("/api/v1/moderation/reports", {
      params: { query: { limit, ...(status ? { status } : {}), ...(after ? { after } : {}) } },
    }));
  }

  /** Closes a report, with an optional note of what was done. */
  async resolveReport(reportId: string, resolution?: string): Promise<MessageReport> {
    return data(await this.api.POST("/api/v1/moderation/reports/{reportId}/resolve", {
      params: { path: { reportId } }, body: { resolution: resolution ?? null },
    }));
  }

  /** Removes a member, or leaves when it is my own id. */
  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/members/{userId}", { params: { path: { id: conversationId, userId } } });
  }

  /**
   * Sends a message. Failures on the way (network, 408, 429, 5xx) are retried with the same `clientMessageId`, so a
   * retry never makes a second message. To send from a device that may be offline, use {@link queueMessage}.
   */
  async sendMessage(conversationId: string, text: string, options: SendMessageOptions = {}): Promise<Message> {
    const body = { clientMessageId: options.clientMessageId ?? randomId(), text, replyTo: options.replyTo ?? null, attachments: options.attachments ?? null };
    const retries = this.options.sendRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendOnce(conversationId, body, options.signal);
      } catch (error) {
        if (attempt >= retries || !isTransient(error) || options.signal?.aborted) throw error;
        const retryAfter = error instanceof PlatformError && error.retryAfter !== undefined ? error.retryAfter * 1000 : 0;
        await delay(Math.max(retryAfter, backoffDelay(attempt, 5000)), options.signal);
      }
    }
  }

  /**
   * Queues a message in the {@link outbox}: sent as soon as possible, once, after every message queued before it;
   * kept while offline. Answers its `clientMessageId` and a promise of the sent message.
   */
  queueMessage(conversationId: string, text: string, options: Omit<SendMessageOptions, "signal"> = {}): { clientMessageId: string; sent: Promise<Message> } {
    return this.outbox.enqueue(conversationId, text, options);
  }

  async #sendOnce(
    conversationId: string,
    body: { clientMessageId: string; text: string; replyTo: string | null; attachments: string[] | null },
    signal?: AbortSignal,
  ): Promise<Message> {
    // A person's send answers the message (201); the 202 shapes are a slash command's and a bot's ephemeral answer (sendText, sendEphemeral).
    return data(await this.api.POST("/api/v1/conversations/{id}/messages", {
      params: { path: { id: conversationId } },
      body,
      ...(signal ? { signal } : {}),
    })) as Message;
  }

  /**
   * Forwards a message I can read into a conversation: the forward carries its text (or `text` instead) and attachments,
   * and `forwardedFrom`, a reference only the origin's members can open. Retried like {@link sendMessage}.
   */
  async forwardMessage(conversationId: string, from: { conversationId: string; messageId: string }, text?: string, clientMessageId?: string): Promise<Message> {
    const body = { clientMessageId: clientMessageId ?? randomId(), text: text ?? null, replyTo: null, attachments: null, forwardedFrom: from };
    const retries = this.options.sendRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        return data(await this.api.POST("/api/v1/conversations/{id}/messages", { params: { path: { id: conversationId } }, body })) as Message;
      } catch (error) {
        if (attempt >= retries || !isTransient(error)) throw error;
        const retryAfter = error instanceof PlatformError && error.retryAfter !== undefined ? error.retryAfter * 1000 : 0;
        await delay(Math.max(retryAfter, backoffDelay(attempt, 5000)));
      }
    }
  }

  /**
   * Sends a text that may be a slash command: `/name` of a bot in the conversation goes to the bot (`command`; its answer
   * comes later, perhaps as the realtime stream's `ephemeral`), any other text is posted (`message`). Not retried.
   */
  async sendText(conversationId: string, text: string, clientMessageId?: string): Promise<{ message?: Message; command?: CommandAccepted }> {
    const answer: unknown = data(await this.api.POST("/api/v1/conversations/{id}/messages", {
      params: { path: { id: conversationId } },
      body: { clientMessageId: clientMessageId ?? randomId(), text, replyTo: null, attachments: null },
    }));
    return typeof answer === "object" && answer !== null && "responseId" in answer && "command" in answer
      ? { command: answer as CommandAccepted }
      : { message: answer as Message };
  }

  /** As a bot: answers one member only (the caller of command `responseId`, or `to`), live on their connections; not in the log. */
  async sendEphemeral(conversationId: string, text: string, target: { responseId?: string; to?: string }): Promise<EphemeralMessage> {
    const answer: unknown = data(await this.api.POST("/api/v1/conversations/{id}/messages", {
      params: { path: { id: conversationId } },
      body: { text, ephemeral: true, responseId: target.responseId ?? null, ephemeralTo: target.to ?? null, clientMessageId: null, replyTo: null, attachments: null },
    }));
    return answer as EphemeralMessage;
  }

  /** Platform admins: creates a bot user and its client credentials (the secret is shown only now). */
  async createBot(displayName: string, username: string): Promise<CreatedBot> {
    return data(await this.api.POST("/api/v1/bots", { body: { displayName, username } }));
  }

  /** Platform admins: every bot. */
  async getBots(): Promise<Page<BotInfo>> {
    return data(await this.api.GET("/api/v1/bots"));
  }

  /** Platform admins: disables a bot and removes its client credentials. */
  async deleteBot(botId: string): Promise<void> {
    await this.api.DELETE("/api/v1/bots/{userId}", { params: { path: { userId: botId } } });
  }

  /** The bot itself or a platform admin: registers (or replaces) `/name`; commands are POSTed to `url`, signed with the answer's secret. */
  async registerBotCommand(botId: string, name: string, description: string, url: string): Promise<RegisteredBotCommand> {
    return data(await this.api.POST("/api/v1/bots/{userId}/commands", { params: { path: { userId: botId } }, body: { name, description, url } }));
  }

  /** A bot's slash commands. */
  async getBotCommands(botId: string): Promise<Page<BotCommandInfo>> {
    return data(await this.api.GET("/api/v1/bots/{userId}/commands", { params: { path: { userId: botId } } }));
  }

  /** The bot itself or a platform admin: removes a slash command. */
  async deleteBotCommand(botId: string, name: string): Promise<void> {
    await this.api.DELETE("/api/v1/bots/{userId}/commands/{name}", { params: { path: { userId: botId, name } } });
  }

  /** The slash commands of the conversation's bots, to offer as the user types `/`. */
  async getConversationCommands(conversationId: string): Promise<Page<BotCommandInfo>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/commands", { params: { path: { id: conversationId } } }));
  }

  /** Owners and admins of a group or channel: a secret URL that posts messages as `name` (shown only now). */
  async createIncomingWebhook(conversationId: string, name?: string): Promise<CreatedIncomingWebhook> {
    return data(await this.api.POST("/api/v1/conversations/{id}/incoming-webhooks", { params: { path: { id: conversationId } }, body: { name: name ?? null } }));
  }

  /** Owners and admins: the conversation's incoming webhooks (without their URLs). */
  async getIncomingWebhooks(conversationId: string): Promise<Page<IncomingWebhookInfo>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/incoming-webhooks", { params: { path: { id: conversationId } } }));
  }

  /** Owners and admins: deletes an incoming webhook; its URL stops working at once. */
  async deleteIncomingWebhook(conversationId: string, webhookId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/incoming-webhooks/{webhookId}", { params: { path: { id: conversationId, webhookId } } });
  }

  /** History in seq order: the newest page, or the page before `before` / after `after`. */
  async getMessages(conversationId: string, query: { before?: number; after?: number; limit?: number } = {}): Promise<Page<Message>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/messages", { params: { path: { id: conversationId }, query: { limit: 50, ...query } } }));
  }

  /** One message of a conversation I am in (for instance a search hit's, to open the conversation at it). */
  async getMessage(conversationId: string, messageId: string): Promise<Message> {
    return data(await this.api.GET("/api/v1/conversations/{id}/messages/{messageId}", { params: { path: { id: conversationId, messageId } } }));
  }

  /** Pins a message to its conversation (live as `message.pinned`). */
  async pinMessage(conversationId: string, messageId: string): Promise<void> {
    await this.api.PUT("/api/v1/conversations/{id}/pins/{messageId}", { params: { path: { id: conversationId, messageId } } });
  }

  /** Unpins a message (live as `message.unpinned`). */
  async unpinMessage(conversationId: string, messageId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/pins/{messageId}", { params: { path: { id: conversationId, messageId } } });
  }

  /** The conversation's pinned messages, newest pin first. */
  async getPins(conversationId: string): Promise<Page<Message>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/pins", { params: { path: { id: conversationId } } }));
  }

  /** Saves a message for later (only I see my saved messages). */
  async saveMessage(messageId: string): Promise<SavedMessage> {
    return data(await this.api.PUT("/api/v1/saved-messages/{messageId}", { params: { path: { messageId } } }));
  }

  /** Forgets a saved message. */
  async unsaveMessage(messageId: string): Promise<void> {
    await this.api.DELETE("/api/v1/saved-messages/{messageId}", { params: { path: { messageId } } });
  }

  /** My saved messages, newest saved first. */
  async getSavedMessages(cursor?: string, limit = 50): Promise<Page<SavedMessage>> {
    return data(await this.api.GET("/api/v1/saved-messages", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** Marks the conversation unread from `fromSeq` on: moves only my read marker back (never the delivered one). */
  async markUnread(conversationId: string, fromSeq: number): Promise<Receipts> {
    return data(await this.api.POST("/api/v1/conversations/{id}/unread", { params: { path: { id: conversationId } }, body: { fromSeq } }));
  }

  /**
   * Time travel: the messages as they were at `asOf` (an ISO time) or `asOfSeq` (edits, reactions, replies and deletes up
   * to then; text erased since stays erased), paged like {@link getMessages}.
   */
  async getMessagesAsOf(conversationId: string, point: { asOf?: string; asOfSeq?: number },
    query: { before?: number; after?: number; limit?: number } = {}): Promise<Page<Message>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/messages", { params: { path: { id: conversationId }, query: { limit: 50, ...query, ...point } } }));
  }

  /** Time travel: the conversation's last seq at or before `at` (an ISO time), as far as I may see its log (0 before its first event). */
  async getSeqAt(conversationId: string, at: string): Promise<number> {
    return data(await this.api.GET("/api/v1/conversations/{id}/seq", { params: { path: { id: conversationId }, query: { at } } })).seq;
  }

  /** The conversation's members by user id (`after` continues); with `asOf` or `asOfSeq`, as they were then. */
  async getMembers(conversationId: string, query: { after?: string; limit?: number; asOf?: string; asOfSeq?: number } = {}): Promise<Page<Member>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/members", { params: { path: { id: conversationId }, query: { limit: 50, ...query } } }));
  }

  /**
   * Schedules a message to be sent at `sendAt` (an ISO time, at most a year ahead) through the normal send path then;
   * if I can no longer post there it is marked failed. The same `clientMessageId` twice schedules once.
   */
  async scheduleMessage(conversationId: string, message: { clientMessageId: string; text: string; sendAt: string; attachments?: string[] }): Promise<ScheduledMessage> {
    return data(await this.api.POST("/api/v1/conversations/{id}/scheduled-messages", {
      params: { path: { id: conversationId } },
      body: { clientMessageId: message.clientMessageId, text: message.text, sendAt: message.sendAt, attachments: message.attachments ?? null },
    }));
  }

  /** My scheduled messages of the conversation not yet sent (pending or failed), soonest first. */
  async getScheduledMessages(conversationId: string): Promise<Page<ScheduledMessage>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/scheduled-messages", { params: { path: { id: conversationId } } }));
  }

  /** Changes a pending scheduled message's text, time or both (409 once sent or failed). */
  async updateScheduledMessage(conversationId: string, scheduledId: string, change: { text?: string; sendAt?: string }): Promise<ScheduledMessage> {
    return data(await this.api.PATCH("/api/v1/conversations/{id}/scheduled-messages/{scheduledId}", {
      params: { path: { id: conversationId, scheduledId } },
      body: { text: change.text ?? null, sendAt: change.sendAt ?? null },
    }));
  }

  /** Cancels a pending scheduled message, or dismisses a failed one. */
  async cancelScheduledMessage(conversationId: string, scheduledId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/scheduled-messages/{scheduledId}", { params: { path: { id: conversationId, scheduledId } } });
  }

  /** Edits my message. */
  async editMessage(conversationId: string, messageId: string, text: string): Promise<Message> {
    return data(await this.api.PATCH("/api/v1/conversations/{id}/messages/{messageId}", { params: { path: { id: conversationId, messageId } }, body: { text } }));
  }

  /** Deletes a message (mine, or any as an admin). */
  async deleteMessage(conversationId: string, messageId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/messages/{messageId}", { params: { path: { id: conversationId, messageId } } });
  }

  /** Adds my reaction. */
  async addReaction(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return data(await this.api.PUT("/api/v1/conversations/{id}/messages/{messageId}/reactions/{emoji}", { params: { path: { id: conversationId, messageId, emoji } } }));
  }

  /** Takes my reaction back. */
  async removeReaction(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return data(await this.api.DELETE("/api/v1/conversations/{id}/messages/{messageId}/reactions/{emoji}", { params: { path: { id: conversationId, messageId, emoji } } }));
  }

  /** Moves my delivered and/or read cursors forward. */
  async sendReceipts(conversationId: string, receipts: { delivered?: number; read?: number }): Promise<Receipts> {
    return data(await this.api.POST("/api/v1/conversations/{id}/receipts", {
      params: { path: { id: conversationId } }, body: { delivered: receipts.delivered ?? null, read: receipts.read ?? null },
    }));
  }

  /** The log after `after`, in order. */
  async getEvents(conversationId: string, after: number, limit = 500, signal?: AbortSignal): Promise<Page<ConversationEvent>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/events", { params: { path: { id: conversationId }, query: { after, limit } }, ...(signal ? { signal } : {}) }));
  }

  /**
   * Full-text search over the messages of my conversations, best match first: words are matched stemmed (English) and
   * as written; `"a phrase"`, `or` and `-word` work as in web search engines.
   */
  async searchMessages(q: string, query: SearchMessagesQuery = {}): Promise<Page<SearchHit>> {
    return data(await this.api.GET("/api/v1/search/messages", { params: { query: { q, ...query } } }));
  }

  /** A thread: its root and replies in seq order after `after` (a reply's id shows its root's thread). */
  async getThread(conversationId: string, messageId: string, query: { after?: number; limit?: number } = {}): Promise<Thread> {
    return data(await this.api.GET("/api/v1/conversations/{id}/messages/{messageId}/thread", {
      params: { path: { id: conversationId, messageId }, query },
    }));
  }

  /** Follows a thread (what it holds now counts as read); replying in a thread follows it too. */
  async followThread(conversationId: string, messageId: string): Promise<void> {
    await this.api.PUT("/api/v1/conversations/{id}/messages/{messageId}/follow", { params: { path: { id: conversationId, messageId } } });
  }

  /** Stops following a thread (being its root's author does not follow it again; replying does). */
  async unfollowThread(conversationId: string, messageId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/messages/{messageId}/follow", { params: { path: { id: conversationId, messageId } } });
  }

  /** Moves my read marker of a thread forward: to `seq`, or to its end. */
  async markThreadRead(conversationId: string, messageId: string, seq?: number): Promise<ThreadRead> {
    return data(await this.api.POST("/api/v1/conversations/{id}/messages/{messageId}/thread/read", {
      params: { path: { id: conversationId, messageId } }, body: { seq: seq ?? null },
    }));
  }

  /** The threads I follow, newest reply first, with my unread and mention counts in each. */
  async getFollowedThreads(cursor?: string, limit = 50): Promise<Page<FollowedThread>> {
    return data(await this.api.GET("/api/v1/threads", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** The public channels, newest first; `q` matches their title or topic. Join one with {@link addMembers} and my own id. */
  async getPublicChannels(q?: string, cursor?: string, limit = 50): Promise<Page<DirectoryChannel>> {
    return data(await this.api.GET("/api/v1/channels", { params: { query: { limit, ...(q ? { q } : {}), ...(cursor ? { cursor } : {}) } } }));
  }

  /** Makes an invite link to a group or channel I own or administer (default: valid 7 days, at most 30); with `maxUses`, it admits that many new members and no more. */
  async createInviteLink(conversationId: string, expiresAt?: string, maxUses?: number): Promise<InviteLink> {
    return data(await this.api.POST("/api/v1/conversations/{id}/invite-links", {
      params: { path: { id: conversationId } },
      body: { expiresAt: expiresAt ?? null, maxUses: maxUses ?? null },
    }));
  }

  /** What an invite link leads to. */
  async getInviteLink(token: string): Promise<InvitePreview> {
    return data(await this.api.GET("/api/v1/invite-links/{token}", { params: { path: { token } } }));
  }

  /** The conversation's unexpired invite links, newest first (owners and admins); ids only, never tokens. */
  async getInviteLinks(conversationId: string): Promise<Page<InviteLinkInfo>> {
    return data(await this.api.GET("/api/v1/conversations/{id}/invite-links", { params: { path: { id: conversationId } } }));
  }

  /** Revokes an invite link by its id: nobody joins with it any more (owners and admins). */
  async revokeInviteLink(conversationId: string, linkId: string): Promise<void> {
    await this.api.DELETE("/api/v1/conversations/{id}/invite-links/{linkId}", { params: { path: { id: conversationId, linkId } } });
  }

  /** Joins the conversation an invite link leads to, as a member. */
  async joinByInviteLink(token: string): Promise<Conversation> {
    return data(await this.api.POST("/api/v1/invite-links/{token}/join", { params: { path: { token } } }));
  }

  /** The presence of up to 500 users, as I may see them (`unknown` for users I share nothing with). */
  async getPresence(userIds: string[]): Promise<PresenceInfo[]> {
    return data(await this.api.POST("/api/v1/presence/query", { body: { userIds } })).items;
  }

  /** My presence: what others see, what I set, my connected devices. */
  async getMyPresence(): Promise<MyPresence> {
    return data(await this.api.GET("/api/v1/presence/me"));
  }

  /** Sets my status: `available`, `away`, `dnd` or `invisible`, until `expiresAt`. */
  async setStatus(status: string, statusText?: string, expiresAt?: string): Promise<MyPresence> {
    return data(await this.api.PUT("/api/v1/presence/me", { body: { status, statusText: statusText ?? null, expiresAt: expiresAt ?? null } }));
  }

  /** The members of a conversation of mine who are online now. */
  async getOccupancy(conversationId: string): Promise<Occupancy> {
    return data(await this.api.GET("/api/v1/conversations/{conversationId}/occupancy", { params: { path: { conversationId } } }));
  }

  /** Starts an `audio` or `video` call (or answers the one ringing in the conversation). */
  async startCall(conversationId: string, kind: "audio" | "video"): Promise<Call> {
    return data(await this.api.POST("/api/v1/conversations/{id}/calls", { params: { path: { id: conversationId } }, body: { kind } }));
  }

  async getCall(callId: string): Promise<Call> {
    return data(await this.api.GET("/api/v1/calls/{id}", { params: { path: { id: callId } } }));
  }

  async joinCall(callId: string): Promise<Call> {
    return data(await this.api.POST("/api/v1/calls/{id}/join", { params: { path: { id: callId } } }));
  }

  async leaveCall(callId: string): Promise<Call> {
    return data(await this.api.POST("/api/v1/calls/{id}/leave", { params: { path: { id: callId } } }));
  }

  async declineCall(callId: string): Promise<Call> {
    return data(await this.api.POST("/api/v1/calls/{id}/decline", { params: { path: { id: callId } } }));
  }

  /** Ends the call for everyone; `failed` records that the connection could not be set up. */
  async endCall(callId: string, failed = false): Promise<Call> {
    return data(await this.api.POST("/api/v1/calls/{id}/end", { params: { path: { id: callId } }, ...(failed ? { body: { reason: "failed" } as never } : {}) }));
  }

  /** The STUN and TURN servers for calls, with TURN credentials valid for a limited time. */
  async getIceServers(): Promise<IceServers> {
    return data(await this.api.GET("/api/v1/calls/ice-servers"));
  }

  /** My notification feed, newest first. */
  async getNotifications(cursor?: string, limit = 30): Promise<NotificationPage> {
    return data(await this.api.GET("/api/v1/notifications", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** Uploads a file (multipart `file`; its type comes from its bytes). Attach it by passing its id to {@link sendMessage}. */
  async uploadMedia(file: Blob, fileName: string): Promise<MediaFile> {
    const form = new FormData();
    form.append("file", file, fileName);
    // The body is not in Media's OpenAPI document (multipart): sent as the form it is.
    return data(await this.api.POST("/api/v1/media", { body: form as never, bodySerializer: (body: unknown) => body as FormData }));
  }

  /**
   * Uploads a file as a resumable upload (`POST /api/v1/media/uploads`, then `PATCH` chunks with `Upload-Offset`),
   * reporting progress after each chunk. A chunk that fails on the way is sent again from the offset Media recorded,
   * so a flaky network costs at most one chunk. Works in browsers and Node (no XMLHttpRequest needed).
   */
  async uploadMediaResumable(file: Blob, fileName: string, options: UploadOptions = {}): Promise<MediaFile> {
    const chunkSize = options.chunkSize ?? 1024 * 1024;
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive.");
    const retries = options.retries ?? 5;
    const session = data(await this.api.POST("/api/v1/media/uploads", { body: { fileName, length: file.size }, ...(options.signal ? { signal: options.signal } : {}) }));
    let offset = session.offset;
    options.onProgress?.(offset, file.size);
    for (let failures = 0; ;) {
      options.signal?.throwIfAborted();
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await this.#fetch(new URL(`api/v1/media/uploads/${session.id}`, this.#gateway), {
          method: "PATCH",
          headers: { authorization: `Bearer ${await this.#tokens()}`, "content-type": "application/offset+octet-stream", "upload-offset": String(offset) },
          body: file.slice(offset, Math.min(offset + chunkSize, file.size)),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (!isTransient(error)) throw error;
        failure = error;
      }
      if (response?.status === 201) {
        options.onProgress?.(file.size, file.size);
        return (await response.json()) as MediaFile;
      }
      if (response?.ok) {
        offset = ((await response.json()) as { offset: number }).offset;
        failures = 0;
        options.onProgress?.(offset, file.size);
        continue;
      }
      if (response) {
        failure = await PlatformError.fromResponse(response);
        // 409: the chunk did not start where Media is (an earlier answer was lost): ask where it is and go on from there.
        if (response.status !== 409 && !isTransient(failure)) throw failure;
      }
      if (++failures > retries) throw failure;
      await delay(backoffDelay(failures, 5000), options.signal);
      try {
        const status = data(await this.api.GET("/api/v1/media/uploads/{id}", { params: { path: { id: session.id } } }));
        if (status.status === "ready" && status.mediaId) return (await this.getMedia(status.mediaId)).media;
        if (status.status === "failed") throw new PlatformError(422, "Upload failed", status.failureReason ?? "Media could not process the file.");
        offset = status.offset;
      } catch (error) {
        if (!isTransient(error)) throw error;
      }
    }
  }

  /** My contacts: people I imported or invited, or who imported me. */
  async getContacts(cursor?: string, limit = 100): Promise<Page<Contact>> {
    return data(await this.api.GET("/api/v1/contacts", { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** Finds which of these addresses (or SHA-256 hashes of their normalised form) belong to users, and adds them as contacts. */
  async importContacts(addresses: { emails?: string[]; phones?: string[]; hashes?: string[] }): Promise<ContactMatches> {
    return data(await this.api.POST("/api/v1/contacts/import", { body: { emails: addresses.emails ?? null, phones: addresses.phones ?? null, hashes: addresses.hashes ?? null } }));
  }

  async removeContact(userId: string): Promise<void> {
    await this.api.DELETE("/api/v1/contacts/{userId}", { params: { path: { userId } } });
  }

  /** Invites someone by email or SMS to register; they become my contact when they do. */
  async invite(to: { email?: string; phone?: string }): Promise<Invite> {
    return data(await this.api.POST("/api/v1/invites", { body: { email: to.email ?? null, phone: to.phone ?? null } }));
  }

  /** Marks notifications of my feed read: these ids, or every one up to a time. Answers how many are still unread. */
  async markNotificationsRead(which: { ids?: string[]; upTo?: string }): Promise<number> {
    return data(await this.api.POST("/api/v1/notifications/read", { body: { ids: which.ids ?? null, upTo: which.upTo ?? null } })).unreadCount;
  }

  async getNotificationPreferences(): Promise<NotificationPreferences> {
    return data(await this.api.GET("/api/v1/notifications/preferences"));
  }

  /** Replaces my notification preferences (default level, per-conversation levels and mutes, quiet hours). */
  async setNotificationPreferences(preferences: NotificationPreferences): Promise<NotificationPreferences> {
    return data(await this.api.PUT("/api/v1/notifications/preferences", { body: preferences }));
  }

  /** The VAPID public key a browser subscribes to Web Push with (`applicationServerKey`). */
  async getVapidPublicKey(): Promise<string> {
    return data(await this.api.GET("/api/v1/push-subscriptions/vapid-public-key")).publicKey;
  }

  /** Deletes my registration of this push endpoint (a browser's subscription endpoint, or a native token). */
  async unsubscribeFromPush(endpoint: string): Promise<void> {
    await this.api.DELETE("/api/v1/push-subscriptions", { params: { query: { endpoint } } });
  }

  /** Registers a browser's `PushSubscription` (its `toJSON()`), so notifications reach this device while no page is open. */
  async subscribeToPush(subscription: { endpoint: string; expirationTime?: number | null; keys: { p256dh: string; auth: string } }): Promise<PushSubscriptionInfo> {
    return data(await this.api.POST("/api/v1/push-subscriptions", {
      body: { endpoint: subscription.endpoint, expirationTime: subscription.expirationTime ?? null, keys: subscription.keys, platform: "web", token: null },
    }));
  }

  /**
   * Registers an outgoing webhook: the conversation's events of these types are posted to `url`, signed with the
   * returned secret (shown only now). A conversation's admins and owners register for it; a platform admin may leave
   * `conversationId` out (every conversation).
   */
  async createWebhook(url: string, events: string[], conversationId?: string): Promise<WebhookCreated> {
    return data(await this.api.POST("/api/v1/webhooks", { body: { url, events, conversationId: conversationId ?? null } }));
  }

  /** My webhooks, or (for its admins and owners) a conversation's. */
  async getWebhooks(conversationId?: string): Promise<Page<Webhook>> {
    return data(await this.api.GET("/api/v1/webhooks", { params: { query: conversationId ? { conversationId } : {} } }));
  }

  /** Deletes a webhook; what it still had queued is not sent. */
  async deleteWebhook(webhookId: string): Promise<void> {
    await this.api.DELETE("/api/v1/webhooks/{id}", { params: { path: { id: webhookId } } });
  }

  /** A new secret; until `previousSecretExpiresAt` deliveries are signed with both. */
  async rotateWebhookSecret(webhookId: string): Promise<WebhookSecretRotated> {
    return data(await this.api.POST("/api/v1/webhooks/{id}/rotate-secret", { params: { path: { id: webhookId } } }));
  }

  /** A webhook's delivery log, newest first; pass the previous page's `next` as `cursor`. */
  async getWebhookDeliveries(webhookId: string, cursor?: string, limit = 50): Promise<Page<WebhookDelivery>> {
    return data(await this.api.GET("/api/v1/webhooks/{id}/deliveries", { params: { path: { id: webhookId }, query: { limit, ...(cursor ? { cursor } : {}) } } }));
  }

  /** A file I uploaded or that was shared in one of my conversations, with signed URLs. */
  async getMedia(mediaId: string): Promise<MediaDetails> {
    return data(await this.api.GET("/api/v1/media/{id}/details", { params: { path: { id: mediaId } } }));
  }

  /** A preview of a web page (title, description, image), fetched by Media. */
  async getLinkPreview(url: string): Promise<LinkPreview> {
    return data(await this.api.GET("/api/v1/link-previews", { params: { query: { url } } }));
  }

  /** Stops the realtime stream and the outbox's retries. */
  async close(): Promise<void> {
    this.outbox.stop();
    await this.#realtime?.stop();
  }
}

// openapi-fetch answers { data, error, response }; errors were already thrown by the middleware.
function data<T>(result: { data?: T; response: Response }): T {
  if (result.data === undefined) throw new PlatformError(result.response.status, "Empty answer", "The server answered without a body.");
  return result.data;
}
