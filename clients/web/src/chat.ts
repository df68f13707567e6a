import {
  type Attachment, type SavedMessage, type Conversation, type ConversationEvent, EventTypes, type InboxRow, type Message, type NotificationItem, type NotificationNotice,
  type OutboxEntry, type PlatformClient, type ScheduledMessage, type PresenceNotice, type PublicProfile, type ReceiptNotice, type Thread, type TypingNotice,
} from "@platform/client";
import { CallController } from "./calls";
import { errorText } from "./format";

/** What the page shows of one conversation: its messages by id, in seq order when listed. */
export interface ConversationState {
  id: string;
  conversation: Conversation | undefined;
  messages: Map<string, Message>;
  /** Loaded the newest page of history (events for the conversation are applied from then on). */
  loaded: boolean;
  loadingOlder: boolean;
  /** The first message is shown: nothing older to load. */
  reachedStart: boolean;
  error: string | undefined;
  /** Who is typing, until when (ms since the epoch). */
  typing: Map<string, number>;
  /** Other members' delivered/read cursors, as receipts reported them. */
  cursors: Map<string, { delivered: number; read: number }>;
  /** From GET .../receipts of my newest message at load: who had it then. */
  baseline: { seq: number; deliveredTo: number; readBy: number; recipients: number } | undefined;
  /** The highest seq I reported as read. */
  readSent: number;
  /** Threads opened on this page: their replies by id (older ones than the main list holds come from the thread endpoint). */
  threads: Map<string, ThreadState>;
  /** Moves when a message is pinned or unpinned: the pinned list is read again. */
  pinsVersion: number;
  /** I marked the conversation unread from this seq: it is not marked read again until I leave it and come back. */
  unreadFrom: number | undefined;
  /** My scheduled messages here not sent yet (pending or failed), soonest first; undefined until read. */
  scheduled: ScheduledMessage[] | undefined;
}

/** What a forward's reader can open of its origin. */
export type Origin = { state: "loading" } | { state: "available"; message: Message } | { state: "unavailable" };

/** A point in a conversation's past: a time (resolved to its seq) or a seq. */
export interface TravelPoint {
  asOf?: string;
  asOfSeq?: number;
}

export interface ThreadState {
  rootId: string;
  replies: Map<string, Message>;
  loaded: boolean;
  following: boolean;
  error: string | undefined;
}

export type Tick = "pending" | "sent" | "delivered" | "read";

type Listener = () => void;

/**
 * The page's state, fed by the SDK only: history pages, the realtime stream (each event once, in seq order), receipts,
 * typing and the outbox. Components read snapshots through {@link subscribe}/{@link version} (useSyncExternalStore).
 */
export class ChatStore {
  readonly #listeners = new Set<Listener>();
  readonly #conversations = new Map<string, ConversationState>();
  readonly #profiles = new Map<string, PublicProfile | null>();
  readonly #early = new Map<string, ConversationEvent[]>();
  readonly #members = new Map<string, string[] | null>();
  readonly #origins = new Map<string, Origin>();
  readonly #presence = new Map<string, PresenceNotice>();
  /** Client message ids of my scheduled messages seen posted, kept out of list answers that were on their way. */
  readonly #scheduledGone = new Set<string>();
  #watched = "";
  readonly #off: Array<() => void> = [];
  #inbox: InboxRow[] = [];
  #saved = new Set<string>();
  #notifications: NotificationItem[] = [];
  #notificationsLoaded = false;
  #unreadNotifications = 0;
  #inboxLoaded = false;
  #inboxTimer: ReturnType<typeof setTimeout> | undefined;
  #typingTimer: ReturnType<typeof setInterval> | undefined;
  #version = 0;
  #threadChanges = 0;
  readonly #threadReads = new Set<Promise<void>>();
  #connection: "connecting" | "online" | "offline" | "failed" = "connecting";

  // History is read only once the stream is connected: the stream hands out everything after the position the hub gave
  // it then, and a history page read after that covers everything up to it, so no message falls in between.
  readonly #connected: Promise<void>;
  #markConnected: () => void = () => undefined;

  /** Calls: ringing, in a call, its peers and streams. */
  readonly calls: CallController;

  constructor(readonly client: PlatformClient, readonly me: string) {
    this.#connected = new Promise((resolve) => (this.#markConnected = resolve));
    this.calls = new CallController(client, me);
  }

  get version(): number {
    return this.#version;
  }

  get inbox(): readonly InboxRow[] {
    return this.#inbox;
  }

  get inboxLoaded(): boolean {
    return this.#inboxLoaded;
  }

  /** My notification feed, newest first (the first page, and what arrived live since). */
  get notifications(): readonly NotificationItem[] {
    return this.#notifications;
  }

  get notificationsLoaded(): boolean {
    return this.#notificationsLoaded;
  }

  get unreadNotifications(): number {
    return this.#unreadNotifications;
  }

  get connection(): "connecting" | "online" | "offline" | "failed" {
    return this.#connection;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getVersion = (): number => this.#version;

  async start(): Promise<void> {
    const realtime = this.client.realtime;
    this.#off.push(
      realtime.on("event", (event) => this.#onEvent(event)),
      realtime.on("typing", (notice) => this.#onTyping(notice)),
      realtime.on("receipt", (notice) => this.#onReceipt(notice)),
      realtime.on("presence", (notice) => {
        this.#presence.set(notice.userId, notice);
        this.#changed();
      }),
      realtime.on("notification", (notice) => this.#onNotification(notice)),
      realtime.on("reconnected", () => {
        this.#connection = "online";
        this.#refreshInboxSoon();
        void this.refreshNotifications();
        // Receipts pushed while away are gone, and the next one comes only when a cursor covers another of my messages:
        // my newest message's marks are read again.
        for (const state of this.#conversations.values())
          if (state.loaded) void this.#loadBaseline(state).then(() => this.#changed());
        this.#changed();
      }),
      realtime.on("error", () => {
        if (String(realtime.state) !== "Connected" && this.#connection !== "offline") {
          this.#connection = "offline";
          this.#changed();
        }
      }),
      this.client.outbox.on({ sent: () => this.#changed(), failed: () => this.#changed() }),
      this.calls.attach(),
    );
    this.#typingTimer = setInterval(() => this.#expireTyping(), 1000);
    await Promise.all([this.refreshInbox(), this.refreshNotifications()]);
    try {
      await realtime.start();
      this.#connection = "online";
    } catch {
      // The first connect failed (the stream reconnects by itself only once it was up): the page offers a reload.
      this.#connection = "failed";
    }
    this.#markConnected();
    this.#changed();
    void this.client.outbox.flush();
  }

  async stop(): Promise<void> {
    for (const off of this.#off) off();
    if (this.#typingTimer !== undefined) clearInterval(this.#typingTimer);
    if (this.#inboxTimer !== undefined) clearTimeout(this.#inboxTimer);
    await this.client.close();
  }

  async refreshInbox(): Promise<void> {
    try {
      this.#inbox = (await this.client.getInbox()).items;
      this.#inboxLoaded = true;
      for (const row of this.#inbox) if (row.lastMessage) this.profile(row.lastMessage.senderId);
      this.#changed();
    } catch {
      // Offline or refused: the next event or reconnect refreshes it.
    }
  }

  async refreshNotifications(): Promise<void> {
    try {
      const page = await this.client.getNotifications(undefined, 50);
      // What arrived live while the page was read stays (the feed has it too, or will).
      const live = this.#notifications.filter((item) => !page.items.some((fetched) => fetched.id === item.id) && item.createdAt > (page.items[0]?.createdAt ?? ""));
      this.#notifications = [...live, ...page.items];
      this.#unreadNotifications = page.unreadCount + live.filter((item) => !item.read).length;
      this.#notificationsLoaded = true;
      for (const item of this.#notifications) if (item.actorId) this.profile(item.actorId);
      this.#changed();
    } catch {
      // Offline: the next reconnect reads it again.
    }
  }

  /** Marks my whole feed read, up to its newest notification. */
  async markNotificationsRead(): Promise<void> {
    const newest = this.#notifications[0];
    if (!newest || this.#unreadNotifications === 0) return;
    const unread = await this.client.markNotificationsRead({ upTo: newest.createdAt });
    this.#notifications = this.#notifications.map((item) => (item.createdAt <= newest.createdAt ? { ...item, read: true } : item));
    this.#unreadNotifications = unread;
    this.#changed();
  }

  #onNotification(notice: NotificationNotice): void {
    if (this.#notifications.some((item) => item.id === notice.id)) return;
    const item: NotificationItem = {
      id: notice.id, kind: notice.kind, conversationId: notice.conversationId, seq: notice.seq, title: notice.title, body: notice.body,
      createdAt: notice.createdAt, read: false, actorId: typeof notice.actorId === "string" ? notice.actorId : null,
      messageId: typeof notice.messageId === "string" ? notice.messageId : null,
    };
    this.#notifications = [item, ...this.#notifications];
    this.#unreadNotifications++;
    if (item.actorId) this.profile(item.actorId);
    this.#changed();
  }

  /** A user's public profile (fetched once, in the background); undefined until it is there. */
  profile(userId: string): PublicProfile | undefined {
    if (!this.#profiles.has(userId)) {
      this.#profiles.set(userId, null);
      this.client.api.GET("/api/v1/users/{id}", { params: { path: { id: userId } } }).then(
        (result) => {
          if (result.data) this.#profiles.set(userId, result.data);
          this.#changed();
        },
        () => this.#profiles.delete(userId),
      );
    }
    return this.#profiles.get(userId) ?? undefined;
  }

  displayName(userId: string): string {
    if (userId === this.me) return "You";
    return this.profile(userId)?.displayName ?? "…";
  }

  /** A conversation's title: its own, or the other members' names. */
  title(row: { id: string; title: string | null; kind: string }): string {
    if (row.title) return row.title;
    const others = (this.members(row.id) ?? []).filter((id) => id !== this.me);
    if (others.length > 0) return others.map((id) => this.profile(id)?.displayName ?? "…").join(", ");
    return row.kind === "direct" ? "Direct conversation" : "Untitled conversation";
  }

  /** The member ids of a conversation (fetched once, in the background; again when members change). */
  members(id: string): string[] | undefined {
    if (!this.#members.has(id)) {
      this.#members.set(id, null);
      this.client.api.GET("/api/v1/conversations/{id}/members", { params: { path: { id }, query: { limit: 200 } } }).then(
        (result) => {
          const ids = (result.data?.items ?? []).map((member) => member.userId);
          this.#members.set(id, ids);
          for (const userId of ids) this.profile(userId);
          this.#changed();
        },
        () => this.#members.delete(id),
      );
    }
    return this.#members.get(id) ?? undefined;
  }

  conversation(id: string): ConversationState {
    let state = this.#conversations.get(id);
    if (!state) {
      state = {
        id, conversation: undefined, messages: new Map(), loaded: false, loadingOlder: false, reachedStart: false, error: undefined,
        typing: new Map(), cursors: new Map(), baseline: undefined, readSent: 0, threads: new Map(),
        pinsVersion: 0, unreadFrom: undefined, scheduled: undefined,
      };
      this.#conversations.set(id, state);
    }
    return state;
  }

  /** Loads the conversation and its newest page of history, then applies what the stream handed out meanwhile. */
  async open(id: string): Promise<void> {
    const state = this.conversation(id);
    if (state.loaded) return;
    try {
      await this.#connected;
      const [conversation, page] = await Promise.all([this.client.getConversation(id), this.client.getMessages(id, { limit: 50 })]);
      state.conversation = conversation;
      this.members(id);
      for (const message of page.items) this.#put(state, message);
      state.reachedStart = page.items.length === 0 || page.items[0]!.seq <= 1 || page.next === null;
      state.loaded = true;
      state.error = undefined;
      for (const event of this.#early.get(id) ?? []) this.#apply(state, event);
      this.#early.delete(id);
      await this.#loadBaseline(state);
    } catch (error) {
      state.error = errorText(error);
    }
    this.#changed();
  }

  /** The page before the oldest message shown; at the first message, {@link ConversationState.reachedStart}. */
  async loadOlder(id: string): Promise<void> {
    const state = this.conversation(id);
    if (!state.loaded || state.loadingOlder || state.reachedStart) return;
    const oldest = this.messages(id)[0];
    if (!oldest) {
      state.reachedStart = true;
      this.#changed();
      return;
    }
    state.loadingOlder = true;
    this.#changed();
    try {
      const page = await this.client.getMessages(id, { before: oldest.seq, limit: 50 });
      for (const message of page.items) this.#put(state, message);
      if (page.items.length === 0 || page.next === null || page.items[0]!.seq <= 1) state.reachedStart = true;
    } finally {
      state.loadingOlder = false;
      this.#changed();
    }
  }

  /** Messages in seq order (thread replies are shown in place too, with what they answer). */
  messages(id: string): Message[] {
    return [...this.conversation(id).messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** What the outbox still holds for the conversation (composed, not yet acknowledged by the server). */
  pending(id: string): OutboxEntry[] {
    const sent = new Set([...this.conversation(id).messages.values()].map((m) => m.clientMessageId));
    return this.client.outbox.pending.filter((entry) => entry.conversationId === id && !sent.has(entry.clientMessageId));
  }

  send(id: string, text: string, replyTo?: string, attachments?: string[]): void {
    const { sent } = this.client.queueMessage(id, text, { ...(replyTo ? { replyTo } : {}), ...(attachments ? { attachments } : {}) });
    this.#changed();
    sent.then((message) => {
      const state = this.conversation(id);
      if (state.loaded) this.#add(state, message);
      this.#changed();
    }, () => this.#changed());
  }

  /** The sent/delivered/read state of my message, from the other members' cursors. */
  tick(id: string, message: Message): Tick {
    const state = this.conversation(id);
    const recipients = Math.max((state.conversation?.memberCount ?? 2) - 1, 1);
    const baseline = state.baseline && state.baseline.seq >= message.seq ? state.baseline : undefined;
    let read = 0;
    let delivered = 0;
    for (const cursor of state.cursors.values()) {
      if (cursor.read >= message.seq) read++;
      if (Math.max(cursor.delivered, cursor.read) >= message.seq) delivered++;
    }
    read = Math.max(read, baseline?.readBy ?? 0);
    delivered = Math.max(delivered, baseline?.deliveredTo ?? 0);
    if (read >= recipients) return "read";
    if (delivered >= recipients) return "delivered";
    return "sent";
  }

  typingNames(id: string): string[] {
    const now = Date.now();
    return [...this.conversation(id).typing].filter(([userId, until]) => userId !== this.me && until > now).map(([userId]) => this.displayName(userId));
  }

  /** Whether this conversation is a message request to me (a DM from someone not in my contacts) not answered yet. */
  isRequest(id: string): boolean {
    return this.#inbox.some((row) => row.id === id && row.state === "requested");
  }

  /** Accepts a message request: the sender sees my presence and read receipts from now on. */
  async acceptRequest(id: string): Promise<void> {
    await this.client.acceptRequest(id);
    await this.refreshInbox();
  }

  /** Declines a message request: I leave the conversation. */
  async declineRequest(id: string): Promise<void> {
    await this.client.declineRequest(id);
    await this.refreshInbox();
  }

  /** Tells the server I read up to the newest message shown (only forward, only when it moved). */
  async markRead(id: string): Promise<void> {
    const state = this.conversation(id);
    const newest = this.messages(id).at(-1);
    if (!state.loaded || !newest || newest.seq <= state.readSent || state.unreadFrom !== undefined) return;
    state.readSent = newest.seq;
    try {
      await this.client.sendReceipts(id, { read: newest.seq });
      this.#refreshInboxSoon();
      // Notifications marks the conversation's notifications read too; the badge follows without asking.
      const readNow = (item: NotificationItem) => !item.read && item.conversationId === id && (item.seq ?? 0) <= newest.seq;
      const count = this.#notifications.filter(readNow).length;
      if (count > 0) {
        this.#notifications = this.#notifications.map((item) => (readNow(item) ? { ...item, read: true } : item));
        this.#unreadNotifications = Math.max(0, this.#unreadNotifications - count);
        this.#changed();
      }
    } catch {
      state.readSent = 0; // Tried again with the next message or focus.
    }
  }

  async toggleReaction(id: string, message: Message, emoji: string): Promise<void> {
    const mine = message.reactions.some((r) => r.emoji === emoji && r.userIds.includes(this.me));
    const updated = mine ? await this.client.removeReaction(id, message.id, emoji) : await this.client.addReaction(id, message.id, emoji);
    this.#update(this.conversation(id), updated);
    this.#changed();
  }

  async edit(id: string, messageId: string, text: string): Promise<void> {
    this.#update(this.conversation(id), await this.client.editMessage(id, messageId, text));
    this.#changed();
  }

  async remove(id: string, messageId: string): Promise<void> {
    await this.client.deleteMessage(id, messageId);
    const message = this.#find(this.conversation(id), messageId);
    if (message) this.#update(this.conversation(id), { ...message, deleted: true, text: "", reactions: [], attachments: [] });
    this.#changed();
  }

  async typing(id: string): Promise<void> {
    try {
      await this.client.realtime.typing(id);
    } catch {
      // Typing is best effort.
    }
  }

  /** Members (other than me) whose username starts with, or display name contains, what follows an "@". */
  mentionCandidates(id: string, query: string): PublicProfile[] {
    const q = query.toLowerCase();
    return (this.members(id) ?? [])
      .filter((userId) => userId !== this.me)
      .map((userId) => this.profile(userId))
      .filter((profile): profile is PublicProfile => profile !== undefined && !profile.disabled)
      .filter((profile) => profile.username.toLowerCase().startsWith(q) || profile.displayName.toLowerCase().includes(q))
      .slice(0, 6);
  }

  /** Watches these users' presence (the hub's WatchPresence replaces what was watched: the open conversation's members). */
  watchPresence(userIds: string[]): void {
    const key = [...userIds].sort().join(",");
    if (key === this.#watched || userIds.length === 0) return;
    this.#watched = key;
    this.#connected.then(() => this.client.realtime.watchPresence(userIds)).then((list) => {
      for (const notice of list) this.#presence.set(notice.userId, notice);
      this.#changed();
    }, () => (this.#watched = ""));
  }

  // A message request was accepted: the two may now see each other's presence, which the hub answered "unknown" and
  // did not watch before. Watch again once Presence has learned it (it hears of the acceptance on its own queue).
  #watchAgain(): void {
    for (const delay of [500, 2000]) {
      setTimeout(() => {
        const watched = this.#watched;
        this.#watched = "";
        if (watched) this.watchPresence(watched.split(","));
      }, delay);
    }
  }

  presence(userId: string): PresenceNotice | undefined {
    return this.#presence.get(userId);
  }

  /** Uploads a file in chunks (resumable: a dropped chunk is sent again), reporting progress, then sends it as a message. */
  async sendFile(id: string, file: File, caption: string, replyTo?: string, onProgress?: (sent: number, total: number) => void): Promise<void> {
    const media = await this.client.uploadMediaResumable(file, file.name, { chunkSize: 256 * 1024, ...(onProgress ? { onProgress } : {}) });
    this.send(id, caption, replyTo, [media.id]);
  }

  /** A thread of a conversation: its replies, read from the thread endpoint once and kept current by the stream. */
  thread(conversationId: string, rootId: string): ThreadState {
    const state = this.conversation(conversationId);
    let thread = state.threads.get(rootId);
    if (!thread) {
      thread = { rootId, replies: new Map(), loaded: false, following: false, error: undefined };
      state.threads.set(rootId, thread);
    }
    return thread;
  }

  /** The root (from the main list or the thread endpoint) and every reply, in seq order. */
  threadMessages(conversationId: string, rootId: string): { root: Message | undefined; replies: Message[] } {
    const state = this.conversation(conversationId);
    const thread = this.thread(conversationId, rootId);
    const replies = new Map(thread.replies);
    for (const message of state.messages.values()) if (message.replyTo === rootId) replies.set(message.id, message);
    return { root: state.messages.get(rootId) ?? thread.replies.get(rootId), replies: [...replies.values()].filter((m) => m.id !== rootId).sort((a, b) => a.seq - b.seq) };
  }

  async openThread(conversationId: string, rootId: string): Promise<void> {
    const thread = this.thread(conversationId, rootId);
    try {
      await this.#connected;
      let page: Thread | undefined;
      let after: number | undefined;
      do {
        page = await this.client.getThread(conversationId, rootId, { limit: 100, ...(after !== undefined ? { after } : {}) });
        thread.replies.set(page.root.id, page.root);
        for (const reply of page.items) thread.replies.set(reply.id, reply);
        after = page.items.at(-1)?.seq;
      } while (page.next && after !== undefined);
      thread.following = page.following;
      thread.loaded = true;
      thread.error = undefined;
    } catch (error) {
      thread.error = errorText(error);
    }
    this.#changed();
  }

  async setFollowing(conversationId: string, rootId: string, follow: boolean): Promise<void> {
    if (follow) await this.client.followThread(conversationId, rootId);
    else await this.client.unfollowThread(conversationId, rootId);
    this.thread(conversationId, rootId).following = follow;
    this.#threadChanges++;
    this.#changed();
  }

  /** Moves my read marker of a thread to `seq` (the Threads page reads its counts again after it). */
  async markThreadRead(conversationId: string, rootId: string, seq: number): Promise<void> {
    const read = this.client.markThreadRead(conversationId, rootId, seq).then(() => undefined);
    this.#threadReads.add(read);
    try {
      await read;
    } finally {
      this.#threadReads.delete(read);
      this.#threadChanges++;
      this.#changed();
    }
  }

  /** Resolves once the thread reads sent so far are done (the Threads page counts after them). */
  async threadReadsDone(): Promise<void> {
    await Promise.allSettled([...this.#threadReads]);
  }

  /** Grows each time I read, follow or unfollow a thread on this page. */
  get threadChanges(): number {
    return this.#threadChanges;
  }

  /** Finds users by username or display name, or one by its id. */
  /** Whether I saved the message (known once my saved messages were loaded, and after I save or unsave one). */
  isSaved(messageId: string): boolean {
    return this.#saved.has(messageId);
  }

  async loadSaved(): Promise<SavedMessage[]> {
    const page = await this.client.getSavedMessages(undefined, 100);
    this.#saved = new Set(page.items.map((item) => item.message.id));
    this.#changed();
    return page.items;
  }

  async setSaved(messageId: string, save: boolean): Promise<void> {
    if (save) await this.client.saveMessage(messageId);
    else await this.client.unsaveMessage(messageId);
    if (save) this.#saved.add(messageId);
    else this.#saved.delete(messageId);
    this.#changed();
  }

  async setPinned(id: string, message: Message, pin: boolean): Promise<void> {
    if (pin) await this.client.pinMessage(id, message.id);
    else await this.client.unpinMessage(id, message.id);
    const state = this.conversation(id);
    this.#update(state, { ...message, pinned: pin });
    state.pinsVersion++;
    this.#changed();
  }

  /** Marks the conversation unread from this message on (my read marker only), and stops marking it read until I come back. */
  async markUnread(id: string, message: Message): Promise<void> {
    await this.client.markUnread(id, message.seq);
    const state = this.conversation(id);
    state.readSent = message.seq - 1;
    state.unreadFrom = message.seq;
    await this.refreshInbox();
    this.#changed();
  }

  /** Whether I marked the open conversation unread (it is not marked read again until I leave it). */
  markedUnread(id: string): boolean {
    return this.#conversations.get(id)?.unreadFrom !== undefined;
  }

  /** Leaving a conversation I marked unread: the next visit marks it read as usual. */
  leave(id: string): void {
    this.conversation(id).unreadFrom = undefined;
  }

  async forward(toConversationId: string, from: { conversationId: string; messageId: string }): Promise<void> {
    await this.client.forwardMessage(toConversationId, from);
  }

  /**
   * `@channel` and `@here` when what follows the "@" starts one and I may use them here: in a group anyone, in a channel
   * its owners and admins (Messaging ignores them otherwise), never in a direct conversation.
   */
  massMentionCandidates(id: string, query: string): Array<{ name: "channel" | "here"; description: string }> {
    const conversation = this.conversation(id).conversation;
    const allowed = conversation?.kind === "group" || (conversation?.kind === "channel" && (conversation.role === "owner" || conversation.role === "admin"));
    if (!allowed) return [];
    const q = query.toLowerCase();
    return ([
      { name: "channel", description: "notify everyone in this conversation" },
      { name: "here", description: "notify everyone online now" },
    ] as const).filter((candidate) => candidate.name.startsWith(q));
  }

  /** Reads my scheduled messages of the conversation (pending or failed), soonest first. */
  async loadScheduled(id: string): Promise<void> {
    const state = this.conversation(id);
    try {
      // A list asked for before a scheduled message went out may be answered after the app saw it posted: what was
      // seen posted stays out.
      state.scheduled = (await this.client.getScheduledMessages(id)).items.filter((scheduled) => !this.#scheduledGone.has(scheduled.clientMessageId));
    } catch {
      // Offline: read again with the next change.
    }
    this.#changed();
  }

  /** Schedules a message to be sent at `sendAt` (an ISO time). */
  async schedule(id: string, text: string, sendAt: string): Promise<ScheduledMessage> {
    const scheduled = await this.client.scheduleMessage(id, { clientMessageId: crypto.randomUUID(), text, sendAt });
    await this.loadScheduled(id);
    return scheduled;
  }

  async updateScheduled(id: string, scheduledId: string, change: { text?: string; sendAt?: string }): Promise<void> {
    await this.client.updateScheduledMessage(id, scheduledId, change);
    await this.loadScheduled(id);
  }

  async cancelScheduled(id: string, scheduledId: string): Promise<void> {
    await this.client.cancelScheduledMessage(id, scheduledId);
    await this.loadScheduled(id);
  }

  /** A forward's origin as I may open it (asked once): the message, or unavailable (not a member there, or it is gone). */
  origin(from: { conversationId: string; messageId: string }): Origin {
    const key = `${from.conversationId}/${from.messageId}`;
    let origin = this.#origins.get(key);
    if (!origin) {
      origin = { state: "loading" };
      this.#origins.set(key, origin);
      this.client.getMessage(from.conversationId, from.messageId).then(
        (message) => this.#origins.set(key, message.deleted ? { state: "unavailable" } : { state: "available", message }),
        () => this.#origins.set(key, { state: "unavailable" }),
      ).finally(() => this.#changed());
    }
    return origin;
  }

  /**
   * The conversation as it was at a point (time travel): the newest page of messages then (older pages with `before`),
   * the members then, and the seq the point stands for.
   */
  async travel(id: string, point: TravelPoint, before?: number): Promise<{ seq: number; messages: Message[]; more: boolean; members: string[] }> {
    const seq = point.asOfSeq ?? await this.client.getSeqAt(id, point.asOf!);
    const at = { asOfSeq: seq };
    const [page, members] = await Promise.all([
      this.client.getMessagesAsOf(id, at, { limit: 50, ...(before !== undefined ? { before } : {}) }),
      before === undefined ? this.client.getMembers(id, { ...at, limit: 200 }) : Promise.resolve(undefined),
    ]);
    const memberIds = (members?.items ?? []).map((member) => member.userId);
    for (const userId of memberIds) this.profile(userId);
    for (const message of page.items) this.profile(message.senderId);
    return { seq, messages: page.items, more: page.next !== null, members: memberIds };
  }

  async findUsers(query: string): Promise<PublicProfile[]> {
    const trimmed = query.trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(trimmed)) {
      const result = await this.client.api.GET("/api/v1/users/{id}", { params: { path: { id: trimmed } } }).catch(() => undefined);
      return result?.data ? [result.data] : [];
    }
    if (trimmed.length === 0) return [];
    const result = await this.client.api.GET("/api/v1/users", { params: { query: { q: trimmed.replace(/^@/, ""), limit: 10 } } });
    return (result.data?.items ?? []).filter((user) => user.id !== this.me);
  }

  async startConversation(memberIds: string[], title?: string): Promise<Conversation> {
    const kind = memberIds.length === 1 && !title ? "direct" : "group";
    const conversation = await this.client.createConversation(kind, memberIds, title);
    await this.refreshInbox();
    return conversation;
  }

  #put(state: ConversationState, message: Message): void {
    state.messages.set(message.id, message);
    for (const thread of state.threads.values()) if (thread.replies.has(message.id)) thread.replies.set(message.id, message);
  }

  /** A new message (live or just sent): a reply seen for the first time counts on its root, whose replyCount was read before it. */
  #add(state: ConversationState, message: Message): void {
    const root = message.replyTo ? this.#find(state, message.replyTo) : undefined;
    if (root && !this.#find(state, message.id)) this.#update(state, { ...root, replyCount: root.replyCount + 1 });
    this.#put(state, message);
  }

  /** A change to a message, wherever the page holds it: the main list, open threads, or both. */
  #update(state: ConversationState, message: Message): void {
    if (state.messages.has(message.id)) state.messages.set(message.id, message);
    for (const thread of state.threads.values()) if (thread.replies.has(message.id)) thread.replies.set(message.id, message);
  }

  /** The message as the main list or an open thread holds it. */
  #find(state: ConversationState, id: string): Message | undefined {
    const held = state.messages.get(id);
    if (held) return held;
    for (const thread of state.threads.values()) {
      const reply = thread.replies.get(id);
      if (reply) return reply;
    }
    return undefined;
  }

  #onEvent(event: ConversationEvent): void {
    const state = this.#conversations.get(event.conversationId);
    if (state?.loaded) this.#apply(state, event);
    else if (state) {
      const early = this.#early.get(event.conversationId) ?? [];
      early.push(event);
      this.#early.set(event.conversationId, early);
    }
    if (event.type === EventTypes.MessagePosted) {
      const message = event.data as Message;
      this.profile(message.senderId);
      state?.typing.delete(message.senderId);
      // One of my scheduled messages went out: the list no longer holds it.
      const gone = state?.scheduled?.find((scheduled) => scheduled.clientMessageId === message.clientMessageId || scheduled.messageId === message.id);
      if (state && gone) {
        this.#scheduledGone.add(gone.clientMessageId);
        state.scheduled = state.scheduled?.filter((scheduled) => scheduled !== gone);
        void this.loadScheduled(state.id);
      }
    }
    if (event.type === "request.accepted") this.#watchAgain();
    this.#refreshInboxSoon();
    this.#changed();
  }

  // Every change is applied as the event says, so applying one twice (history already held it) changes nothing.
  #apply(state: ConversationState, event: ConversationEvent): void {
    const data = event.data as Record<string, unknown>;
    const target = typeof data.messageId === "string" ? this.#find(state, data.messageId) : undefined;
    switch (event.type) {
      case EventTypes.MessagePosted:
        this.#add(state, event.data as Message);
        break;
      case EventTypes.MessageEdited:
        if (target) this.#update(state, { ...target, text: String(data.text ?? ""), edited: true, editedAt: (data.editedAt as string) ?? event.occurredAt });
        break;
      case EventTypes.MessageDeleted:
        if (target) this.#update(state, { ...target, deleted: true, text: "", reactions: [], attachments: [] });
        break;
      case EventTypes.ReactionAdded:
      case EventTypes.ReactionRemoved:
        if (target) this.#update(state, { ...target, reactions: react(target.reactions, String(data.emoji), String(data.userId), event.type === EventTypes.ReactionAdded) });
        break;
      case EventTypes.LinkPreviewAttached:
        if (target) {
          const preview = {
            url: String(data.url ?? ""), title: (data.title as string | null) ?? null, description: (data.description as string | null) ?? null,
            imageUrl: (data.imageUrl as string | null) ?? null, siteName: (data.siteName as string | null) ?? null,
          };
          this.#update(state, { ...target, linkPreviews: [...(target.linkPreviews ?? []).filter((p) => p.url !== preview.url), preview] });
        }
        break;
      case EventTypes.MessagePinned:
      case EventTypes.MessageUnpinned:
        if (target) this.#update(state, { ...target, pinned: event.type === EventTypes.MessagePinned });
        state.pinsVersion++;
        break;
      case EventTypes.MessageAttachmentsReady:
        if (target && Array.isArray(data.attachments)) {
          const ready = new Map((data.attachments as Attachment[]).map((a) => [a.id, a]));
          this.#update(state, { ...target, attachments: target.attachments.map((a) => ready.get(a.id) ?? a) });
        }
        break;
      case EventTypes.ConversationUpdated:
      case EventTypes.MemberJoined:
      case EventTypes.MemberLeft:
        this.#members.delete(state.id);
        void this.client.getConversation(state.id).then((conversation) => {
          state.conversation = conversation;
          this.#changed();
        }, () => undefined);
        break;
    }
  }

  #onTyping(notice: TypingNotice): void {
    if (notice.userId === this.me) return;
    this.conversation(notice.conversationId).typing.set(notice.userId, Date.parse(notice.expiresAt));
    this.profile(notice.userId);
    this.#changed();
  }

  #onReceipt(notice: ReceiptNotice): void {
    if (notice.userId === this.me) return;
    const cursors = this.conversation(notice.conversationId).cursors;
    const before = cursors.get(notice.userId) ?? { delivered: 0, read: 0 };
    cursors.set(notice.userId, { delivered: Math.max(before.delivered, notice.delivered ?? 0), read: Math.max(before.read, notice.read ?? 0) });
    this.#changed();
  }

  async #loadBaseline(state: ConversationState): Promise<void> {
    if (state.conversation?.kind === "channel") return;
    const mine = [...state.messages.values()].filter((m) => m.senderId === this.me && !m.deleted).sort((a, b) => b.seq - a.seq)[0];
    if (!mine) return;
    const result = await this.client.api.GET("/api/v1/conversations/{id}/messages/{messageId}/receipts", {
      params: { path: { id: state.id, messageId: mine.id } },
    }).catch(() => undefined);
    if (result?.data) state.baseline = { seq: result.data.seq, deliveredTo: result.data.deliveredTo, readBy: result.data.readBy, recipients: result.data.recipients };
  }

  #expireTyping(): void {
    const now = Date.now();
    let changed = false;
    for (const state of this.#conversations.values())
      for (const [userId, until] of state.typing)
        if (until <= now) {
          state.typing.delete(userId);
          changed = true;
        }
    if (changed) this.#changed();
  }

  #refreshInboxSoon(): void {
    if (this.#inboxTimer !== undefined) return;
    this.#inboxTimer = setTimeout(() => {
      this.#inboxTimer = undefined;
      void this.refreshInbox();
    }, 400);
  }

  #changed(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }
}

function react(reactions: Message["reactions"], emoji: string, userId: string, add: boolean): Message["reactions"] {
  const others = reactions.filter((r) => r.emoji !== emoji);
  const current = reactions.find((r) => r.emoji === emoji);
  const userIds = new Set(current?.userIds ?? []);
  if (add) userIds.add(userId);
  else userIds.delete(userId);
  if (userIds.size === 0) return others;
  const updated = { emoji, count: userIds.size, userIds: [...userIds] };
  return current ? reactions.map((r) => (r.emoji === emoji ? updated : r)) : [...reactions, updated];
}
