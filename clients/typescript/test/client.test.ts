import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRetryAfter, PasswordTokenSource, PlatformClient, PlatformError } from "../src/index.js";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

test("Retry-After as seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter("3"), 3);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 0), 10);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
});

test("the password grant signs in once, refreshes with the refresh token before expiry, and signs in again if it is refused", async () => {
  let now = 0;
  const grants: string[] = [];
  let refuseRefresh = false;
  const fetch = (async (_url: unknown, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body));
    grants.push(form.get("grant_type")!);
    assert.equal(form.get("client_id"), "platform-cli");
    if (form.get("grant_type") === "refresh_token" && refuseRefresh) return json(400, { error: "invalid_grant" });
    return json(200, { access_token: `token${grants.length}`, refresh_token: `refresh${grants.length}`, expires_in: 300 });
  }) as typeof globalThis.fetch;
  const tokens = new PasswordTokenSource({ gatewayUrl: "http://gateway", username: "a@example.com", password: "p", fetch, now: () => now });

  assert.deepEqual(await Promise.all([tokens.getAccessToken(), tokens.getAccessToken()]), ["token1", "token1"]);
  now = 200_000; // 100 s before expiry: still good
  assert.equal(await tokens.getAccessToken(), "token1");
  now = 250_000; // within the 60 s margin: refreshed
  assert.equal(await tokens.getAccessToken(), "token2");
  assert.deepEqual(grants, ["password", "refresh_token"]);
  refuseRefresh = true;
  now = 600_000;
  assert.equal(await tokens.getAccessToken(), "token4");
  assert.deepEqual(grants, ["password", "refresh_token", "refresh_token", "password"]);
});

test("problem details become a PlatformError with status, title, detail and Retry-After", async () => {
  const fetch = (async () => json(429, { title: "Too many requests", detail: "Slow down.", status: 429 }, { "retry-after": "7" })) as typeof globalThis.fetch;
  const client = new PlatformClient({ gatewayUrl: "http://gateway/", accessTokenFactory: () => "t", fetch, sendRetries: 0 });
  const error = await client.getConversation("c").catch((e: unknown) => e);
  assert.ok(error instanceof PlatformError);
  assert.equal(error.status, 429);
  assert.equal(error.title, "Too many requests");
  assert.equal(error.detail, "Slow down.");
  assert.equal(error.retryAfter, 7);
  await client.close();
});

test("a send that failed on the way is retried with the same clientMessageId; a refusal is not retried", async () => {
  const ids: string[] = [];
  const auth: string[] = [];
  let failures = 2;
  const fetch = (async (request: Request) => {
    auth.push(request.headers.get("authorization")!);
    const body = (await request.json()) as { clientMessageId: string; text: string };
    ids.push(body.clientMessageId);
    if (body.text === "refused") return json(403, { title: "Forbidden", status: 403 });
    if (failures-- > 0) throw new TypeError("fetch failed");
    return json(201, { id: "m", seq: 1, text: body.text, clientMessageId: body.clientMessageId });
  }) as unknown as typeof globalThis.fetch;
  const client = new PlatformClient({ gatewayUrl: "http://gateway", accessTokenFactory: async () => "secret", fetch });

  const message = await client.sendMessage("c", "hello");
  assert.equal(ids.length, 3);
  assert.equal(new Set(ids).size, 1);
  assert.equal(message.clientMessageId, ids[0]);
  assert.ok(auth.every((header) => header === "Bearer secret"));

  ids.length = 0;
  await assert.rejects(client.sendMessage("c", "refused"), (error: unknown) => error instanceof PlatformError && error.status === 403);
  assert.equal(ids.length, 1);
  await client.close();
});

test("time travel: getSeqAt asks for the seq at a time; getMessagesAsOf and getMembers pass the point", async () => {
  const urls: string[] = [];
  const fetch = (async (request: Request) => {
    urls.push(request.url);
    if (new URL(request.url).pathname.endsWith("/seq")) return json(200, { seq: 42 });
    return json(200, { items: [], next: null });
  }) as typeof globalThis.fetch;
  const client = new PlatformClient({ gatewayUrl: "http://gateway/", accessTokenFactory: () => "t", fetch });
  assert.equal(await client.getSeqAt("c1", "2026-12-06T09:00:00.000Z"), 42);
  await client.getMessagesAsOf("c1", { asOfSeq: 42 }, { before: 40 });
  await client.getMembers("c1", { asOfSeq: 42, limit: 200 });
  const [seq, messages, members] = urls.map((url) => new URL(url));
  assert.equal(seq!.pathname, "/api/v1/conversations/c1/seq");
  assert.equal(seq!.searchParams.get("at"), "2026-12-06T09:00:00.000Z");
  assert.equal(messages!.searchParams.get("asOfSeq"), "42");
  assert.equal(messages!.searchParams.get("before"), "40");
  assert.equal(members!.searchParams.get("asOfSeq"), "42");
  await client.close();
});
