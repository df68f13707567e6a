// The web app (clients/web) as users see it, in the Debian Chromium driven by playwright-core, against the Gateway of
// the whole platform (tests/Platform.Tests/WebAppTests.cs starts it and runs one SCENARIO of this script per test).
// Every wait is for a condition in the page, with a timeout that fails the scenario; nothing sleeps to assert.
// The last line on stdout is a JSON summary; a failure exits 1 with the reason on stderr.
import AxeBuilder from "@axe-core/playwright";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const gateway = env("GATEWAY").replace(/\/$/, "");
const password = env("PASSWORD");
const timeout = Number(process.env.STEP_TIMEOUT_MS ?? 90_000);
const log = (...args) => console.error(new Date().toISOString(), ...args);
const started = Date.now();
const timings = {};
const mark = (step) => (timings[step] = Date.now() - started);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
    // Calls: a fake camera and microphone (a test pattern and a tone), no permission prompt, host candidates with
    // their addresses (not mDNS names, which nothing resolves here), and media that plays without a click.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
  ],
});

async function newPage(viewport) {
  const context = await browser.newContext({ viewport, locale: "en-US" });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  page.on("pageerror", (error) => log("page error:", error.message));
  return { context, page };
}

/**
 * axe-core's WCAG 2.1 A and AA rules on the page as it is: any serious or critical violation fails the scenario, with
 * the rule, its help text and the first elements it names.
 */
async function accessible(page, where) {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const serious = violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
  if (serious.length > 0)
    throw new Error(`accessibility of ${where}: ${serious.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`);
  accessibility[where] = violations.length;
}
const accessibility = {};

/** Through the app's "Sign in", Identity's login page (authorization code + PKCE) and back to the app. */
async function signIn(page, email) {
  await page.goto(`${gateway}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/account\/login/);
  await page.locator("#username").fill(email);
  await page.locator("#password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("me").waitFor();
  const tokens = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("oidc.user:")).length);
  if (tokens !== 1) throw new Error("no signed-in user in localStorage after the login page");
}

const messages = (page) => page.locator("ol.messages li.message[data-message-id]");
const message = (page, text) => messages(page).filter({ hasText: text });

/** Waits for a condition in the page (polling), failing with what it waited for. */
async function until(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 200 });
  } catch (error) {
    throw new Error(`timed out waiting for: ${what} (${error.message.split("\n")[0]})`);
  }
}

/** What the page's message list shows: ids and texts in order. */
const shown = (page) => page.$$eval("ol.messages li.message[data-message-id]", (items) =>
  items.map((item) => ({ id: item.dataset.messageId, seq: Number(item.dataset.seq), text: item.querySelector(".text")?.textContent ?? "" })));

async function api(token, method, path, body) {
  const response = await fetch(`${gateway}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

const send = (token, conversationId, text) =>
  api(token, "POST", `/api/v1/conversations/${conversationId}/messages`, { clientMessageId: crypto.randomUUID(), text });

async function chat() {
  const alice = { email: env("ALICE_EMAIL"), name: env("ALICE_NAME"), username: env("ALICE_USERNAME") };
  const bob = { email: env("BOB_EMAIL"), name: env("BOB_NAME"), username: env("BOB_USERNAME") };
  const a = await newPage({ width: 1200, height: 800 });
  const b = await newPage({ width: 390, height: 844 }); // a phone
  await Promise.all([signIn(a.page, alice.email), signIn(b.page, bob.email)]);
  log("both signed in through the login page");

  // Bob finds Alice by her username and starts a conversation.
  await b.page.getByLabel("Username, name or user id").fill(alice.username);
  await b.page.getByRole("button", { name: "Find" }).click();
  await b.page.getByRole("button", { name: new RegExp(`^Message ${alice.name}`) }).click();
  await b.page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  const conversationId = b.page.url().split("/c/")[1];
  await b.page.locator("#composer-text").fill("hello Alice");
  await b.page.locator("#composer-text").press("Enter");

  // Alice sees it in her inbox (unread badge) and in the conversation.
  const row = a.page.locator(`.inbox-row[data-conversation-id="${conversationId}"]`);
  await row.getByTestId("unread-badge").waitFor();
  await row.click();
  await message(a.page, "hello Alice").waitFor();
  log("a message reached the other side");
  // Bob is not in Alice's contacts: his first message is a request, which she accepts (or answering would).
  await a.page.getByTestId("message-request").getByRole("button", { name: "Accept" }).click();
  await a.page.getByTestId("message-request").waitFor({ state: "detached" });
  log("Alice accepted the message request");

  // Typing shows on the other side, and clears.
  await a.page.locator("#composer-text").pressSequentially("typing…", { delay: 30 });
  await until(b.page, "Alice's typing shows", (name) => document.querySelector("[data-testid=typing]")?.textContent?.includes(`${name} is typing`), alice.name);
  await until(b.page, "the typing indicator clears", () => document.querySelector("[data-testid=typing]")?.textContent === "");
  await a.page.locator("#composer-text").fill("");
  log("typing showed and cleared");

  // Alice answers: Bob's page is open on the conversation, so her message goes sent → delivered → read.
  await a.page.locator("#composer-text").fill("hi Bob, see https://example.com/page");
  await a.page.getByRole("button", { name: "Send" }).click();
  await message(b.page, "hi Bob").waitFor();
  await message(a.page, "hi Bob").locator('[data-tick="read"]').waitFor();
  // And Bob's first message is read too (Alice has it open).
  await message(b.page, "hello Alice").locator('[data-tick="read"]').waitFor();
  log("ticks moved to read");

  // Presence: each sees the other online in the conversation's header.
  await b.page.getByTestId("presence").filter({ hasText: "online" }).waitFor();
  await a.page.getByTestId("presence").filter({ hasText: "online" }).waitFor();

  // A reaction, a reply, an edit and a delete propagate.
  await message(b.page, "hi Bob").getByRole("button", { name: "React 👍" }).click();
  await message(a.page, "hi Bob").getByRole("button", { name: "👍 1" }).waitFor();
  await message(b.page, "hi Bob").getByRole("button", { name: "Reply" }).click();
  await b.page.locator("#composer-text").fill("a reply to you");
  await b.page.locator("#composer-text").press("Enter");
  await message(a.page, "a reply to you").locator(".reply-quote", { hasText: "hi Bob" }).waitFor();
  await message(a.page, "hi Bob").getByRole("button", { name: "Edit" }).click();
  await a.page.locator("#edit-text").fill("hi Bob (edited text)");
  await a.page.getByRole("button", { name: "Save", exact: true }).click();
  await message(b.page, "hi Bob (edited text)").locator(".edited").waitFor();
  await a.page.locator("#composer-text").fill("this one goes away");
  await a.page.locator("#composer-text").press("Enter");
  await message(b.page, "this one goes away").waitFor();
  await message(a.page, "this one goes away").getByRole("button", { name: "Delete" }).click();
  await message(a.page, "this one goes away").getByRole("button", { name: "Delete for everyone" }).click();
  await until(b.page, "the deleted message shows as deleted", () => [...document.querySelectorAll("li.message .text")].some((t) => t.textContent === "This message was deleted.")
    && ![...document.querySelectorAll("li.message .text")].some((t) => t.textContent === "this one goes away"));
  log("reaction, reply, edit and delete propagated");

  // A thread: "hi Bob" has Bob's reply; Alice opens the thread from the reply count, answers there, and Bob sees the
  // answer in place (as a reply) while the root counts two replies on both sides.
  await message(a.page, "hi Bob").getByTestId("thread-link").filter({ hasText: "1 reply" }).click();
  const thread = a.page.getByTestId("thread");
  await thread.locator("li.message", { hasText: "a reply to you" }).waitFor();
  await thread.getByLabel("Reply in thread").fill("answered in the thread");
  await thread.getByLabel("Reply in thread").press("Enter");
  await thread.locator("li.message", { hasText: "answered in the thread" }).waitFor();
  await message(b.page, "answered in the thread").locator(".reply-quote", { hasText: "hi Bob" }).waitFor();
  await message(b.page, "hi Bob").getByTestId("thread-link").filter({ hasText: "2 replies" }).waitFor();
  await thread.getByRole("button", { name: "Follow" }).click();
  await thread.getByRole("button", { name: "Following" }).waitFor();
  await thread.getByRole("button", { name: /^Back to / }).click();
  await message(a.page, "hi Bob").getByTestId("thread-link").filter({ hasText: "2 replies" }).waitFor();
  log("a thread opened, was answered and followed");

  // An image Bob sends shows its thumbnail to Alice (made by Media, read through a signed URL). It is big enough to go
  // up in several chunks of the resumable upload, and the composer shows the progress.
  const png = await b.page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 480;
    const g = canvas.getContext("2d");
    const pixels = g.createImageData(640, 480);
    // Noise compresses badly: about a megabyte of PNG, new pixels each run (no stored twin).
    for (let i = 0; i < pixels.data.length; i++) pixels.data[i] = i % 4 === 3 ? 255 : Math.floor(Math.random() * 256);
    g.putImageData(pixels, 0, 0);
    return canvas.toDataURL("image/png").split(",")[1];
  });
  await b.page.evaluate(() => {
    window.__progress = [];
    const watch = () => {
      const bar = document.querySelector("#upload-progress");
      if (bar && !window.__progress.includes(bar.value)) window.__progress.push(bar.value);
      window.__progressFrame = requestAnimationFrame(watch);
    };
    watch();
  });
  await b.page.locator("#composer-text").fill("a photo");
  await b.page.locator("#composer-file").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
  await message(a.page, "a photo").waitFor();
  const progress = await b.page.evaluate(() => {
    cancelAnimationFrame(window.__progressFrame);
    return window.__progress;
  });
  if (Buffer.from(png, "base64").length < 600_000) throw new Error("the test image is too small to go up in several chunks");
  if (!progress.some((value) => value > 0)) throw new Error(`no upload progress shown: ${JSON.stringify(progress)}`);
  await until(a.page, "the photo's thumbnail loaded on the other side", () => [...document.querySelectorAll("li.message [data-testid=attachment] img")]
    .some((img) => img.complete && img.naturalWidth > 0));
  log(`an image's thumbnail reached the other side (progress shown: ${progress.join(", ")})`);

  // The image viewer: a click on the thumbnail opens the image in a dialog; Escape closes it.
  await message(a.page, "a photo").getByTestId("attachment").click();
  const viewer = a.page.getByTestId("image-viewer");
  await until(a.page, "the viewer shows the image", () => {
    const img = document.querySelector("[data-testid=image-viewer] img");
    return img?.complete && img.naturalWidth > 0 && document.querySelector("[data-testid=image-viewer]").open;
  });
  await a.page.keyboard.press("Escape");
  await viewer.waitFor({ state: "detached" });
  log("the image viewer opened and closed");

  // @mention autocomplete: Alice types "@" and the start of Bob's username, picks him with the keyboard.
  await a.page.locator("#composer-text").pressSequentially(`@${bob.username.slice(0, 3)}`, { delay: 30 });
  await a.page.getByRole("option", { name: new RegExp(bob.name) }).waitFor();
  await a.page.locator("#composer-text").press("Enter");
  await until(a.page, "the mention is completed", (username) => document.querySelector("#composer-text").value === `@${username} `, bob.username);
  await a.page.locator("#composer-text").pressSequentially("look at this", { delay: 10 });
  await a.page.locator("#composer-text").press("Enter");
  await message(b.page, "look at this").locator(".mention", { hasText: `@${bob.username}` }).waitFor();
  log("a mention was completed and sent");

  // A reload shows the same history and no duplicate; what arrives after it shows once.
  const before = await shown(b.page);
  await b.page.reload();
  await until(b.page, "the history is back after the reload", (count) => document.querySelectorAll("ol.messages li.message[data-message-id]").length >= count, before.length);
  await send(env("ALICE_TOKEN"), conversationId, "after the reload");
  await message(b.page, "after the reload").waitFor();
  const after = await shown(b.page);
  const ids = after.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error(`duplicates after the reload: ${JSON.stringify(after)}`);
  if (JSON.stringify(after.slice(0, before.length)) !== JSON.stringify(before)) throw new Error(`history changed across the reload: ${JSON.stringify(before)} vs ${JSON.stringify(after)}`);
  if (after.length !== before.length + 1) throw new Error(`expected ${before.length + 1} messages after the reload, saw ${after.length}`);
  const sorted = [...after].sort((x, y) => x.seq - y.seq);
  if (JSON.stringify(sorted) !== JSON.stringify(after)) throw new Error("messages out of seq order");
  log("reload: same history, no duplicate");

  // Alice's inbox follows live: its row's preview is the newest message.
  await a.page.locator(".inbox-preview", { hasText: "after the reload" }).waitFor();
  await accessible(a.page, "a conversation with replies, reactions, an image and a link preview");
  await accessible(b.page, "a conversation on a phone");
  if (process.env.SCREENSHOT) {
    await message(a.page, "after the reload").locator('[data-tick="read"]').waitFor();
    await a.page.screenshot({ path: process.env.SCREENSHOT });
  }
  return { conversationId, messagesAfterReload: after.length, accessibility };
}

async function offline() {
  const token = env("SENDER_TOKEN");
  const conversationId = env("CONVERSATION_ID");
  const count = Number(process.env.COUNT ?? 50);
  const r = await newPage({ width: 1000, height: 800 });
  await signIn(r.page, env("RECEIVER_EMAIL"));
  await r.page.goto(`${gateway}/c/${conversationId}`);
  await send(token, conversationId, "before going offline");
  await message(r.page, "before going offline").waitFor();

  await r.context.setOffline(true);
  await until(r.page, "the page is offline", () => navigator.onLine === false);
  for (let i = 1; i <= count; i++) await send(token, conversationId, `offline message ${i}`);
  log(`sent ${count} while the page was offline`);
  const seenWhileOffline = await r.page.$$eval("ol.messages li.message .text", (texts) => texts.filter((t) => t.textContent?.startsWith("offline message ")).length);
  await r.context.setOffline(false);

  await until(r.page, `all ${count} messages after coming back`, (n) => [...document.querySelectorAll("ol.messages li.message .text")]
    .filter((t) => t.textContent?.startsWith("offline message ")).length >= n, count);
  const texts = (await shown(r.page)).map((m) => m.text).filter((text) => text.startsWith("offline message "));
  const expected = Array.from({ length: count }, (_, i) => `offline message ${i + 1}`);
  if (JSON.stringify(texts) !== JSON.stringify(expected)) throw new Error(`not each once in order: ${JSON.stringify(texts)}`);
  // The stream settles: nothing arrives twice later either (one more message is the marker).
  await send(token, conversationId, "back online");
  await message(r.page, "back online").waitFor();
  const final = await shown(r.page);
  if (new Set(final.map((m) => m.id)).size !== final.length) throw new Error("a message shows twice");
  return { shown: texts.length, seenWhileOffline };
}

/** ~200 vectors from templates × payloads: each executes __xss(n) or alert(n) if it is ever interpreted as markup or script. */
function xssVectors() {
  const templates = [
    (js) => `<script>${js}</script>`,
    (js) => `<img src=x onerror="${js}">`,
    (js) => `<img src=x onerror=${js}>`,
    (js) => `<svg onload=${js}>`,
    (js) => `<svg><script>${js}</script></svg>`,
    (js) => `<body onload=${js}>`,
    (js) => `<iframe src="javascript:${js}"></iframe>`,
    (js) => `<iframe srcdoc="<script>parent.${js}</script>"></iframe>`,
    (js) => `<a href="javascript:${js}">click</a>`,
    (js) => `javascript:${js}`,
    (js) => `"><script>${js}</script>`,
    (js) => `'><img src=x onerror=${js}>`,
    (js) => `<details open ontoggle=${js}>`,
    (js) => `<input autofocus onfocus=${js}>`,
    (js) => `<video><source onerror="${js}"></video>`,
    (js) => `<math><mtext><table><mglyph><style><img src=x onerror=${js}>`,
    (js) => `<object data="javascript:${js}"></object>`,
    (js) => `<embed src="javascript:${js}">`,
    (js) => `<marquee onstart=${js}>x</marquee>`,
    (js) => `<scr<script>ipt>${js}</scr</script>ipt>`,
    (js) => `<div style="background:url(javascript:${js})">x</div>`,
    (js) => `<form><button formaction="javascript:${js}">x</button></form>`,
    (js) => `[click](javascript:${js})`,
    (js) => `<IMG SRC=JaVaScRiPt:${js}>`,
    (js) => `<img src="x" onerror="&#x${[...js].map((c) => c.charCodeAt(0).toString(16)).join(";&#x")};">`,
  ];
  const payloads = (n) => [`__xss(${n})`, `alert(${n})`, `window.__xss&&__xss(${n})`, `top.__xss(${n})`,
    `eval('__xss(${n})')`, `setTimeout(()=>__xss(${n}))`, `confirm(${n})`, `(()=>{__xss(${n})})()`];
  const vectors = [];
  templates.forEach((template, t) => payloads(0).forEach((_, p) => {
    const n = t * 100 + p + 1;
    vectors.push(template(payloads(n)[p]));
  }));
  return vectors;
}

async function xss() {
  const token = env("SENDER_TOKEN");
  const conversationId = env("CONVERSATION_ID");
  const site = env("SITE").replace(/\/$/, "");
  const names = JSON.parse(env("XSS_NAMES"));
  const v = await newPage({ width: 1000, height: 800 });
  const executed = [];
  await v.context.exposeFunction("__xss", (n) => executed.push(`__xss(${n})`));
  v.context.on("dialog", (dialog) => {
    executed.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  // The hooks catch what they should: a page that does render markup trips both.
  const probe = await v.context.newPage();
  await probe.setContent("<img src=x onerror=__xss(0)><img src=y onerror=alert(0)>");
  for (const deadline = Date.now() + timeout; executed.length < 2; await probe.waitForTimeout(50))
    if (Date.now() > deadline) throw new Error(`the hooks did not see a vector that runs: ${executed.join(", ")}`);
  await probe.close();
  executed.length = 0;

  await signIn(v.page, env("VICTIM_EMAIL"));
  mark("signed in");
  await v.page.goto(`${gateway}/c/${conversationId}`);
  await message(v.page, "from a named user").first().waitFor();

  const vectors = xssVectors();
  // Link previews whose titles are vectors: the test site puts the path's last segment into <title> and og:title.
  const linked = ["<img src=x onerror=__xss(9001)>", "<script>__xss(9002)</script>", "\"><svg onload=alert(9003)>"]
    .map((title) => `${site}/articles/${encodeURIComponent(title)}`);
  const texts = [...linked.map((url) => `preview ${url}`), ...vectors];
  for (let i = 0; i < texts.length; i += 8) await Promise.all(texts.slice(i, i + 8).map((text) => send(token, conversationId, text)));
  log(`sent ${vectors.length} vectors and ${linked.length} links`);
  mark("sent");

  const expected = vectors.length + linked.length + names.length;
  await until(v.page, `all ${expected} messages shown`, (n) => document.querySelectorAll("ol.messages li.message[data-message-id]").length >= n, expected);
  await until(v.page, "the link previews with vector titles", (n) => document.querySelectorAll("[data-testid=link-preview]").length >= n, linked.length);
  mark("shown live");
  const shownTexts = new Set((await shown(v.page)).map((m) => m.text));
  const missing = vectors.filter((vector) => !shownTexts.has(vector));
  if (missing.length > 0) throw new Error(`not shown as text: ${JSON.stringify(missing.slice(0, 5))}`);

  // The same from history: reload and scroll back to the first message.
  await v.page.reload();
  await messages(v.page).first().waitFor();
  // Scrolling to the top loads the page before, until the first message.
  for (let page = 0; page < 20 && (await v.page.getByTestId("conversation-start").count()) === 0; page++) {
    const count = await messages(v.page).count();
    await v.page.locator("ol.messages").evaluate((list) => { list.scrollTop = 0; });
    await until(v.page, "an older page of history", (n) => document.querySelectorAll("ol.messages li.message[data-message-id]").length > n
      || document.querySelector("[data-testid=conversation-start]") !== null, count);
  }
  await v.page.getByTestId("conversation-start").waitFor();
  mark("history");
  await until(v.page, `all ${expected} messages from history`, (n) => document.querySelectorAll("ol.messages li.message[data-message-id]").length >= n, expected);
  for (const name of names) await v.page.locator("li.message .sender", { hasText: name }).first().waitFor();

  const injected = await v.page.evaluate(() => document.querySelectorAll(
    "#root script, #root img, #root svg, #root iframe, #root object, #root embed, #root video, #root details, #root marquee, #root math, #root input[autofocus], a[href^='javascript' i]").length);
  if (injected > 0) throw new Error(`${injected} elements from message or name content made it into the page`);
  // Event handlers run asynchronously: give the page a round trip through its event loop before concluding.
  await v.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 500)));
  if (executed.length > 0) throw new Error(`executed: ${executed.join(", ")}`);
  return { vectors: vectors.length + linked.length + names.length, executed: executed.length };
}

/**
 * The pages around the chat, for Carol (signed in in the browser) with Dave (through the API): the notification feed
 * (a mention arrives live, opens its conversation, is marked read), Web Push opt-in, settings (status, quiet hours,
 * privacy, checked through the API), contacts import, an invite link to a group, and the invite page a new user
 * registers through.
 */
async function pages() {
  const carolToken = env("CAROL_TOKEN");
  const dave = { token: env("DAVE_TOKEN"), email: env("DAVE_EMAIL"), name: env("DAVE_NAME") };
  const groupId = env("GROUP_ID");
  const c = await newPage({ width: 1100, height: 800 });
  await c.page.goto(`${gateway}/`);
  await c.page.getByRole("button", { name: "Sign in" }).waitFor();
  await accessible(c.page, "the sign-in screen");
  await signIn(c.page, env("CAROL_EMAIL"));
  await accessible(c.page, "the inbox");

  // A mention from Dave: the badge counts it live; the feed lists it and opens its conversation, which reads it.
  await send(dave.token, groupId, `@${env("CAROL_USERNAME")} the report is ready`);
  await c.page.getByTestId("notification-badge").waitFor();
  await c.page.getByTestId("notifications-link").click();
  await c.page.waitForURL(/\/notifications$/);
  await c.page.getByTestId("notification").filter({ hasText: "the report is ready" }).click();
  await c.page.waitForURL(new RegExp(`/c/${groupId}$`));
  await message(c.page, "the report is ready").waitFor();
  await c.page.getByTestId("notification-badge").waitFor({ state: "detached" });
  // Another, in a conversation Carol does not open: "Mark all read" clears it.
  await send(dave.token, env("GROUP2_ID"), `@${env("CAROL_USERNAME")} and the budget too`);
  await c.page.getByTestId("notification-badge").waitFor();
  await c.page.getByTestId("notifications-link").click();
  await c.page.getByTestId("notification").filter({ hasText: "and the budget too" }).waitFor();
  await accessible(c.page, "the notification feed");
  await c.page.getByRole("button", { name: "Mark all read" }).click();
  await c.page.getByTestId("notification-badge").waitFor({ state: "detached" });
  await until(c.page, "the feed shows everything read", () => document.querySelectorAll("[data-testid=notification].unread").length === 0);
  const unread = (await api(carolToken, "GET", "/api/v1/notifications")).unreadCount;
  if (unread !== 0) throw new Error(`${unread} notifications still unread after "Mark all read"`);
  log("mentions reached the feed live; opening one read it; \"Mark all read\" read the rest");

  // Web Push: the service worker registers; this offline machine has no push service, so the browser may refuse the
  // subscription, which the page must say rather than fail silently.
  await c.context.grantPermissions(["notifications"], { origin: gateway });
  await c.page.getByRole("button", { name: "Notify me on this device" }).click();
  await until(c.page, "the push opt-in's outcome", () => [...document.querySelectorAll(".page [role=status], .page [role=alert]")]
    .some((line) => /Notifications are on|push service|blocked/.test(line.textContent ?? "")));
  const worker = await c.page.evaluate(async () => (await navigator.serviceWorker.getRegistration("/"))?.active?.scriptURL ?? null);
  if (!worker?.endsWith("/sw.js")) throw new Error(`the service worker is not active: ${worker}`);
  const pushOutcome = await c.page.locator(".page [role=status], .page [role=alert]").allTextContents();
  log(`web push opt-in: ${pushOutcome.join(" | ")}`);
  // The service worker shows a push as Notifications sends it (the DevTools protocol delivers one, as a push service
  // would): one notification, titled and tagged by its conversation.
  const cdp = await c.context.newCDPSession(c.page);
  const registration = new Promise((resolve) => cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
    const found = registrations.find((r) => r.scopeURL === `${gateway}/` && !r.isDeleted);
    if (found) resolve(found.registrationId);
  }));
  await cdp.send("ServiceWorker.enable");
  const registrationId = await Promise.race([registration, new Promise((_, reject) =>
    setTimeout(() => reject(new Error("timed out waiting for: the service worker's registration over the DevTools protocol")), timeout).unref())]);
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: gateway, registrationId,
    data: JSON.stringify({ title: "Dave Pages in Reports", body: "a pushed message", kind: "mention", conversationId: groupId, count: 2, notificationIds: [] }),
  });
  await until(c.page, "the service worker shows the push", async (id) => {
    const shown = await (await navigator.serviceWorker.getRegistration("/")).getNotifications();
    return shown.some((n) => n.title === "Dave Pages in Reports (2)" && n.body === "a pushed message" && n.tag === id);
  }, groupId);
  log("the service worker showed a pushed notification");
  // A correction (an edit) replaces the shown notification's text under the same tag; a withdrawal (read elsewhere,
  // deleted, expired) closes it.
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: gateway, registrationId,
    data: JSON.stringify({ title: "Dave Pages in Reports", body: "a corrected message", kind: "mention", conversationId: groupId, count: 1, notificationIds: [], action: "update" }),
  });
  await until(c.page, "the service worker replaces the shown push", async (id) => {
    const shown = (await (await navigator.serviceWorker.getRegistration("/")).getNotifications()).filter((n) => n.tag === id);
    return shown.length === 1 && shown[0].body === "a corrected message";
  }, groupId);
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: gateway, registrationId,
    data: JSON.stringify({ title: "", body: null, kind: "withdraw", conversationId: groupId, count: 0, notificationIds: [], action: "withdraw" }),
  });
  await until(c.page, "the service worker withdraws the shown push", async (id) =>
    (await (await navigator.serviceWorker.getRegistration("/")).getNotifications()).every((n) => n.tag !== id), groupId);
  log("the service worker replaced, then withdrew, the pushed notification");

  // Settings: status, quiet hours and privacy are saved where the services keep them.
  await c.page.getByRole("link", { name: "Settings" }).click();
  await c.page.getByLabel("Availability").waitFor();
  await c.page.getByRole("button", { name: "Save privacy settings" }).waitFor();
  await accessible(c.page, "the settings");
  await c.page.getByLabel("Availability").selectOption("dnd");
  await c.page.getByLabel("Status message").fill("In a meeting");
  await c.page.getByRole("button", { name: "Save status" }).click();
  await c.page.getByText("Status saved.").waitFor();
  const presence = await api(carolToken, "GET", "/api/v1/presence/me");
  if (presence.availability !== "dnd" || presence.statusText !== "In a meeting") throw new Error(`status not saved: ${JSON.stringify(presence)}`);
  await c.page.getByLabel("Notify me about").selectOption("mentions");
  await c.page.getByLabel(/Quiet hours/).check();
  await c.page.getByLabel("From", { exact: true }).fill("22:30");
  await c.page.getByLabel("To", { exact: true }).fill("07:15");
  await c.page.getByRole("button", { name: "Save notification settings" }).click();
  await c.page.getByText("Notification settings saved.").waitFor();
  const preferences = await api(carolToken, "GET", "/api/v1/notifications/preferences");
  if (preferences.default !== "mentions" || preferences.quietHours?.start !== "22:30" || preferences.quietHours?.end !== "07:15")
    throw new Error(`notification settings not saved: ${JSON.stringify(preferences)}`);
  await c.page.getByLabel(/Who sees when I am online/).selectOption("nobody");
  await c.page.getByLabel("Send read receipts").uncheck();
  await c.page.getByRole("button", { name: "Save privacy settings" }).click();
  await c.page.getByText("Privacy settings saved.").waitFor();
  const privacy = await api(carolToken, "GET", "/api/v1/users/me/privacy");
  if (privacy.lastSeen !== "nobody" || privacy.readReceipts !== false) throw new Error(`privacy not saved: ${JSON.stringify(privacy)}`);
  log("settings saved: status, notifications, privacy");

  // Contacts: importing Dave's address finds him; "Message" opens a conversation with him.
  await c.page.getByRole("link", { name: "Contacts" }).click();
  await c.page.getByLabel(/Email addresses or phone numbers/).fill(`${dave.email}\nnobody-${Date.now()}@example.com`);
  await c.page.getByRole("button", { name: "Find and add" }).click();
  await c.page.getByText("1 of 2 found and added.").waitFor();
  await accessible(c.page, "the contacts");
  await c.page.getByTestId("contact").filter({ hasText: dave.name }).getByRole("button", { name: /^Message/ }).click();
  await c.page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  log("contacts import found Dave, and a conversation with him opened");

  // An invite link to Dave's channel: the page shows where it leads; Join makes Carol a member and opens it.
  await c.page.goto(`${gateway}/join/${env("LINK_TOKEN")}`);
  await c.page.getByTestId("invite-preview").filter({ hasText: env("LINK_TITLE") }).waitFor();
  await accessible(c.page, "an invite link's page");
  await c.page.getByRole("button", { name: "Join" }).click();
  await c.page.waitForURL(new RegExp(`/c/${env("LINK_CONVERSATION_ID")}$`));
  await c.page.locator("#conversation-title", { hasText: env("LINK_TITLE") }).waitFor();
  await c.page.goto(`${gateway}/join/${"x".repeat(32)}`);
  await c.page.getByText("This invite link is not valid").waitFor();
  log("joined through an invite link; a bad link says so");

  // Token refresh: with the access token about to expire, the next call renews it with the refresh token (a token
  // request to Identity through the Gateway, no iframe) and goes through with the new one.
  const userKey = await c.page.evaluate(() => Object.keys(localStorage).find((key) => key.startsWith("oidc.user:")));
  const oldToken = await c.page.evaluate((key) => {
    const user = JSON.parse(localStorage.getItem(key));
    user.expires_at = Math.floor(Date.now() / 1000) + 30;
    localStorage.setItem(key, JSON.stringify(user));
    return user.access_token;
  }, userKey);
  await c.page.getByRole("link", { name: "Contacts" }).click();
  await c.page.getByTestId("contact").filter({ hasText: dave.name }).waitFor();
  await until(c.page, "the access token renewed with the refresh token", ([key, old]) => {
    const user = JSON.parse(localStorage.getItem(key));
    return user.access_token !== old && user.expires_at > Date.now() / 1000 + 120;
  }, [userKey, oldToken]);
  const renewed = await c.page.evaluate((key) => JSON.parse(localStorage.getItem(key)).access_token, userKey);
  if ((await fetch(`${gateway}/api/v1/users/me`, { headers: { authorization: `Bearer ${renewed}` } })).status !== 200) throw new Error("the renewed token is refused");
  log("the access token was renewed with the refresh token before it expired");

  // The invite page: signed out, the invite email's link opens the account form; the new account has Dave as a contact.
  const n = await newPage({ width: 390, height: 844 });
  await n.page.goto(`${gateway}/invite?invite=${encodeURIComponent(env("INVITE_TOKEN"))}`);
  await n.page.getByText("You were invited").waitFor();
  await accessible(n.page, "the invite page on a phone");
  const newbie = env("NEWBIE_EMAIL");
  await n.page.getByLabel("Display name").fill("Newbie Invited");
  await n.page.getByLabel("Email", { exact: true }).fill(newbie);
  await n.page.getByLabel("Password", { exact: true }).fill(password);
  await n.page.getByRole("button", { name: "Create account" }).click();
  await n.page.getByText("Account created").waitFor();
  await n.page.getByRole("button", { name: "Sign in" }).click();
  await n.page.waitForURL(/\/account\/login/);
  await n.page.locator("#username").fill(newbie);
  await n.page.locator("#password").fill(password);
  await n.page.getByRole("button", { name: "Sign in" }).click();
  await n.page.getByTestId("me").waitFor();
  await n.page.getByRole("link", { name: "Contacts" }).click();
  await n.page.getByTestId("contact").filter({ hasText: dave.name }).waitFor();
  log("a new user registered through the invite page and has the inviter as a contact");
  return { pushOutcome: pushOutcome.join(" | "), accessibility };
}

/**
 * A video call between two browsers: the caller starts it from the conversation, the callee's page rings and joins,
 * each sees the other's camera playing (WebRTC peer to peer, signaled through the hub), and hanging up ends the call
 * for both, recorded as completed.
 */
async function call() {
  const conversationId = env("CONVERSATION_ID");
  const a = await newPage({ width: 1000, height: 800 });
  const b = await newPage({ width: 1000, height: 800 });
  for (const side of [a, b]) await side.context.grantPermissions(["camera", "microphone"], { origin: gateway });
  await Promise.all([signIn(a.page, env("CALLER_EMAIL")), signIn(b.page, env("CALLEE_EMAIL"))]);
  await a.page.goto(`${gateway}/c/${conversationId}`);
  await a.page.getByRole("button", { name: "Video call" }).click();
  await a.page.getByTestId("call-panel").waitFor();
  await b.page.getByTestId("incoming-call").waitFor();
  log("the callee's page rings");
  await b.page.getByTestId("incoming-call").getByRole("button", { name: "Join" }).click();
  const playing = (page, who) => until(page, `${who} sees the other side's camera playing`, () => {
    const video = document.querySelector("[data-testid=video-tile]:not([data-user-id=me]) video");
    return video !== null && video.videoWidth > 0 && video.currentTime > 0.5 && !video.paused;
  });
  await Promise.all([playing(a.page, "the caller"), playing(b.page, "the callee")]);
  await accessible(a.page, "a call");
  const connected = await a.page.evaluate(() => document.querySelector("[data-testid=video-tile]:not([data-user-id=me]) video").videoWidth);
  log(`both sides see each other (remote video ${connected} px wide)`);

  await a.page.getByRole("button", { name: "Hang up" }).click();
  await a.page.getByTestId("call-panel").waitFor({ state: "detached" });
  await b.page.getByTestId("call-panel").waitFor({ state: "detached" });
  const calls = await api(env("CALLER_TOKEN"), "GET", `/api/v1/conversations/${conversationId}/calls?limit=1`);
  const last = calls.items[0];
  if (last?.state !== "ended" || last.endReason !== "completed" || last.participants.length !== 2)
    throw new Error(`the call is not recorded as completed by both: ${JSON.stringify(last)}`);
  log("hanging up ended the call for both");
  return { callId: last.id, durationSeconds: last.durationSeconds, accessibility };
}

/**
 * Conversation depth where a user looks for it: message search (a result opens the conversation at the message), pins
 * (pin from the message's actions, the pinned list, unpin), saved messages (save, the saved list, unsave), and the
 * public channel directory (browse and join); axe-core on each new view.
 */
async function depth() {
  const frankToken = env("FRANK_TOKEN");
  const groupId = env("GROUP_ID");
  const channelId = env("CHANNEL_ID");
  const word = env("WORD");
  const e = await newPage({ width: 1200, height: 800 });
  await signIn(e.page, env("ERIN_EMAIL"));

  // Search: the hit shows the matched word marked, and opens its conversation at the message.
  await e.page.getByRole("link", { name: "Search" }).click();
  await e.page.getByLabel("Words to find").fill(word);
  await e.page.getByRole("button", { name: "Search", exact: true }).click();
  const hit = e.page.getByTestId("search-hit").filter({ hasText: `report about ${word}` });
  await hit.waitFor();
  if ((await hit.locator("mark").first().textContent())?.toLowerCase() !== word) throw new Error("the matched word is not marked in the hit");
  await accessible(e.page, "search results");
  const hitId = await hit.getAttribute("data-message-id");
  await hit.getByRole("button").click();
  await e.page.waitForURL(new RegExp(`/c/${groupId}\\?m=${hitId}$`));
  await e.page.locator(`li.message.focused[data-message-id="${hitId}"]`).waitFor();
  log("a search result opened its conversation at the message");

  // Pins: from the message's actions; the pinned list shows it (and the other member's API too); unpinning empties it.
  const found = e.page.locator(`li.message[data-message-id="${hitId}"]`);
  await found.getByRole("button", { name: "Pin", exact: true }).click();
  await found.getByTestId("pinned-mark").waitFor();
  await e.page.getByRole("button", { name: "Pinned", exact: true }).click();
  await e.page.getByTestId("pinned-list").filter({ hasText: `report about ${word}` }).waitFor();
  await accessible(e.page, "a conversation with its pinned list");
  const pins = await api(frankToken, "GET", `/api/v1/conversations/${groupId}/pins`);
  if (!pins.items.some((m) => m.id === hitId)) throw new Error("the other member does not see the pin");
  await found.getByRole("button", { name: "Unpin", exact: true }).click();
  await e.page.getByText("Nothing is pinned.").waitFor();
  log("pinned, listed and unpinned");

  // Saved messages: save from the actions, find it in the saved list, open it from there, unsave it.
  await found.getByRole("button", { name: "Save for later", exact: true }).click();
  await found.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await e.page.getByRole("link", { name: "Saved" }).click();
  const saved = e.page.getByTestId("saved-message").filter({ hasText: `report about ${word}` });
  await saved.waitFor();
  await accessible(e.page, "the saved messages");
  await saved.getByRole("button", { name: "Unsave" }).click();
  await e.page.getByText("Nothing saved.", { exact: false }).waitFor();
  log("saved, listed and unsaved");

  // The channel directory: the public channel is listed; joining opens it.
  await e.page.getByRole("link", { name: "Channels" }).click();
  const channel = e.page.locator(`[data-testid=directory-channel][data-conversation-id="${channelId}"]`);
  await channel.waitFor();
  await accessible(e.page, "the channel directory");
  await channel.getByRole("button", { name: /^Join #/ }).click();
  await e.page.waitForURL(new RegExp(`/c/${channelId}$`));
  await e.page.locator("#conversation-title").filter({ hasText: word }).waitFor();
  log("joined a public channel from the directory");
  return { accessibility };
}


/** The page's local time for a datetime-local input (to the second) of an instant (ms since the epoch). */
const localInput = (page, ms) => page.evaluate((at) => {
  const d = new Date(at);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}, ms);

/**
 * Scheduled messages and time travel where a user looks for them. Erin schedules a message an hour ahead and another a
 * few seconds ahead from the composer's "Schedule for later"; the conversation's "Scheduled" list shows both; she edits the
 * first's text and cancels it (the API agrees); the second arrives by itself and leaves the list. Then she writes a
 * message, Gina joins and Frank reacts, she edits it, and "Time travel" to a time before the edit shows the old text,
 * not edited, without the reaction, with the members of then (not Gina), and the seq it stands for; "Back to now"
 * shows the edit again, and travelling to the message's own seq shows the old text too.
 */
async function later() {
  const erinToken = env("ERIN_TOKEN");
  const frankToken = env("FRANK_TOKEN");
  const groupId = env("GROUP_ID");
  const gina = { id: env("GINA_ID"), name: env("GINA_NAME") };
  const word = env("WORD");
  const e = await newPage({ width: 1200, height: 800 });
  await signIn(e.page, env("ERIN_EMAIL"));
  await e.page.goto(`${gateway}/c/${groupId}`);
  await e.page.getByTestId("conversation-start").waitFor();

  // Schedule send from the composer: one an hour ahead, one a few seconds ahead.
  const scheduleFromComposer = async (text, atMs) => {
    await e.page.locator("#composer-text").fill(text);
    await e.page.getByRole("button", { name: "Schedule for later", exact: true }).click();
    await e.page.getByLabel("Send at").fill(await localInput(e.page, atMs));
    await e.page.getByRole("group", { name: "Schedule send" }).getByRole("button", { name: "Schedule", exact: true }).click();
    await e.page.getByTestId("schedule-outcome").filter({ hasText: "Scheduled for" }).waitFor();
    if ((await e.page.locator("#composer-text").inputValue()) !== "") throw new Error("the composer still holds the scheduled text");
  };
  await scheduleFromComposer(`to edit later ${word}`, Date.now() + 60 * 60 * 1000);
  const soon = Date.now() + 12_000;
  await scheduleFromComposer(`arrives by itself ${word}`, soon);
  await e.page.getByRole("button", { name: /^Scheduled/ }).click();
  const list = e.page.getByTestId("scheduled-message");
  const first = list.filter({ hasText: `to edit later ${word}` });
  await first.waitFor();
  await list.filter({ hasText: `arrives by itself ${word}` }).waitFor();
  await accessible(e.page, "a conversation with its scheduled messages");
  log("scheduled two messages from the composer; the list shows both");

  // Edit the later one's text, then cancel it.
  const item = e.page.locator(`[data-scheduled-id="${await first.getAttribute("data-scheduled-id")}"]`);
  await item.getByRole("button", { name: "Edit" }).click();
  await item.getByLabel("Text").fill(`edited later ${word}`);
  await item.getByRole("button", { name: "Save" }).click();
  // The item shown again, not the form: React keeps a controlled textarea's text content equal to what was typed, so
  // the form itself "has" the new text before the save is done.
  const edited = list.filter({ has: e.page.locator(".scheduled-text", { hasText: `edited later ${word}` }) });
  await edited.waitFor();
  let scheduled = (await api(erinToken, "GET", `/api/v1/conversations/${groupId}/scheduled-messages`)).items;
  if (!scheduled.some((item) => item.text === `edited later ${word}`)) throw new Error(`the edit did not reach Messaging: ${JSON.stringify(scheduled)}`);
  await edited.getByRole("button", { name: "Cancel scheduled message" }).click();
  await edited.waitFor({ state: "detached" });
  scheduled = (await api(erinToken, "GET", `/api/v1/conversations/${groupId}/scheduled-messages`)).items;
  if (scheduled.some((item) => item.text.includes("edited later"))) throw new Error("the cancelled message is still scheduled");
  log("edited and cancelled a scheduled message");

  // The other one arrives by itself at its time, and leaves the list.
  await message(e.page, `arrives by itself ${word}`).waitFor();
  if (Date.now() < soon - 1000) throw new Error("the scheduled message arrived before its time");
  await list.filter({ hasText: `arrives by itself ${word}` }).waitFor({ state: "detached" });
  const history = (await api(frankToken, "GET", `/api/v1/conversations/${groupId}/messages?limit=20`)).items;
  if (history.filter((m) => m.text === `arrives by itself ${word}`).length !== 1) throw new Error("the scheduled message is not in the history once");
  await e.page.getByRole("button", { name: /^Scheduled/ }).click();
  log("the scheduled message arrived at its time, once");

  // Time travel: a message edited after a point shows as it was at that point.
  await e.page.locator("#composer-text").fill(`the plan is alpha ${word}`);
  await e.page.locator("#composer-text").press("Enter");
  const planned = message(e.page, `the plan is alpha ${word}`);
  await planned.waitFor();
  const plannedId = await planned.getAttribute("data-message-id");
  const plannedSeq = Number(await planned.getAttribute("data-seq"));
  const createdAt = Date.parse(await planned.locator("time").getAttribute("datetime"));
  const point = Math.floor(createdAt / 1000) * 1000 + 1000; // the next whole second: after the post, before what follows
  await until(e.page, "a second boundary after the post", (at) => Date.now() > at + 300, point);
  await api(frankToken, "POST", `/api/v1/conversations/${groupId}/members`, { userIds: [gina.id] });
  await api(frankToken, "PUT", `/api/v1/conversations/${groupId}/messages/${plannedId}/reactions/${encodeURIComponent("👍")}`);
  await planned.getByRole("button", { name: "Edit" }).click();
  await e.page.locator("#edit-text").fill(`the plan is beta ${word}`);
  await e.page.locator("form.edit").getByRole("button", { name: "Save" }).click();
  const now = message(e.page, `the plan is beta ${word}`);
  await now.locator(".edited").waitFor();
  await now.getByRole("button", { name: "👍 1" }).waitFor();

  await e.page.getByRole("button", { name: "Time travel" }).click();
  await e.page.getByLabel("Time", { exact: true }).fill(await localInput(e.page, point));
  await e.page.getByRole("button", { name: "Show", exact: true }).click();
  const banner = e.page.getByTestId("travel-banner");
  await banner.filter({ hasText: "Viewing as of" }).waitFor();
  const then = e.page.getByTestId("time-travel").locator("li.message").filter({ hasText: `the plan is alpha ${word}` });
  await then.waitFor();
  if (await then.locator(".edited").count() !== 0) throw new Error("the message shows as edited as of before its edit");
  if (await then.locator(".reaction").count() !== 0) throw new Error("the reaction shows as of before it was added");
  if (await e.page.getByTestId("time-travel").getByText(`the plan is beta ${word}`).count() !== 0) throw new Error("the edited text shows as of before the edit");
  await banner.filter({ hasText: `(seq ${plannedSeq})` }).waitFor();
  const members = e.page.getByTestId("travel-members");
  await members.filter({ hasText: "Members then:" }).waitFor();
  if ((await members.textContent()).includes(gina.name)) throw new Error(`Gina shows among the members before she joined: ${await members.textContent()}`);
  if (await e.page.locator("#composer-text").count() !== 0) throw new Error("the past view has a composer");
  await accessible(e.page, "a conversation as of a time");
  await e.page.getByRole("button", { name: "Back to now" }).click();
  await message(e.page, `the plan is beta ${word}`).waitFor();
  // By seq: the message's own seq, before its edit.
  await e.page.getByRole("button", { name: "Time travel" }).click();
  await e.page.getByLabel("at a seq").check();
  await e.page.getByLabel("Seq", { exact: true }).fill(String(plannedSeq));
  await e.page.getByRole("button", { name: "Show", exact: true }).click();
  await e.page.getByTestId("time-travel").locator("li.message").filter({ hasText: `the plan is alpha ${word}` }).waitFor();
  await e.page.getByRole("button", { name: "Back to now" }).click();
  await message(e.page, `the plan is beta ${word}`).waitFor();
  log("time travel showed the text, reactions and members from before the edit, by time and by seq");
  return { accessibility };
}

/**
 * Reading together: `@channel` shows as a mass mention and the composer's autocomplete offers it; "Mark unread" puts the
 * unread marker at the message and the inbox badge back, until Erin leaves and comes back; "Forward" sends a message to
 * another conversation, where Erin sees its origin and can open it, and Gina, who is not in the origin, sees it as
 * unavailable.
 */
async function reading() {
  const erinToken = env("ERIN_TOKEN");
  const frankToken = env("FRANK_TOKEN");
  const originId = env("ORIGIN_ID");
  const elsewhereId = env("ELSEWHERE_ID");
  const word = env("WORD");
  const [e, g] = [await newPage({ width: 1200, height: 800 }), await newPage({ width: 1200, height: 800 })];
  await Promise.all([signIn(e.page, env("ERIN_EMAIL")), signIn(g.page, env("GINA_EMAIL"))]);

  // @channel from Frank shows as a mass mention.
  await e.page.locator(`.inbox-row[data-conversation-id="${originId}"]`).click();
  const everyone = message(e.page, `@channel standup ${word}`);
  await everyone.getByTestId("mass-mention").filter({ hasText: "@channel" }).waitFor();
  // The composer offers @channel and @here.
  await e.page.locator("#composer-text").pressSequentially("@ch", { delay: 30 });
  await e.page.getByRole("option", { name: /@channel/ }).waitFor();
  await e.page.locator("#composer-text").press("Enter");
  if ((await e.page.locator("#composer-text").inputValue()) !== "@channel ") throw new Error("picking @channel did not complete it");
  await e.page.locator("#composer-text").pressSequentially(`all hands ${word}`);
  await e.page.locator("#composer-text").press("Enter");
  await message(e.page, `all hands ${word}`).getByTestId("mass-mention").waitFor();
  const posted = (await api(frankToken, "GET", `/api/v1/conversations/${originId}/messages?limit=20`)).items.find((m) => m.text === `@channel all hands ${word}`);
  if (posted?.massMention !== "channel") throw new Error(`Erin's @channel is not a mass mention: ${JSON.stringify(posted)}`);
  log("@channel is highlighted and offered by the autocomplete");

  // Mark unread: the marker at the message, the inbox badge back; leaving and coming back reads it again.
  const row = e.page.locator(`.inbox-row[data-conversation-id="${originId}"]`);
  await row.getByTestId("unread-badge").waitFor({ state: "detached" });
  const second = message(e.page, `second of three ${word}`);
  const secondSeq = await second.getAttribute("data-seq");
  await second.getByRole("button", { name: "Mark unread" }).click();
  await e.page.locator(`[data-testid=unread-marker][data-seq="${secondSeq}"]`).waitFor();
  await row.getByTestId("unread-badge").waitFor();
  const unread = Number(await row.getByTestId("unread-badge").textContent());
  if (unread < 2) throw new Error(`the badge says ${unread} unread after marking the second of three unread`);
  const inbox = (await api(erinToken, "GET", "/api/v1/conversations?limit=50")).items.find((r) => r.id === originId);
  if (inbox.unreadCount !== unread) throw new Error(`Messaging says ${inbox.unreadCount} unread, the badge ${unread}`);
  await accessible(e.page, "a conversation marked unread");
  await e.page.locator(`.inbox-row[data-conversation-id="${elsewhereId}"]`).click();
  await e.page.waitForURL(new RegExp(`/c/${elsewhereId}$`));
  if (await row.getByTestId("unread-badge").count() === 0) throw new Error("the unread badge went away before Erin came back");
  await row.click();
  await row.getByTestId("unread-badge").waitFor({ state: "detached" });
  if (await e.page.getByTestId("unread-marker").count() !== 0) throw new Error("the unread marker stays after coming back");
  log("mark unread moved the marker and the badge; coming back read it");

  // Forward: to the conversation with Gina; Erin sees the origin and opens it, Gina sees it as unavailable.
  const third = message(e.page, `third of three ${word}`);
  const thirdId = await third.getAttribute("data-message-id");
  await third.getByRole("button", { name: "Forward" }).click();
  await third.getByLabel("Forward to").selectOption(elsewhereId);
  await third.getByRole("button", { name: "Send forward" }).click();
  await third.getByRole("status").filter({ hasText: "Forwarded to" }).waitFor();
  await e.page.locator(`.inbox-row[data-conversation-id="${elsewhereId}"]`).click();
  const forwarded = message(e.page, `third of three ${word}`);
  await forwarded.locator('[data-testid=forwarded][data-origin="available"]').waitFor();
  await g.page.locator(`.inbox-row[data-conversation-id="${elsewhereId}"]`).click();
  const unavailable = message(g.page, `third of three ${word}`).locator('[data-testid=forwarded][data-origin="unavailable"]');
  await unavailable.waitFor();
  if (!(await unavailable.textContent()).includes("not available")) throw new Error("the unavailable origin does not say so");
  await accessible(g.page, "a forward whose origin the reader cannot open");
  await forwarded.getByTestId("forwarded").getByRole("button").click();
  await e.page.waitForURL(new RegExp(`/c/${originId}\\?m=${thirdId}$`));
  await e.page.locator(`li.message.focused[data-message-id="${thirdId}"]`).waitFor();
  log("a forward shows its origin to who may open it, and unavailable to who may not");
  return { accessibility };
}

async function threads() {
  const aliceToken = env("ALICE_TOKEN");
  const bobToken = env("BOB_TOKEN");
  const bobUsername = env("BOB_USERNAME");
  const aliceUsername = env("ALICE_USERNAME");
  const groupId = env("GROUP_ID");
  const rootId = env("ROOT_ID");
  const word = env("WORD");
  const reply = (token, text) => api(token, "POST", `/api/v1/conversations/${groupId}/messages`, { clientMessageId: crypto.randomUUID(), text, replyTo: rootId });
  const a = await newPage({ width: 1200, height: 800 });
  await signIn(a.page, env("ALICE_EMAIL"));

  // Alice follows the thread by replying in it; the Threads page (from the navigation) lists it, nothing unread.
  await reply(aliceToken, `count me in ${word}`);
  await a.page.getByRole("link", { name: "Threads" }).click();
  await a.page.waitForURL(/\/threads$/);
  const row = a.page.locator(`[data-testid=followed-thread][data-message-id="${rootId}"]`);
  await row.filter({ hasText: `plan for ${word}` }).waitFor();
  const unread = row.getByTestId("thread-unread");
  const mentions = row.getByTestId("thread-mentions");
  if ((await unread.getAttribute("data-count")) !== "0") throw new Error(`Alice's own reply counts as unread: ${await unread.textContent()}`);
  log("the followed thread is listed with nothing unread");

  // Bob replies twice, mentioning Alice once: the counts follow live (no reload), highlighted.
  await reply(bobToken, `first answer ${word}`);
  await reply(bobToken, `@${aliceUsername} second answer ${word}`);
  await row.locator('[data-testid=thread-unread][data-count="2"]').waitFor();
  await row.locator('[data-testid=thread-mentions][data-count="1"]').waitFor();
  if (!(await unread.getAttribute("class"))?.includes("badge") || !(await mentions.getAttribute("class"))?.includes("mention"))
    throw new Error("non-zero counts are not highlighted");
  if (!(await row.textContent()).includes("3 replies")) throw new Error(`the row does not say 3 replies: ${await row.textContent()}`);
  const listed = (await api(aliceToken, "GET", "/api/v1/threads")).items.find((t) => t.id === rootId);
  if (listed?.unreadCount !== 2 || listed?.mentionCount !== 1) throw new Error(`Messaging counts ${JSON.stringify(listed)}`);
  await accessible(a.page, "the followed threads with unread replies and a mention");
  log(`Bob's replies show as 2 unread and 1 mention (${bobUsername})`);

  // Opening the row opens the thread view; reading it there clears the counts on the Threads page.
  await row.getByRole("button").click();
  await a.page.waitForURL(new RegExp(`/c/${groupId}\\?t=${rootId}$`));
  const thread = a.page.getByTestId("thread");
  await message(thread, `second answer ${word}`).waitFor();
  await message(thread, `first answer ${word}`).waitFor();
  await a.page.getByRole("link", { name: "Threads" }).click();
  await row.locator('[data-testid=thread-unread][data-count="0"]').waitFor();
  await row.locator('[data-testid=thread-mentions][data-count="0"]').waitFor();
  const read = (await api(aliceToken, "GET", "/api/v1/threads")).items.find((t) => t.id === rootId);
  if (read?.unreadCount !== 0 || read?.mentionCount !== 0) throw new Error(`after reading, Messaging counts ${JSON.stringify(read)}`);
  log("opening the thread read it: the counts cleared");
  return { accessibility };
}

const scenarios = { chat, offline, xss, pages, call, depth, later, reading, threads };
let exitCode = 0;
try {
  const scenario = scenarios[env("SCENARIO")];
  if (!scenario) throw new Error(`unknown SCENARIO ${process.env.SCENARIO}`);
  const result = await scenario();
  mark("done");
  console.log(JSON.stringify({ ok: true, ...result, timings }));
} catch (error) {
  console.error(error?.stack ?? String(error));
  exitCode = 1;
} finally {
  await browser.close().catch(() => undefined);
}
process.exit(exitCode);
