import { type HubConnection, HubConnectionBuilder, HubConnectionState, type ILogger, LogLevel } from "@microsoft/signalr";
import { backoffDelay, delay } from "./backoff.js";
import type { PlatformClient } from "./client.js";
import type {
  CallSignalNotice, ConversationEvent, HubPosition, NotificationNotice, PresenceNotice, ReceiptNotice, TypingNotice,
} from "./handwritten.js";
import type { EphemeralMessage } from "./models.js";
import { MemoryPositionStore, type PositionStore } from "./positions.js";
import { Sequencer } from "./sequencer.js";

/** What the stream tells its listeners. */
export interface RealtimeEventMap {
  /** One of my conversations' events, in seq order per conversation, each once. */
  event: ConversationEvent;
  /** Someone is typing in one of my conversations. */
  typing: TypingNotice;
  /** A member's delivered/read cursors moved in one of my conversations. */
  receipt: ReceiptNotice;
  /** A new entry of my notification feed. */
  notification: NotificationNotice;
  /** A watched user's presence changed (see {@link RealtimeStream.watchPresence}), also reported after reconnects. */
  presence: PresenceNotice;
  /** A WebRTC signal from another participant of one of my calls. */
  signal: CallSignalNotice;
  /** A bot's answer meant for me alone (e.g. to my slash command): not in the log, not replayed after a reconnect. */
  ephemeral: EphemeralMessage;
  /** The connection was re-established after it dropped (the stream then catches up by itself). */
  reconnected: void;
  /** Something went wrong that the stream recovers from by itself (a failed catch-up, a dropped connection); for logs. */
  error: unknown;
}

type Handler<T> = (value: T) => void;

/** How long the delivered receipts of handed-out events wait, to go to the hub (`Ack`) together. */
const ACKNOWLEDGE_INTERVAL_MS = 500;

export interface RealtimeStreamOptions {
  /** Where positions are kept (default: the client's `positionStore`, else in memory). */
  positionStore?: PositionStore;
  /** SignalR's own logging (default: none). */
  logger?: ILogger | LogLevel;
}

/**
 * The realtime connection to `/hubs/chat` and the ordered stream of my conversations' events, with the guarantees of
 * Platform.Client's RealtimeStream: each event is handed out once and in seq order per conversation; duplicates are
 * dropped; gaps are filled from the log; after every (re)connect the hub's `Positions()` says from where it sends each
 * conversation and `Resume` catches each one up from its position; it reconnects by itself (exponential backoff with
 * jitter) until stopped; delivered receipts (`Ack`) are sent, batched, for what it hands out.
 */
export class RealtimeStream {
  readonly #client: PlatformClient;
  readonly #store: PositionStore;
  readonly #sequencer: Sequencer<ConversationEvent>;
  readonly #handlers = new Map<keyof RealtimeEventMap, Set<Handler<never>>>();
  readonly #unacknowledged = new Map<string, number>();
  readonly #logger: ILogger | LogLevel;
  #hub: HubConnection | undefined;
  #work: Promise<void> = Promise.resolve();
  // A flush of the delivered receipts, scheduled only while some wait: an idle stream keeps no timer (nor a Node process alive).
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #watched: string[] = [];
  #startAtHubPositions = false;
  #stopping = new AbortController();
  #reconnects = 0;

  constructor(client: PlatformClient, options: RealtimeStreamOptions = {}) {
    this.#client = client;
    this.#store = options.positionStore ?? client.options.positionStore ?? new MemoryPositionStore();
    this.#logger = options.logger ?? LogLevel.None;
    this.#sequencer = new Sequencer(this.#store, (event) => {
      this.#unacknowledged.set(event.conversationId, event.seq);
      this.#scheduleAcknowledgement();
      this.#emit("event", event);
    });
  }

  /** The connection's state. */
  get state(): HubConnectionState {
    return this.#hub?.state ?? HubConnectionState.Disconnected;
  }

  /** How many times the connection was re-established after it dropped. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** The last seq handed out per conversation: save it to resume later with {@link start} (or use a persistent PositionStore). */
  get positions(): Record<string, number> {
    return Object.fromEntries(this.#store.entries());
  }

  /** Listens; answers a function that stops listening. */
  on<K extends keyof RealtimeEventMap>(name: K, handler: Handler<RealtimeEventMap[K]>): () => void {
    let set = this.#handlers.get(name);
    if (!set) this.#handlers.set(name, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => set.delete(handler as Handler<never>);
  }

  /**
   * My conversations' events, in seq order per conversation, each once, from the moment of this call until
   * {@link stop}: call it before {@link start} to see everything.
   */
  readEvents(): AsyncIterable<ConversationEvent> {
    const queue: ConversationEvent[] = [];
    let wake: (() => void) | undefined;
    const off = this.on("event", (event) => {
      queue.push(event);
      wake?.();
    });
    const stopping = this.#stopping.signal;
    stopping.addEventListener("abort", () => wake?.(), { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (true) {
            const next = queue.shift();
            if (next) yield next;
            else if (stopping.aborted) return;
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          off();
        }
      },
    };
  }

  /**
   * Connects. With `positions` (conversation → last seq seen) the stream first hands out what was missed since; so it
   * does with what the position store holds (a browser's, after a reload). With neither, it starts at each
   * conversation's current end. Resolves once the starting positions are fixed: every event committed after that
   * reaches the stream.
   */
  async start(positions?: Record<string, number>): Promise<void> {
    if (this.#hub) throw new Error("The stream is already started.");
    for (const [conversationId, seq] of Object.entries(positions ?? {})) this.#store.set(conversationId, seq);
    this.#startAtHubPositions = positions === undefined && this.#store.entries().length === 0;

    const deviceKind = encodeURIComponent(this.#client.options.deviceKind ?? "other");
    const maxDelay = this.#client.options.maxReconnectDelayMs ?? 10_000;
    const hub = new HubConnectionBuilder()
      .withUrl(`${this.#client.gatewayUrl}hubs/chat?deviceKind=${deviceKind}`, { accessTokenFactory: () => this.#client.getAccessToken() })
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (context) => (this.#stopping.signal.aborted ? null : backoffDelay(context.previousRetryCount, maxDelay)) })
      .configureLogging(this.#logger)
      .build();
    this.#hub = hub;
    hub.on("event", (event: ConversationEvent) => this.#enqueue(() => this.#onEvent(event)));
    hub.on("typing", (typing: TypingNotice) => this.#emit("typing", typing));
    hub.on("receipt", (receipt: ReceiptNotice) => this.#emit("receipt", receipt));
    hub.on("notification", (notification: NotificationNotice) => this.#emit("notification", notification));
    hub.on("presence", (presence: PresenceNotice) => this.#emit("presence", presence));
    hub.on("signal", (signal: CallSignalNotice) => this.#emit("signal", signal));
    hub.on("ephemeral", (message: EphemeralMessage) => this.#emit("ephemeral", message));
    hub.onreconnecting((error) => error && this.#emit("error", error));
    hub.onreconnected(() => this.#afterReconnect());
    // Automatic reconnect gave up, or the server closed without allowing it (an expired token): keep trying until stopped.
    hub.onclose((error) => {
      if (error) this.#emit("error", error);
      void this.#restart(hub, maxDelay);
    });

    try {
      await hub.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
    // Resolves once the starting positions are fixed (the hub's Positions, answered after the connection's setup):
    // whatever is committed after start() resolves reaches this stream, also when it starts at the current end.
    let positionsFixed!: () => void;
    const fixed = new Promise<void>((resolve) => (positionsFixed = resolve));
    this.#enqueue(() => this.#catchUp(positionsFixed));
    await Promise.race([fixed, this.#work]);
  }

  /** Tells the conversation's other members that I am typing. */
  async typing(conversationId: string): Promise<void> {
    await this.#connected().invoke("Typing", conversationId);
  }

  /**
   * Watches these users' presence (replacing what was watched; at most 500): `presence` fires when one changes, also
   * after reconnects. Answers their presence now; users I may not see answer `unknown`.
   */
  async watchPresence(userIds: string[]): Promise<PresenceNotice[]> {
    this.#watched = [...new Set(userIds)];
    return this.#connected().invoke<PresenceNotice[]>("WatchPresence", this.#watched);
  }

  /** Sends a WebRTC signal (SDP offer or answer, ICE candidate: a JSON object or string) to another participant of a call. */
  async signal(callId: string, toUserId: string, payload: unknown): Promise<void> {
    await this.#connected().invoke("Signal", callId, toUserId, payload);
  }

  /** Asks the server to replay the conversation after `afterSeq` over the connection. */
  async resume(conversationId: string, afterSeq: number): Promise<void> {
    await this.#connected().invoke("Resume", conversationId, afterSeq);
  }

  /** Disconnects and ends {@link readEvents}. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    await this.#hub?.stop();
    await this.#work;
  }

  #connected(): HubConnection {
    if (!this.#hub) throw new Error("Call start() first.");
    return this.#hub;
  }

  // Hub events, catch-ups and gap fills run one at a time, in arrival order, as Platform.Client's channel does.
  #enqueue(work: () => Promise<void>): void {
    this.#work = this.#work.then(work).catch((error: unknown) => {
      if (this.#stopping.signal.aborted) return;
      this.#emit("error", error);
      // The log or the hub could not be read: try the whole catch-up again shortly (a reconnect also does).
      void delay(backoffDelay(1, this.#client.options.maxReconnectDelayMs ?? 10_000), this.#stopping.signal).then(
        () => this.state === HubConnectionState.Connected && this.#enqueue(() => this.#catchUp()),
        () => undefined,
      );
    });
  }

  async #onEvent(event: ConversationEvent): Promise<void> {
    if (this.#sequencer.accept(event)) await this.#fill(event.conversationId);
  }

  // After (re)connecting: the hub says from where it sends each conversation; what lies between my position and that
  // is replayed by the hub (Resume), one read of the log per conversation with news, made by the Gateway.
  async #catchUp(positionsFixed?: () => void): Promise<void> {
    const hub = this.#connected();
    let positions: HubPosition[];
    try {
      positions = await hub.invoke<HubPosition[]>("Positions");
    } catch (error) {
      if (!isServerError(error)) throw error;
      await this.#catchUpOverHttp(); // A Gateway from before Positions.
      return;
    }
    // From here every later event reaches the connection; the resumes below only replay what came before.
    positionsFixed?.();
    const startAtHub = this.#startAtHubPositions;
    this.#startAtHubPositions = false;
    for (const { conversationId, seq } of positions) {
      // A conversation joined while away: from its beginning, as far as the log shows it to me.
      const position = this.#sequencer.begin(conversationId, startAtHub ? seq : 0);
      // Also where there is no news: the hub then sends live events at once instead of after its resume grace.
      await this.#resumeCaughtUp(hub, conversationId, position);
    }
  }

  async #resumeCaughtUp(hub: HubConnection, conversationId: string, position: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await hub.invoke("Resume", conversationId, position);
        return;
      } catch (error) {
        if (!isServerError(error)) throw error;
        // Many conversations at once: the hub takes a limited number of calls per second.
        if (String(error).includes("Rate limit") && attempt < 10) await delay(1000, this.#stopping.signal);
        else return; // No longer readable (removed meanwhile): nothing to resume; the rest go on.
      }
    }
  }

  async #catchUpOverHttp(): Promise<void> {
    const startAtEnd = this.#startAtHubPositions;
    this.#startAtHubPositions = false;
    for (const { id, lastSeq } of await this.#client.getJoined()) {
      const position = this.#sequencer.begin(id, startAtEnd ? lastSeq : 0);
      if (lastSeq > position) await this.#fill(id);
    }
  }

  async #fill(conversationId: string): Promise<void> {
    while (true) {
      const page = await this.#client.getEvents(conversationId, this.#sequencer.position(conversationId) ?? 0, 500, this.#stopping.signal);
      this.#sequencer.fill(conversationId, page.items);
      if (page.next === null || page.items.length === 0) return;
    }
  }

  async #afterReconnect(): Promise<void> {
    this.#reconnects++;
    this.#emit("reconnected", undefined);
    this.#enqueue(() => this.#catchUp());
    await this.#rewatch();
  }

  async #restart(hub: HubConnection, maxDelay: number): Promise<void> {
    for (let attempt = 0; !this.#stopping.signal.aborted; attempt++) {
      try {
        await delay(backoffDelay(attempt, maxDelay), this.#stopping.signal);
        await hub.start();
        await this.#afterReconnect();
        return;
      } catch (error) {
        if (this.#stopping.signal.aborted) return;
        this.#emit("error", error);
      }
    }
  }

  // After a reconnect the server knows nothing of this connection: watch again, and report the presence now, as
  // changes may have been missed meanwhile.
  async #rewatch(): Promise<void> {
    if (this.#watched.length === 0) return;
    try {
      for (const presence of await this.#connected().invoke<PresenceNotice[]>("WatchPresence", this.#watched)) this.#emit("presence", presence);
    } catch (error) {
      if (!this.#stopping.signal.aborted) this.#emit("error", error);
    }
  }

  // The delivered receipts of what was handed out go to the hub together, ACKNOWLEDGE_INTERVAL_MS after the first; what
  // could not be sent (disconnected) is tried again after the interval.
  #scheduleAcknowledgement(): void {
    if (this.#ackTimer !== undefined || this.#client.options.acknowledgeDeliveries === false || this.#unacknowledged.size === 0) return;
    if (this.#stopping.signal.aborted) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      void this.#acknowledge().finally(() => this.#scheduleAcknowledgement());
    }, ACKNOWLEDGE_INTERVAL_MS);
  }

  async #acknowledge(): Promise<void> {
    if (this.#client.options.acknowledgeDeliveries === false || this.#unacknowledged.size === 0 || this.state !== HubConnectionState.Connected) return;
    for (const [conversationId, seq] of [...this.#unacknowledged]) {
      try {
        await this.#hub!.send("Ack", conversationId, seq);
        if (this.#unacknowledged.get(conversationId) === seq) this.#unacknowledged.delete(conversationId);
      } catch (error) {
        this.#emit("error", error);
        return; // The connection went: acknowledged after the reconnect.
      }
    }
  }

  #emit<K extends keyof RealtimeEventMap>(name: K, value: RealtimeEventMap[K]): void {
    for (const handler of this.#handlers.get(name) ?? []) {
      try {
        (handler as Handler<RealtimeEventMap[K]>)(value);
      } catch (error) {
        // A listener's bug must not stop the stream.
        if (name !== "error") this.#emit("error", error);
      }
    }
  }
}

// The server refused the call (a HubException: its message says it came from the server), as opposed to a connection
// that went away during it.
function isServerError(error: unknown): boolean {
  return error instanceof Error && /on the server|HubException/.test(error.message);
}
