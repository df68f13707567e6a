import assert from "node:assert/strict";
import { test } from "node:test";
import { Outbox, type OutboxEntry, PlatformError, WebStorageOutboxStorage, type KeyValueStorage } from "../src/index.js";

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

// A server that dedupes on clientMessageId, as Messaging does; `down` makes every call fail on the way.
function server() {
  const stored: OutboxEntry[] = [];
  const attempts: string[] = [];
  const state = { down: false, refuse: new Set<string>() };
  const send = async (entry: OutboxEntry) => {
    attempts.push(entry.clientMessageId);
    if (state.down) throw new TypeError("fetch failed");
    if (state.refuse.has(entry.text)) throw new PlatformError(403, "Forbidden");
    let message = stored.find((m) => m.clientMessageId === entry.clientMessageId);
    if (!message) stored.push((message = entry));
    return { text: message.text, seq: stored.indexOf(message) + 1 };
  };
  return { stored, attempts, state, send };
}

test("messages composed offline are sent once each, in order, when back online", async () => {
  const api = server();
  let online = false;
  let n = 0;
  const outbox = new Outbox({ send: api.send, isOnline: () => online, newId: () => `id${n++}` });
  const sent = ["a", "b", "c"].map((text) => outbox.enqueue("conv", text).sent);
  await outbox.flush();
  assert.equal(api.attempts.length, 0);
  assert.equal(outbox.pending.length, 3);

  online = true;
  await outbox.online();
  assert.deepEqual((await Promise.all(sent)).map((m) => `${m.seq}:${m.text}`), ["1:a", "2:b", "3:c"]);
  assert.deepEqual(api.stored.map((m) => m.text), ["a", "b", "c"]);
  assert.equal(outbox.pending.length, 0);
});

test("a send that failed on the way is retried with the same clientMessageId and never overtaken", async () => {
  const api = server();
  const outbox = new Outbox({ send: api.send, maxRetryDelayMs: 1 });
  api.state.down = true;
  const first = outbox.enqueue("conv", "first");
  const second = outbox.enqueue("conv", "second");
  await outbox.flush();
  assert.ok(api.attempts.length >= 1);
  assert.ok(api.attempts.every((id) => id === first.clientMessageId), "only the oldest is tried while it fails");
  api.state.down = false;
  await outbox.online();
  assert.deepEqual([(await first.sent).text, (await second.sent).text], ["first", "second"]);
  assert.deepEqual(api.stored.map((m) => m.text), ["first", "second"]);
  outbox.stop();
});

test("a refused message is dropped and reported; the ones after it still go", async () => {
  const api = server();
  api.state.refuse.add("bad");
  const outbox = new Outbox({ send: api.send });
  const failed: string[] = [];
  outbox.on({ failed: (entry) => failed.push(entry.text) });
  const bad = outbox.enqueue("conv", "bad");
  const good = outbox.enqueue("conv", "good");
  await assert.rejects(bad.sent, (error: unknown) => error instanceof PlatformError && error.status === 403);
  assert.equal((await good.sent).text, "good");
  assert.deepEqual(failed, ["bad"]);
});

test("what waits survives a reload in web storage and is sent by the next outbox", async () => {
  const storage = new FakeStorage();
  const api = server();
  const offline = new Outbox({ send: api.send, isOnline: () => false, storage: new WebStorageOutboxStorage(storage) });
  const { clientMessageId } = offline.enqueue("conv", "written on the train");
  assert.equal(api.attempts.length, 0);

  const sentAfterReload: string[] = [];
  const reloaded = new Outbox({ send: api.send, storage: new WebStorageOutboxStorage(storage) });
  reloaded.on({ sent: (entry) => sentAfterReload.push(entry.clientMessageId) });
  await reloaded.flush();
  assert.deepEqual(sentAfterReload, [clientMessageId]);
  assert.equal(storage.getItem("platform.outbox"), null);
});
