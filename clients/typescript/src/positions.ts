/**
 * Where the realtime stream keeps, per conversation, the last seq it handed out. A browser keeps it across page reloads
 * with {@link WebStoragePositionStore}; the default {@link MemoryPositionStore} lives as long as the client.
 */
export interface PositionStore {
  get(conversationId: string): number | undefined;
  set(conversationId: string, seq: number): void;
  /** Every conversation's position. */
  entries(): Array<[conversationId: string, seq: number]>;
}

export class MemoryPositionStore implements PositionStore {
  readonly #positions = new Map<string, number>();

  constructor(initial?: Record<string, number>) {
    for (const [conversationId, seq] of Object.entries(initial ?? {})) this.#positions.set(conversationId, seq);
  }

  get(conversationId: string): number | undefined {
    return this.#positions.get(conversationId);
  }

  set(conversationId: string, seq: number): void {
    this.#positions.set(conversationId, seq);
  }

  entries(): Array<[string, number]> {
    return [...this.#positions];
  }
}

/** The part of the Web Storage API (`localStorage`, `sessionStorage`) the stores use. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Positions in Web Storage under one key (name it per user, e.g. `platform.positions.<userId>`), written through on
 * every change: after a reload the stream resumes where the page stopped, with nothing handed out twice.
 */
export class WebStoragePositionStore implements PositionStore {
  readonly #positions: Map<string, number>;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key = "platform.positions",
  ) {
    this.#positions = new Map(Object.entries(readJson(storage, key, {}, isPositions)));
  }

  get(conversationId: string): number | undefined {
    return this.#positions.get(conversationId);
  }

  set(conversationId: string, seq: number): void {
    this.#positions.set(conversationId, seq);
    this.storage.setItem(this.key, JSON.stringify(Object.fromEntries(this.#positions)));
  }

  entries(): Array<[string, number]> {
    return [...this.#positions];
  }
}

function isPositions(value: unknown): value is Record<string, number> {
  return !!value && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((seq) => typeof seq === "number");
}

/** A stored JSON value, or the fallback when it is missing or not what it should be (another version, a manual edit). */
export function readJson<T>(storage: KeyValueStorage, key: string, fallback: T, valid: (value: unknown) => value is T): T {
  const text = storage.getItem(key);
  if (text === null) return fallback;
  try {
    const value: unknown = JSON.parse(text);
    return valid(value) ? value : fallback;
  } catch {
    return fallback;
  }
}
