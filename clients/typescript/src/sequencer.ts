import type { PositionStore } from "./positions.js";

/** What the sequencer needs of an event: its conversation and its place in it. */
export interface Sequenced {
  conversationId: string;
  seq: number;
}

/**
 * The ordering rules of the realtime stream, without any I/O: per conversation, hand out each seq once and in order.
 * An event at or below the position is a duplicate and dropped; the next one is handed out (with whatever was held
 * behind it); one beyond the next is held and the caller fills the gap from the log ({@link fill}).
 */
export class Sequencer<E extends Sequenced> {
  readonly #held = new Map<string, Map<number, E>>();

  constructor(
    private readonly positions: PositionStore,
    private readonly emit: (event: E) => void,
  ) {}

  position(conversationId: string): number | undefined {
    return this.positions.get(conversationId);
  }

  /** Sets where a conversation starts (catch-up after a (re)connect) unless it is known already; answers the position. */
  begin(conversationId: string, seq: number): number {
    const known = this.positions.get(conversationId);
    if (known !== undefined) return known;
    this.positions.set(conversationId, seq);
    return seq;
  }

  /** Takes an event from the hub. Answers true when it is held behind a gap that must be filled from the log. */
  accept(event: E): boolean {
    // A conversation never seen (joined while connected): it starts with this event.
    const position = this.begin(event.conversationId, event.seq - 1);
    if (event.seq <= position) return false;
    if (event.seq === position + 1) {
      this.#hand(event);
      this.#drain(event.conversationId);
      return false;
    }
    this.#heldOf(event.conversationId).set(event.seq, event);
    return true;
  }

  /** Takes a page of the log (in seq order): what continues the conversation is handed out, then what was held. */
  fill(conversationId: string, page: Iterable<E>): void {
    for (const event of page) {
      if (event.seq === (this.positions.get(conversationId) ?? 0) + 1) this.#hand(event);
    }
    this.#drain(conversationId);
  }

  /** How many events wait behind a gap in the conversation. */
  heldCount(conversationId: string): number {
    return this.#held.get(conversationId)?.size ?? 0;
  }

  #hand(event: E): void {
    this.positions.set(event.conversationId, event.seq);
    this.emit(event);
  }

  #drain(conversationId: string): void {
    const held = this.#held.get(conversationId);
    if (!held) return;
    for (const seq of [...held.keys()].sort((a, b) => a - b)) {
      const position = this.positions.get(conversationId) ?? 0;
      if (seq <= position) held.delete(seq);
      else if (seq === position + 1) {
        this.#hand(held.get(seq)!);
        held.delete(seq);
      } else break;
    }
    if (held.size === 0) this.#held.delete(conversationId);
  }

  #heldOf(conversationId: string): Map<number, E> {
    let held = this.#held.get(conversationId);
    if (!held) this.#held.set(conversationId, (held = new Map()));
    return held;
  }
}
