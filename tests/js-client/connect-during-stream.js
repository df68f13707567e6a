// Connect without loss, as a web frontend without our SDK meets it: while another user sends at RATE messages/s, the
// official JavaScript SignalR client opens one connection per receiver (spread over the stream, across the Gateways
// given), asks the hub for its Positions and never calls Resume. Every event of the conversation after the reported
// position must arrive on that connection once and in order.
// Prints one JSON line: {connections, sent, missed, duplicates, orderViolations, unreported, belowPosition}.
// Environment: GATEWAYS (comma-separated), CONVERSATION, SENDER_TOKEN, RECEIVER_TOKENS (comma-separated), RATE, COUNT.
const signalR = require("@microsoft/signalr");

const gateways = process.env.GATEWAYS.split(",").map(g => g.replace(/\/$/, ""));
const conversation = process.env.CONVERSATION;
const tokens = process.env.RECEIVER_TOKENS.split(",");
const rate = Number(process.env.RATE);
const count = Number(process.env.COUNT);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function send(i) {
  const response = await fetch(`${gateways[0]}/api/v1/conversations/${conversation}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.SENDER_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ clientMessageId: `stream-${i}`, text: `stream ${i}` }),
  });
  if (!response.ok) throw new Error(`send ${i}: ${response.status} ${await response.text()}`);
  return (await response.json()).seq;
}

async function stream() {
  const started = Date.now();
  const sends = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    sends.push(send(i));
  }
  return Math.max(...(await Promise.all(sends)));
}

async function connect(index) {
  const connection = { seen: [], position: null };
  const hub = new signalR.HubConnectionBuilder()
    .withUrl(`${gateways[index % gateways.length]}/hubs/chat`, { accessTokenFactory: () => tokens[index] })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  hub.on("event", e => { if (e.conversationId === conversation) connection.seen.push(e.seq); });
  await hub.start();
  const positions = await hub.invoke("Positions");
  const mine = positions.find(p => p.conversationId === conversation);
  connection.position = mine ? mine.seq : null;
  connection.hub = hub;
  return connection;
}

(async () => {
  const streaming = stream();
  // Connections open while the stream runs: the first just after it starts, the last before its last third.
  const spread = ((count / rate) * 1000 * 2) / 3;
  const connecting = tokens.map((_, i) => sleep((i * spread) / tokens.length).then(() => connect(i)));
  const last = await streaming;
  const connections = await Promise.all(connecting);
  const deadline = Date.now() + 30000;
  while (connections.some(c => !c.seen.includes(last)) && Date.now() < deadline) await sleep(50);
  await Promise.all(connections.map(c => c.hub.stop()));

  const result = { connections: connections.length, sent: count, missed: 0, duplicates: 0, orderViolations: 0, unreported: 0, belowPosition: 0 };
  for (const c of connections) {
    if (c.position === null) { result.unreported++; continue; }
    for (let i = 1; i < c.seen.length; i++) if (c.seen[i] <= c.seen[i - 1]) result.orderViolations++;
    const distinct = new Set(c.seen);
    result.duplicates += c.seen.length - distinct.size;
    result.belowPosition += c.seen.filter(s => s <= c.position).length;
    for (let s = c.position + 1; s <= last; s++) if (!distinct.has(s)) result.missed++;
  }
  console.log(JSON.stringify(result));
})().catch(error => { console.error(error); process.exit(1); });
