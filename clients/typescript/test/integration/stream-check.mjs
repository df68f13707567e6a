// The BUILT package against the real platform (run by tests/Platform.Tests, TypeScriptSdkTests): two users sign in with
// the password grant through the Gateway; the sender creates a conversation and sends COUNT messages (half with
// sendMessage, half queued in the outbox at once); the receiver's connection goes through a TCP proxy that cuts every
// socket DROPS times meanwhile. Prints one JSON line: {messages, missing, duplicates, orderViolations, drops, reconnects,
// lastDelivered (the receiver's delivered receipt of the last message reached the server)}.
// Environment: GATEWAY, RECEIVER_GATEWAY, SENDER_EMAIL, RECEIVER_EMAIL, RECEIVER_ID, PASSWORD, COUNT, DROPS.
import net from "node:net";
import { PlatformClient, asMessage } from "../../dist/index.js";

const env = (name) => process.env[name] ?? fail(`${name} is not set`);
const count = Number(env("COUNT"));
const drops = Number(env("DROPS"));

function fail(message) {
  throw new Error(message);
}

// Cuts every open connection on drop(): the client sees its sockets reset, as on a network change.
async function proxyTo(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(port), hostname);
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]]) {
      sockets.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    drop: () => { for (const socket of sockets) socket.resetAndDestroy?.() ?? socket.destroy(); },
    close: () => new Promise((resolve) => { for (const socket of sockets) socket.destroy(); server.close(resolve); }),
  };
}

const proxy = await proxyTo(env("RECEIVER_GATEWAY"));
const sender = new PlatformClient({ gatewayUrl: env("GATEWAY"), username: env("SENDER_EMAIL"), password: env("PASSWORD") });
const receiver = new PlatformClient({ gatewayUrl: proxy.url, username: env("RECEIVER_EMAIL"), password: env("PASSWORD"), maxReconnectDelayMs: 2000 });

const conversation = await sender.createConversation("group", [env("RECEIVER_ID")], "typescript sdk");
const received = [];
const errors = [];
receiver.realtime.on("event", (event) => { if (event.conversationId === conversation.id) received.push(event); });
receiver.realtime.on("error", (error) => errors.push(String(error?.message ?? error)));
await receiver.realtime.start();

let dropped = 0;
// Each drop cuts a live connection: wait until the stream is connected again after the previous one.
async function drop() {
  const until = Date.now() + 30_000;
  while (receiver.realtime.state !== "Connected" && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  proxy.drop();
  dropped++;
}
const dropAt = new Set(Array.from({ length: drops }, (_, i) => Math.floor(((i + 1) * count) / (drops + 1))));
const half = Math.floor(count / 2);
for (let i = 0; i < half; i++) {
  if (dropAt.has(i)) await drop();
  await sender.sendMessage(conversation.id, `m${i}`);
}
const queued = [];
for (let i = half; i < count; i++) {
  if (dropAt.has(i)) await drop();
  queued.push(sender.queueMessage(conversation.id, `m${i}`).sent);
}
const sent = [...(await Promise.all(queued))];

const last = conversation.lastSeq + count;
const deadline = Date.now() + 60_000;
while (!received.some((event) => event.seq >= last) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
await new Promise((resolve) => setTimeout(resolve, 500)); // anything handed out twice would show by now

// The receiver's stream acknowledges what it handed out (the hub's Ack, batched): the sender sees the last message delivered.
const lastMessage = asMessage(received.find((event) => event.seq === last));
let delivered = false;
const deliveredBy = Date.now() + 15_000;
while (lastMessage && !delivered && Date.now() < deliveredBy) {
  const { data } = await sender.api.GET("/api/v1/conversations/{id}/messages/{messageId}/receipts", {
    params: { path: { id: conversation.id, messageId: lastMessage.id } },
  });
  delivered = Number(data?.deliveredTo ?? 0) >= 1;
  if (!delivered) await new Promise((resolve) => setTimeout(resolve, 100));
}

const seqs = received.map((event) => event.seq);
let orderViolations = 0;
for (let i = 1; i < seqs.length; i++) if (seqs[i] <= seqs[i - 1]) orderViolations++;
const texts = received.map((event) => asMessage(event)?.text);
for (let i = 1; i < texts.length; i++) if (Number(texts[i]?.slice(1)) <= Number(texts[i - 1]?.slice(1))) orderViolations++;
const distinct = new Set(seqs);
let missing = 0;
for (let seq = conversation.lastSeq + 1; seq <= last; seq++) if (!distinct.has(seq)) missing++;
const result = {
  messages: received.filter((event) => event.type === "message.posted").length,
  missing,
  duplicates: seqs.length - distinct.size,
  orderViolations,
  drops: dropped,
  reconnects: receiver.realtime.reconnects,
  lastDelivered: delivered,
  outboxSent: sent.length,
  outboxPending: sender.outbox.pending.length,
  errors: errors.slice(0, 5),
};
await receiver.close();
await sender.close();
await proxy.close();
console.log(JSON.stringify(result));
