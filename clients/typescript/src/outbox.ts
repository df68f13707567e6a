import { backoffDelay } from "./backoff.js";
import { isTransient } from "./errors.js";
import { type KeyValueStorage, readJson } from "./positions.js";

/** A message waiting to be sent; its `clientMessageId` is fixed when it is composed, so every attempt is the same send. */
export interface OutboxEntry {
  clientMessageId: string;
  conversationId: string;
  text: string;
  replyTo?: string;
  attachments?: string[];
  /** When it was composed (ISO 8601). */
  composedAt: string;
}

/** Where pending messages are kept: in memory by default, or Web Storage so they survive a page reload. */
export interface OutboxStorage {
  load(): OutboxEntry[];
  save(entries: readonly OutboxEntry[]): void;
}

export class MemoryOutboxStorage implements OutboxStorage {
  #entries: OutboxEntry[] = [];
  load(): OutboxEntry[] {
    return [...this.#entries];
  }
  save(entries: readonly OutboxEntry[]): void {
    this.#entries = [...entries];
  }
}

export class WebStorageOutboxStorage implements OutboxStorage {
  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key = "platform.outbox",
  ) {}
  load(): OutboxEntry[] {
    return readJson(this.storage, this.key, [], isEntries);
  }
  save(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) this.storage.removeItem(this.key);
    else this.storage.setItem(this.key, JSON.stringify(entries));
  }
}

function isEntries(value: unknown): value is OutboxEntry[] {
  return Array.isArray(value) && value.every((entry) => entry && typeof entry.clientMessageId === "string" && typeof entry.conversationId === "string");
}

export interface OutboxOptions<M> {
  /** Sends one message (one attempt); the outbox does the retrying. */
  send: (entry: OutboxEntry) => Promise<M>;
  storage?: OutboxStorage;
  /** Whether the device is online now (the browser's `navigator.onLine`); the outbox waits for {@link Outbox.online} meanwhile. */
  isOnline?: () => boolean;
  /** Longest wait between attempts after a failure on the way, in ms (default 10 000). */
  maxRetryDelayMs?: number;
  newId?: () => string;
  now?: () => Date;
}

type Listener<M> = { sent?: (entry: OutboxEntry, message: M) => void; failed?: (entry: OutboxEntry, error: unknown) => void };

/**
 * Messages composed while offline (or while sending fails on the way) are kept and sent once each, in the order they
 * were composed, when the connection is back. One send at a time: a message is never overtaken by a later one. A
 * failure on the way (network, 408, 429, 5xx) keeps the message and tries again later with the same `clientMessageId`,
 * which the server answers with the first result, never a second message; a refusal (another 4xx) drops it and reports it.
 */
export class Outbox<M> {
  readonly #storage: OutboxStorage;
  #entries: OutboxEntry[];
  readonly #waiting = new Map<string, { resolve: (message: M) => void; reject: (error: unknown) => void }>();
  readonly #listeners = new Set<Listener<M>>();
  #flushing: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #stopped = false;

  constructor(private readonly options: OutboxOptions<M>) {
    this.#storage = options.storage ?? new MemoryOutboxStorage();
    this.#entries = this.#storage.load();
  }

  /** What waits to be sent, oldest first. */
  get pending(): readonly OutboxEntry[] {
    return [...this.#entries];
  }

  /**
   * Queues a message and starts sending if online. `sent` settles when the server has it (with the message and its
   * seq) or refused it; it stays pending, without rejecting, while offline.
   */
  enqueue(conversationId: string, text: string, extra: { replyTo?: string; attachments?: string[]; clientMessageId?: string } = {}): { clientMessageId: string; sent: Promise<M> } {
    const entry: OutboxEntry = {
      clientMessageId: extra.clientMessageId ?? (this.options.newId ?? randomId)(),
      conversationId,
      text,
      ...(extra.replyTo !== undefined ? { replyTo: extra.replyTo } : {}),
      ...(extra.attachments !== undefined ? { attachments: extra.attachments } : {}),
      composedAt: (this.options.now?.() ?? new Date()).toISOString(),
    };
    const sent = new Promise<M>((resolve, reject) => this.#waiting.set(entry.clientMessageId, { resolve, reject }));
    // Callers who only listen to events must not get an unhandled rejection.
    sent.catch(() => undefined);
    this.#entries.push(entry);
    this.#save();
    void this.flush();
    return { clientMessageId: entry.clientMessageId, sent };
  }

  /** Listens for messages sent or refused (also those queued before a page reload, whose `sent` promises are gone). */
  on(listener: Listener<M>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The device is back online: send what waits now instead of after the current retry delay. */
  online(): Promise<void> {
    this.#failures = 0;
    return this.flush();
  }

  /** Sends what waits, oldest first, until empty or a failure on the way (then tries again later by itself). */
  flush(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.#flushing ??= this.#drain().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Stops retrying (what waits stays in storage). */
  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const entry = this.#entries[0];
      if (!entry) return;
      if (this.options.isOnline && !this.options.isOnline()) return; // online() will call again
      let message: M;
      try {
        message = await this.options.send(entry);
      } catch (error) {
        if (isTransient(error)) {
          this.#retryLater();
          return;
        }
        this.#remove(entry);
        this.#waiting.get(entry.clientMessageId)?.reject(error);
        this.#waiting.delete(entry.clientMessageId);
        for (const listener of this.#listeners) listener.failed?.(entry, error);
        continue;
      }
      this.#failures = 0;
      this.#remove(entry);
      this.#waiting.get(entry.clientMessageId)?.resolve(message);
      this.#waiting.delete(entry.clientMessageId);
      for (const listener of this.#listeners) listener.sent?.(entry, message);
    }
  }

  #retryLater(): void {
    const wait = backoffDelay(this.#failures++, this.options.maxRetryDelayMs ?? 10_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.flush();
    }, wait);
  }

  #remove(entry: OutboxEntry): void {
    this.#entries = this.#entries.filter((e) => e !== entry);
    this.#save();
  }

  #save(): void {
    this.#storage.save(this.#entries);
  }
}

/** 32 hex digits; Web Crypto where there is one (browsers, Node 19+), else Math.random (Node 18 has no global crypto). */
export function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  let id = "";
  for (let i = 0; i < 4; i++) id += Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0");
  return id;
}
