import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryPositionStore, Sequencer, WebStoragePositionStore, type KeyValueStorage } from "../src/index.js";

type E = { conversationId: string; seq: number };
const e = (seq: number, conversationId = "c"): E => ({ conversationId, seq });

function sequencer(initial?: Record<string, number>) {
  const out: E[] = [];
  const store = new MemoryPositionStore(initial);
  return { out, store, s: new Sequencer<E>(store, (event) => out.push(event)) };
}

test("hands out the next seq and drops what is at or below the position", () => {
  const { out, s } = sequencer({ c: 3 });
  assert.equal(s.accept(e(2)), false);
  assert.equal(s.accept(e(3)), false);
  assert.equal(s.accept(e(4)), false);
  assert.equal(s.accept(e(4)), false);
  assert.deepEqual(out.map((x) => x.seq), [4]);
});

test("an unknown conversation starts with its first event", () => {
  const { out, store, s } = sequencer();
  s.accept(e(7, "new"));
  s.accept(e(8, "new"));
  assert.deepEqual(out.map((x) => x.seq), [7, 8]);
  assert.equal(store.get("new"), 8);
});

test("an event beyond the next is held until the gap is filled from the log, then the held ones follow once", () => {
  const { out, s } = sequencer({ c: 1 });
  assert.equal(s.accept(e(4)), true);
  assert.equal(s.accept(e(5)), true);
  assert.equal(s.heldCount("c"), 2);
  assert.equal(out.length, 0);
  // The log answers 2..4 (4 is also held): each handed out once.
  s.fill("c", [e(2), e(3), e(4)]);
  assert.deepEqual(out.map((x) => x.seq), [2, 3, 4, 5]);
  assert.equal(s.heldCount("c"), 0);
});

test("a page that does not reach the held events leaves them held; a live event that closes the gap drains them", () => {
  const { out, s } = sequencer({ c: 0 });
  s.accept(e(3));
  s.fill("c", [e(1)]);
  assert.deepEqual(out.map((x) => x.seq), [1]);
  s.accept(e(2));
  assert.deepEqual(out.map((x) => x.seq), [1, 2, 3]);
});

test("log pages overlapping what was handed out hand out nothing twice", () => {
  const { out, s } = sequencer({ c: 5 });
  s.fill("c", [e(3), e(4), e(5), e(6)]);
  s.fill("c", [e(6), e(7)]);
  assert.deepEqual(out.map((x) => x.seq), [6, 7]);
});

test("conversations are ordered independently", () => {
  const { out, s } = sequencer({ a: 0, b: 10 });
  s.accept(e(2, "a"));
  s.accept(e(11, "b"));
  s.accept(e(1, "a"));
  assert.deepEqual(out.map((x) => `${x.conversationId}${x.seq}`), ["b11", "a1", "a2"]);
});

test("begin keeps a known position and sets an unknown one", () => {
  const { s } = sequencer({ a: 4 });
  assert.equal(s.begin("a", 0), 4);
  assert.equal(s.begin("b", 9), 9);
  assert.equal(s.position("b"), 9);
});

test("a shuffled stream with duplicates comes out once and in order", () => {
  const { out, s } = sequencer({ c: 0 });
  const arrivals = [...Array.from({ length: 200 }, (_, i) => i + 1), ...Array.from({ length: 50 }, (_, i) => i * 3 + 1)];
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  arrivals.sort(() => random() - 0.5);
  const log = Array.from({ length: 200 }, (_, i) => e(i + 1));
  for (const seq of arrivals) if (s.accept(e(seq))) s.fill("c", log.slice(s.position("c") ?? 0, (s.position("c") ?? 0) + 3));
  s.fill("c", log.slice(s.position("c") ?? 0));
  assert.deepEqual(out.map((x) => x.seq), log.map((x) => x.seq));
});

class FakeStorage implements KeyValueStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

test("web storage positions survive a reload (a new store on the same storage) and ignore what is not theirs", () => {
  const storage = new FakeStorage();
  new WebStoragePositionStore(storage, "p").set("c", 12);
  const reloaded = new WebStoragePositionStore(storage, "p");
  assert.equal(reloaded.get("c"), 12);
  const out: E[] = [];
  const s = new Sequencer<E>(reloaded, (event) => out.push(event));
  s.accept(e(12));
  s.accept(e(13));
  assert.deepEqual(out.map((x) => x.seq), [13]);
  storage.setItem("q", "not json");
  assert.deepEqual(new WebStoragePositionStore(storage, "q").entries(), []);
});
