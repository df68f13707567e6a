// The official JavaScript SignalR client against the Gateway, the way a web frontend uses it: connect, Resume,
// receive while another user sends, drop the connection, reconnect and Resume from the last seq seen.
// Prints one JSON line: {received, expected, duplicates, orderViolations, missing}.
// Environment: GATEWAY, CONVERSATION, SENDER_TOKEN, RECEIVER_TOKEN, COUNT, START_SEQ (the conversation's last seq before).
const signalR = require("@microsoft/signalr");

const gateway = process.env.GATEWAY.replace(/\/$/, "");
const conversation = process.env.CONVERSATION;
const count = Number(process.env.COUNT);
const startSeq = Number(process.env.START_SEQ);

async function send(i) {
  const response = await fetch(`${gateway}/api/v1/conversations/${conversation}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.SENDER_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ clientMessageId: `js-${i}`, text: `js ${i}` }),
  });
  if (!response.ok) throw new Error(`send ${i}: ${response.status} ${await response.text()}`);
}

(async () => {
  const seen = [];
  const hub = new signalR.HubConnectionBuilder()
    .withUrl(`${gateway}/hubs/chat`, { accessTokenFactory: () => process.env.RECEIVER_TOKEN })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  hub.on("event", e => { if (e.conversationId === conversation) seen.push(e.seq); });
  await hub.start();
  await hub.invoke("Resume", conversation, startSeq);
  for (let i = 0; i < count; i++) {
    await send(i);
    if (i === Math.floor(count / 2)) {
      await hub.stop();
      await hub.start();
      await hub.invoke("Resume", conversation, seen.length ? seen[seen.length - 1] : startSeq);
    }
  }
  const last = startSeq + count;
  const deadline = Date.now() + 20000;
  while (!seen.includes(last) && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
  await hub.stop();
  let orderViolations = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i] <= seen[i - 1]) orderViolations++;
  const distinct = new Set(seen);
  let missing = 0;
  for (let s = startSeq + 1; s <= last; s++) if (!distinct.has(s)) missing++;
  console.log(JSON.stringify({ received: seen.length, expected: count, duplicates: seen.length - distinct.size, orderViolations, missing }));
})().catch(error => { console.error(error); process.exit(1); });
