// The web app's service worker: shows the platform's Web Push notifications (payload `{ title, body, kind,
// conversationId, count, notificationIds, action, tag }`, sent by Notifications) and opens their conversation on a
// click. One notification per conversation, under its tag: `action` "show" shows it (replacing an older one),
// "update" replaces its text (an edit, a delete, a read of part of it) without alerting again, and "withdraw" closes
// it (everything it showed was read or deleted, on any device). Every field is shown as text by the browser's
// notification UI; nothing from the payload becomes a URL but a conversation id that looks like one.
const conversationPath = (id) => (typeof id === "string" && /^[0-9a-f-]{36}$/i.test(id) ? `/c/${id}` : "/");

// The notification's tag is its conversation's id (the payload's `tag` is the same conversation, without dashes).
const tagOf = (payload) => {
  if (typeof payload.conversationId === "string") return payload.conversationId;
  return typeof payload.tag === "string" && /^[0-9a-f]{32}$/i.test(payload.tag) ? payload.tag : undefined;
};

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = {};
  }
  const tag = tagOf(payload);
  if (payload.action === "withdraw") {
    event.waitUntil((async () => {
      const shown = await self.registration.getNotifications(tag ? { tag } : undefined);
      for (const notification of shown) notification.close();
    })());
    return;
  }
  const title = typeof payload.title === "string" && payload.title ? payload.title : "New activity";
  const count = typeof payload.count === "number" && payload.count > 1 ? ` (${payload.count})` : "";
  event.waitUntil((async () => {
    if (payload.action === "update") {
      // Only a notification still shown is corrected: one the user closed stays closed.
      const shown = tag ? await self.registration.getNotifications({ tag }) : [];
      if (shown.length === 0) return;
    }
    await self.registration.showNotification(title + count, {
      body: typeof payload.body === "string" ? payload.body : "",
      // One notification per conversation: a newer one replaces it.
      tag,
      renotify: false,
      silent: payload.action === "update",
      data: { conversationId: payload.conversationId },
    });
  })());
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
