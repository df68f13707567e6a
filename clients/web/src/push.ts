import type { PlatformClient } from "@platform/client";
import { errorText } from "./format";

const subscribeTimeoutMs = 20_000;

/** Whether this browser can receive Web Push through a service worker. */
export function pushSupported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/**
 * Turns on Web Push for this browser: asks for permission, registers the app's service worker (`/sw.js`, which shows
 * the notifications and opens their conversation on a click), subscribes with the platform's VAPID key and registers
 * the subscription with Notifications. Doing it again re-registers the same subscription.
 */
export async function turnOnPush(client: PlatformClient): Promise<void> {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("Notifications are blocked for this site: allow them in the browser's site settings.");
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const key = await client.getVapidPublicKey();
    // The browser asks its vendor's push service, which may not answer at all (a network that blocks it): the page says
    // so after a while rather than waiting for ever.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silence = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The browser's push service did not answer within ${subscribeTimeoutMs / 1000} s; try again later.`)), subscribeTimeoutMs);
    });
    try {
      subscription = await Promise.race([
        registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(key) }).catch((error: unknown) => {
          throw new Error(`The browser's push service refused the subscription (${errorText(error)}).`);
        }),
        silence,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
  const json = subscription.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) throw new Error("The browser gave a push subscription without its keys.");
  await client.subscribeToPush({ endpoint: json.endpoint, expirationTime: json.expirationTime ?? null, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } });
}

/**
 * Signing out: this browser's push subscription is deleted from the account and unsubscribed, so the next person to use
 * the browser gets none of this account's notifications. Best effort: sign-out goes on whatever happens.
 */
export async function turnOffPush(client: PlatformClient): Promise<void> {
  if (!pushSupported()) return;
  try {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription) return;
    await client.unsubscribeFromPush(subscription.endpoint).catch(() => undefined);
    await subscription.unsubscribe();
  } catch {
    // Nothing registered, or offline: the push service drops it when it is gone.
  }
}

/** A click on a notification while a page of the app is open: the service worker asks that page to open the conversation. */
export function onNotificationClick(open: (conversationId: string) => void): () => void {
  if (!("serviceWorker" in navigator)) return () => undefined;
  const listener = (event: MessageEvent) => {
    const data = event.data as { type?: unknown; conversationId?: unknown } | null;
    if (data?.type === "open-conversation" && typeof data.conversationId === "string") open(data.conversationId);
  };
  navigator.serviceWorker.addEventListener("message", listener);
  return () => navigator.serviceWorker.removeEventListener("message", listener);
}

function fromBase64Url(value: string): Uint8Array<ArrayBuffer> {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
