// A load client for the benchmark harness's fanout-node scenario (BENCHMARKS.md): N hub connections in this one Node
// process, with the official JavaScript SignalR client (JSON protocol, WebSockets only), receiving a room's messages
// from either a bare ASP.NET Core SignalR hub or the Gateway, and timing each delivery against the send time it carries.
//
// Environment:
//   MODE         "bare" (joins GROUP on the bare hub, receives `message(sentAt, text)`) or "gateway" (receives `event`)
//   URL          the hub's URL (e.g. http://127.0.0.1:5000/bare or http://127.0.0.1:5001/hubs/chat)
//   CONNECTIONS  how many connections to hold (bare mode)
//   TOKENS_FILE  gateway mode: one access token a line, one connection per token (not in argv: 1,000 tokens are long);
//                a line "<userId> <token>" also names the user, whose own messages are then not counted
//   GROUP        bare mode: the group each connection joins
//   OPEN_PARALLEL  connections opened at a time (default 50)
//
// A measured message's text is "<tag>|<send time, Unix µs>|<padding>"; its latency is this process's clock
// (performance.timeOrigin + performance.now(), the wall clock at start plus a monotonic one) minus that send time.
// The harness checks both clocks agree with the `clock` command.
//
// stdout, one JSON object a line: {"ready":n,"failed":k,"seconds":s} once the connections are open; the answer to each command.
// stdin, one JSON object a line:
//   {"cmd":"clock","t":<µs>}           -> {"clock":<this process's now, µs>,"t":<µs>}
//   {"cmd":"offset","micros":<µs>}     -> {"offset":<µs>}: taken off every latency from now on (this clock − the harness's)
//   {"cmd":"begin","tag":"m3"}         -> {"begun":"m3"}: from now, messages tagged m3 are counted and timed
//   {"cmd":"end","expected":n,"timeoutMs":t} -> waits until every connection has n messages of the tag (or t ms; with
//                                         "expectedEach":[n0,n1,...] instead, connection i expects ni), then
//                                         {"step":tag,...counts,"bucketUs":20,"hist":[[bucket,count],...]}
//   end of input closes the connections and exits.
const fs = require("node:fs");
const readline = require("node:readline");
const { performance } = require("node:perf_hooks");
const signalR = require("@microsoft/signalr");

const mode = process.env.MODE;
const url = process.env.URL;
const parallel = Number(process.env.OPEN_PARALLEL ?? 50);
const print = value => process.stdout.write(JSON.stringify(value) + "\n");
const nowMicros = () => (performance.timeOrigin + performance.now()) * 1000;
// This clock minus the harness's, as the harness measured it (`offset` command): both clocks are monotonic from a wall
// clock read at their process's start, so a wall clock step between the two starts is a constant to take off.
let offsetMicros = 0;

// Latency histogram: 20 µs buckets up to 30 s; later ones in the last bucket.
const bucketUs = 20;
const histogram = new Uint32Array(1_500_000);
let tag = null;
let received = 0, negative = 0, firstAt = 0, lastAt = 0;
// Per connection: measured messages of the current tag; last seq per conversation (gateway), duplicates and gaps.
const states = [];
const other = Object.create(null);

function record(state, text) {
  const bar = text.indexOf("|");
  if (bar < 0 || text.substring(0, bar) !== tag)
    return;
  const sentAt = Number(text.substring(bar + 1, text.indexOf("|", bar + 1)));
  const now = nowMicros() - offsetMicros;
  let latency = now - sentAt;
  if (latency < 0) {
    negative++;
    latency = 0;
  }
  const bucket = Math.min(histogram.length - 1, Math.floor(latency / bucketUs));
  histogram[bucket]++;
  received++;
  if (firstAt === 0)
    firstAt = now;
  lastAt = now;
  state.count++;
}

function onEvent(state, e) {
  // Every conversation event is checked against the connection's last seq of its conversation.
  const last = state.seqs.get(e.conversationId);
  if (last !== undefined) {
    if (e.seq <= last) {
      state.duplicates++;
      return;
    }
    if (e.seq !== last + 1)
      state.gaps++;
  }
  state.seqs.set(e.conversationId, e.seq);
  if (e.type === "message.posted" && e.data && typeof e.data.text === "string" && e.data.senderId !== state.userId)
    record(state, e.data.text);
}

function count(method) {
  return () => { other[method] = (other[method] ?? 0) + 1; };
}

async function open(index, token, userId) {
  const state = { count: 0, seqs: new Map(), duplicates: 0, gaps: 0, closed: false, userId, index };
  const options = { transport: signalR.HttpTransportType.WebSockets };
  if (token !== undefined)
    options.accessTokenFactory = () => token;
  const hub = new signalR.HubConnectionBuilder()
    .withUrl(url, options)
    .configureLogging(signalR.LogLevel.None)
    .build();
  hub.serverTimeoutInMilliseconds = 120_000;
  if (mode === "bare")
    hub.on("message", (_sentAt, text) => record(state, text));
  else {
    hub.on("event", e => onEvent(state, e));
    for (const method of ["receipt", "typing", "presence", "notification", "signal", "ephemeral", "resync"])
      hub.on(method, count(method));
  }
  hub.onclose(() => { state.closed = true; });
  await hub.start();
  if (mode === "bare")
    await hub.invoke("Join", process.env.GROUP);
  state.hub = hub;
  states[index] = state;
}

function result(expected, expectedEach) {
  const hist = [];
  for (let i = 0; i < histogram.length; i++)
    if (histogram[i] !== 0)
      hist.push([i, histogram[i]]);
  let missing = 0, extra = 0, short = 0, duplicates = 0, gaps = 0, closed = 0;
  for (const state of states) {
    if (state === undefined)
      continue;
    const wanted = expectedEach ? expectedEach[state.index] : expected;
    if (state.count < wanted) {
      missing += wanted - state.count;
      short++;
    } else
      extra += state.count - wanted;
    duplicates += state.duplicates;
    gaps += state.gaps;
    if (state.closed)
      closed++;
    state.duplicates = 0;
    state.gaps = 0;
  }
  return {
    step: tag, connections: states.filter(s => s !== undefined).length, expected, received, missing, extra, short, duplicates, gaps, closed,
    negative, firstAt, lastAt, other: { ...other }, bucketUs, hist,
  };
}

function begin(newTag) {
  tag = newTag;
  histogram.fill(0);
  received = negative = firstAt = lastAt = 0;
  for (const key of Object.keys(other))
    delete other[key];
  for (const state of states)
    if (state !== undefined)
      state.count = 0;
}

async function end(expected, expectedEach, timeoutMs) {
  const stop = Date.now() + timeoutMs;
  const done = () => states.every(s => s === undefined || s.closed || s.count >= (expectedEach ? expectedEach[s.index] : expected));
  while (!done() && Date.now() < stop)
    await new Promise(resolve => setTimeout(resolve, 50));
  const answer = result(expected, expectedEach);
  tag = null;
  return answer;
}

(async () => {
  const lines = process.env.TOKENS_FILE
    ? fs.readFileSync(process.env.TOKENS_FILE, "utf8").split("\n").map(line => line.trim()).filter(line => line.length > 0)
    : undefined;
  const tokens = lines?.map(line => line.split(" ").at(-1));
  const users = lines?.map(line => (line.includes(" ") ? line.split(" ")[0] : undefined));
  const total = tokens ? tokens.length : Number(process.env.CONNECTIONS);
  const started = Date.now();
  let next = 0, failed = 0;
  const errors = [];
  const worker = async () => {
    while (next < total) {
      const index = next++;
      try {
        await open(index, tokens?.[index], users?.[index]);
      } catch (error) {
        failed++;
        if (errors.length < 3)
          errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, total) }, worker));
  print({ ready: total - failed, failed, errors, seconds: (Date.now() - started) / 1000 });

  const commands = readline.createInterface({ input: process.stdin });
  commands.on("line", async line => {
    const command = JSON.parse(line);
    switch (command.cmd) {
      case "clock":
        print({ clock: nowMicros(), t: command.t });
        break;
      case "offset":
        offsetMicros = Number(command.micros);
        print({ offset: offsetMicros });
        break;
      case "begin":
        begin(command.tag);
        print({ begun: command.tag });
        break;
      case "end":
        print(await end(command.expected ?? 0, command.expectedEach, command.timeoutMs ?? 15_000));
        break;
      default:
        print({ error: `unknown command ${command.cmd}` });
    }
  });
  commands.on("close", async () => {
    await Promise.allSettled(states.filter(s => s !== undefined).map(s => s.hub.stop()));
    process.exit(0);
  });
})().catch(error => {
  console.error(error);
  process.exit(1);
});
