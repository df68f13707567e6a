// The web app's service worker: shows the platform's Web Push notifications (payload `{ title, body, kind,
// conversationId, count, notificationIds }`, sent by Notifications) and opens their conversation on a click.
// Every field is shown as text by the browser's notification UI; nothing from the payload becomes a URL but a
// conversation id that looks like one.
const conversationPath = (id) => (typeof id === "string" && /^[0-9a-f-]{36}$/i.test(id) ? `/c/${id}` : "/");

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = {};
  }
  const title = typeof payload.title === "string" && payload.title ? payload.title : "New activity";
  const count = typeof payload.count === "number" && payload.count > 1 ? ` (${payload.count})` : "";
  event.waitUntil(self.registration.showNotification(title + count, {
    body: typeof payload.body === "string" ? payload.body : "",
    // One notification per conversation: a newer one replaces it.
    tag: typeof payload.conversationId === "string" ? payload.conversationId : undefined,
    data: { conversationId: payload.conversationId },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (open) {
      open.postMessage({ type: "open-conversation", conversationId });
      return open.focus();
    }
    return self.clients.openWindow(conversationPath(conversationId));
  })());
});
