// A load client for a platform that is already running (`./platform run`, or any deployment's public address), as an
// outside product team would drive it: it registers its users through the Gateway, signs them in with the password
// grant, creates group conversations, connects every user with the official JavaScript SignalR client (JSON protocol,
// WebSockets), then sends messages open loop over HTTP and times each delivery to every other member's connection.
// Nothing of the harness's is used: no minted tokens, no services of its own. See BENCHMARKS.md, "./platform run under
// load".
//
//   node tests/js-client/platform-load.js
//
// Environment (all optional):
//   GATEWAY      the Gateway's address (http://localhost:5080)
//   USERS        users, each with one connection (500); MEMBERS per group conversation (5), round robin
//   RATES        messages/s, comma-separated steps (10,50,100); DURATION seconds measured per step (10), WARMUP (3)
//   PROCESSES    comma-separated process names whose CPU is reported per step, read from /proc (the platform's
//                services, PostgreSQL, RabbitMQ, the Aspire dashboard and this process by default)
//   OPEN_PARALLEL  connections opened at a time (50); SIGNUP_PARALLEL  users registered and signed in at a time (8)
//
// Registration and sign-in are rate limited per client address (Gateway README, "Rate limits"): run the platform with
// `RateLimits__ExemptNetworks__0=127.0.0.0/8` when this client is on the same machine.
//
// Output: one line per step (offered rate, deliveries/s, p50/p90/p99/max in ms, losses, duplicates, order violations,
// CPU % of one core per process), then the same as JSON on the last line.
const fs = require("node:fs");
const { performance } = require("node:perf_hooks");
const crypto = require("node:crypto");
const signalR = require("@microsoft/signalr");

const gateway = (process.env.GATEWAY ?? "http://localhost:5080").replace(/\/$/, "");
const userCount = Number(process.env.USERS ?? 500);
const members = Number(process.env.MEMBERS ?? 5);
const rates = (process.env.RATES ?? "10,50,100").split(",").map(Number);
const duration = Number(process.env.DURATION ?? 10);
const warmup = Number(process.env.WARMUP ?? 3);
const parallel = Number(process.env.OPEN_PARALLEL ?? 50);
const signUpParallel = Number(process.env.SIGNUP_PARALLEL ?? 8);
const watched = (process.env.PROCESSES ??
  "Gateway,Messaging,Identity,Presence,Notifications,Media,postgres,beam.smp,Aspire.Dashboar,dcp,node").split(",");
const password = "Load-test password 1";
const nowMicros = () => (performance.timeOrigin + performance.now()) * 1000;
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function call(method, path, body, token, form) {
  const headers = {};
  if (token)
    headers.authorization = `Bearer ${token}`;
  let payload;
  if (form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    payload = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(gateway + path, { method, headers, body: payload });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text.length > 0 ? JSON.parse(text) : undefined;
}

async function inParallel(count, width, work) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, count) }, async () => {
    while (next < count)
      await work(next++);
  }));
}

// CPU ticks (user + system, 1/100 s) of each watched process, by pid: a step's CPU is what each process used between two
// readings (a process that started meanwhile counts whole; one that ended meanwhile, as a PostgreSQL backend may, is lost).
function cpuTicks() {
  const ticks = new Map();
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid))
      continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const key = watched.find(w => name === w || (w === "postgres" && name.startsWith("postgres")));
      if (!key)
        continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(pid, { key, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks;
}

function cpuPercent(before, after, seconds) {
  const used = {};
  for (const [pid, { key, ticks }] of after)
    used[key] = (used[key] ?? 0) + ticks - (before.get(pid)?.ticks ?? 0);
  return Object.fromEntries(watched.filter(w => used[w] !== undefined).map(w => [w, Math.round(used[w] / seconds * 10) / 10]));
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 1000;
}

(async () => {
  const run = crypto.randomBytes(4).toString("hex");
  const started = Date.now();
  const users = new Array(userCount);
  await inParallel(userCount, signUpParallel, async i => {
    const email = `load-${run}-${i}@example.com`;
    const registered = await call("POST", "/api/v1/users", { email, password, displayName: `Load ${i}` });
    const signedIn = await call("POST", "/connect/token", undefined, undefined, {
      grant_type: "password", client_id: "platform-cli", username: email, password, scope: "openid profile email offline_access api",
    });
    users[i] = { id: registered.id, token: signedIn.access_token };
  });
  const groups = [];
  for (let g = 0; g * members < userCount; g++)
    groups.push(users.slice(g * members, (g + 1) * members));
  await inParallel(groups.length, 8, async g => {
    const [owner, ...rest] = groups[g];
    const created = await call("POST", "/api/v1/conversations", { kind: "group", title: `load ${g}`, memberIds: rest.map(u => u.id) }, owner.token);
    groups[g].id = created.id;
  });
  console.error(`${userCount} users registered and signed in, ${groups.length} conversations, in ${(Date.now() - started) / 1000} s`);

  // Per connection: the last seq of each conversation (duplicates and gaps) and the step's tagged deliveries.
  let tag = null;
  let latencies = [];
  let duplicates = 0, gaps = 0;
  const counts = new Map();
  const opened = Date.now();
  await inParallel(userCount, parallel, async i => {
    const user = users[i];
    const seqs = new Map();
    const hub = new signalR.HubConnectionBuilder()
      .withUrl(`${gateway}/hubs/chat`, { transport: signalR.HttpTransportType.WebSockets, accessTokenFactory: () => user.token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    hub.serverTimeoutInMilliseconds = 120_000;
    hub.on("event", e => {
      const last = seqs.get(e.conversationId);
      if (last !== undefined && e.seq <= last) {
        duplicates++;
        return;
      }
      if (last !== undefined && e.seq !== last + 1)
        gaps++;
      seqs.set(e.conversationId, e.seq);
      const text = e.type === "message.posted" ? e.data?.text : undefined;
      if (typeof text !== "string" || e.data.senderId === user.id || !text.startsWith(tag + "|"))
        return;
      latencies.push(nowMicros() - Number(text.split("|")[1]));
      counts.set(i, (counts.get(i) ?? 0) + 1);
    });
    for (const method of ["receipt", "typing", "presence", "notification", "signal", "ephemeral", "resync"])
      hub.on(method, () => {});
    await hub.start();
    user.hub = hub;
  });
  console.error(`${userCount} connections open in ${(Date.now() - opened) / 1000} s`);
  await sleep(3000);

  // One step: warm-up sends (not counted), then `duration` seconds open loop, each send from the next member round robin.
  let sender = 0;
  const padding = "x".repeat(60);
  async function step(rate, stepTag, seconds) {
    const interval = 1000 / rate;
    const total = Math.round(rate * seconds);
    const start = performance.now();
    const expected = new Map();
    let failed = 0;
    const sends = [];
    for (let n = 0; n < total; n++) {
      const due = start + n * interval;
      const wait = due - performance.now();
      if (wait > 1)
        await sleep(wait - 1);
      while (performance.now() < due) { /* the last millisecond spun, as the harness does */ }
      const g = groups[n % groups.length];
      const from = g[(sender++ / groups.length | 0) % g.length];
      const sentAt = performance.timeOrigin * 1000 + due * 1000;
      for (const member of g)
        if (member !== from) {
          const index = users.indexOf(member);
          expected.set(index, (expected.get(index) ?? 0) + 1);
        }
      sends.push(call("POST", `/api/v1/conversations/${g.id}/messages`,
        { clientMessageId: crypto.randomUUID(), text: `${stepTag}|${sentAt}|${padding}` }, from.token).catch(() => { failed++; }));
    }
    await Promise.all(sends);
    return { expected, failed };
  }

  const results = [];
  for (const rate of rates) {
    tag = `w${rate}`;
    await step(rate, tag, warmup);
    await sleep(1000);
    tag = `m${rate}-${run}`;
    latencies = [];
    duplicates = gaps = 0;
    counts.clear();
    const before = cpuTicks();
    const t0 = performance.now();
    const { expected, failed } = await step(rate, tag, duration);
    const elapsed = (performance.now() - t0) / 1000;
    const after = cpuTicks();
    const wanted = [...expected.values()].reduce((a, b) => a + b, 0);
    const until = Date.now() + 15_000;
    while (latencies.length < wanted && Date.now() < until)
      await sleep(50);
    let lost = 0;
    for (const [index, count] of expected)
      lost += Math.max(0, count - (counts.get(index) ?? 0));
    const sorted = Float64Array.from(latencies).sort();
    const cpu = cpuPercent(before, after, elapsed);
    const result = {
      rate, deliveriesPerSecond: Math.round(latencies.length / elapsed), p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99), max: percentile(sorted, 1), lost, duplicates, gaps, failedSends: failed, cpu,
    };
    results.push(result);
    console.log(`${rate}/s: ${result.deliveriesPerSecond} deliveries/s, p50 ${result.p50.toFixed(2)} p90 ${result.p90.toFixed(2)} ` +
      `p99 ${result.p99.toFixed(2)} max ${result.max.toFixed(2)} ms; lost ${lost}, duplicates ${duplicates}, order ${gaps}, failed sends ${failed}; ` +
      `CPU % of a core: ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
  console.log(JSON.stringify({ gateway, users: userCount, members, duration, results }));
  await Promise.all(users.map(u => u.hub?.stop()));
  process.exit(0);
})().catch(error => {
  console.error(error);
  process.exit(1);
});
