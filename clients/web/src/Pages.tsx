import { type FormEvent, type ReactNode, useEffect, useState, useSyncExternalStore } from "react";
import type {
  BlockedUser, Contact, InvitePreview, MyPresence, NotificationPreferences, PrivacySettings,
} from "@platform/client";
import type { ChatStore } from "./chat";
import { timeOf, errorText } from "./format";
import { pushSupported, turnOnPush } from "./push";

/** Runs an action with a busy flag and an error line; `done` says what happened, for a role="status" line. */
export function useAction(): [busy: boolean, message: { text: string; error: boolean } | undefined, run: (work: () => Promise<string | void>) => Promise<void>] {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();
  const run = async (work: () => Promise<string | void>) => {
    setBusy(true);
    setMessage(undefined);
    try {
      const done = await work();
      if (done) setMessage({ text: done, error: false });
    } catch (error) {
      setMessage({ text: errorText(error), error: true });
    } finally {
      setBusy(false);
    }
  };
  return [busy, message, run];
}

export function Outcome({ message }: { message: { text: string; error: boolean } | undefined }) {
  if (!message) return null;
  return message.error ? <p role="alert" className="error">{message.text}</p> : <p role="status" className="notice">{message.text}</p>;
}

export function Page({ title, onBack, children }: { title: string; onBack: () => void; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="conversation-header">
        <button type="button" className="back" onClick={onBack} aria-label="Back to conversations">←</button>
        <h2 id="page-title">{title}</h2>
      </header>
      <div className="page-body">{children}</div>
    </section>
  );
}

/** The notification feed: newest first, live; opening one opens its conversation; "Mark all read" clears the badge. */
export function NotificationsPage({ store, onOpen, onBack }: { store: ChatStore; onOpen: (conversationId: string) => void; onBack: () => void }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [busy, message, run] = useAction();
  const items = store.notifications;
  return (
    <Page title="Notifications" onBack={onBack}>
      <div className="row">
        <button type="button" disabled={busy || store.unreadNotifications === 0} onClick={() => void run(() => store.markNotificationsRead())}>
          Mark all read
        </button>
        <PushOptIn store={store} />
      </div>
      <Outcome message={message} />
      {!store.notificationsLoaded ? <p role="status">Loading notifications…</p> : items.length === 0 ? <p className="empty">Nothing yet.</p> : (
        <ul className="feed" aria-label="Notifications">
          {items.map((item) => (
            <li key={item.id} className={item.read ? "read" : "unread"} data-testid="notification" data-kind={item.kind}>
              <button type="button" className="feed-item" disabled={!item.conversationId} onClick={() => item.conversationId && onOpen(item.conversationId)}>
                <span className="feed-title">{!item.read && <span className="visually-hidden">Unread: </span>}{item.title}</span>
                {item.body && <span className="feed-body">{item.body}</span>}
                <time className="muted" dateTime={item.createdAt}>{new Date(item.createdAt).toLocaleDateString()} {timeOf(item.createdAt)}</time>
              </button>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

/** Web Push for this browser: a service worker shows notifications while no page of the app is open. */
function PushOptIn({ store }: { store: ChatStore }) {
  const [busy, message, run] = useAction();
  if (!pushSupported()) return <p className="muted">This browser cannot show notifications while the app is closed.</p>;
  return (
    <>
      <button type="button" disabled={busy} onClick={() => void run(async () => {
        await turnOnPush(store.client);
        return "Notifications are on for this browser.";
      })}>
        Notify me on this device
      </button>
      <Outcome message={message} />
    </>
  );
}

/** Contacts: the list (message or remove), import by address, and invites by email. */
export function ContactsPage({ store, onOpen, onBack }: { store: ChatStore; onOpen: (conversationId: string) => void; onBack: () => void }) {
  const [contacts, setContacts] = useState<Contact[] | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [busy, message, run] = useAction();
  const [addresses, setAddresses] = useState("");
  const [inviteEmail, setInviteEmail] = useState("");

  const load = async () => {
    try {
      setContacts((await store.client.getContacts()).items);
      setLoadError(undefined);
    } catch (error) {
      setLoadError(errorText(error));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const importAddresses = (event: FormEvent) => {
    event.preventDefault();
    const entries = addresses.split(/[\s,;]+/).map((entry) => entry.trim()).filter(Boolean);
    if (entries.length === 0) return;
    void run(async () => {
      const emails = entries.filter((entry) => entry.includes("@"));
      const phones = entries.filter((entry) => !entry.includes("@"));
      const result = await store.client.importContacts({ emails, phones });
      setAddresses("");
      await load();
      return result.matches.length === 0 ? "None of them is here yet: invite them below." : `${result.matches.length} of ${entries.length} found and added.`;
    });
  };

  const invite = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      await store.client.invite({ email: inviteEmail.trim() });
      const sent = inviteEmail.trim();
      setInviteEmail("");
      return `Invite sent to ${sent}.`;
    });
  };

  return (
    <Page title="Contacts" onBack={onBack}>
      <Outcome message={message} />
      <h3>Your contacts</h3>
      {loadError && <p role="alert" className="error">{loadError}</p>}
      {!contacts ? !loadError && <p role="status">Loading contacts…</p> : contacts.length === 0 ? <p className="empty">No contacts yet.</p> : (
        <ul className="people" aria-label="Contacts">
          {contacts.map((contact) => (
            <li key={contact.userId} className="person" data-testid="contact">
              <span>{contact.displayName} <span className="muted">@{contact.username}</span></span>
              <button type="button" disabled={busy} onClick={() => void run(async () => onOpen((await store.startConversation([contact.userId])).id))}>
                Message<span className="visually-hidden"> {contact.displayName}</span>
              </button>
              <button type="button" disabled={busy} onClick={() => void run(async () => {
                await store.client.removeContact(contact.userId);
                await load();
                return `${contact.displayName} removed.`;
              })}>
                Remove<span className="visually-hidden"> {contact.displayName}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={importAddresses} className="stack" aria-labelledby="import-heading">
        <h3 id="import-heading">Find people you know</h3>
        <label htmlFor="import-addresses">Email addresses or phone numbers (one per line)</label>
        <textarea id="import-addresses" rows={3} value={addresses} onChange={(e) => setAddresses(e.target.value)} />
        <button type="submit" disabled={busy}>Find and add</button>
      </form>
      <form onSubmit={invite} className="stack" aria-labelledby="invite-heading">
        <h3 id="invite-heading">Invite someone</h3>
        <label htmlFor="invite-email">Their email address</label>
        <input id="invite-email" type="email" required value={inviteEmail} onChange={(e) => setInviteEmail(e.target.value)} autoComplete="off" />
        <button type="submit" disabled={busy}>Send invite</button>
      </form>
    </Page>
  );
}

const statuses = [
  { value: "available", label: "Available" },
  { value: "away", label: "Away" },
  { value: "dnd", label: "Do not disturb" },
  { value: "invisible", label: "Invisible (appear offline)" },
];

/** Settings: my status, notifications (default level, quiet hours), privacy, and who I blocked. */
export function SettingsPage({ store, onBack }: { store: ChatStore; onBack: () => void }) {
  return (
    <Page title="Settings" onBack={onBack}>
      <StatusSettings store={store} />
      <NotificationSettings store={store} />
      <PrivacySettingsForm store={store} />
      <BlockedUsers store={store} />
    </Page>
  );
}

function StatusSettings({ store }: { store: ChatStore }) {
  const [presence, setPresence] = useState<MyPresence | undefined>();
  const [status, setStatus] = useState("available");
  const [text, setText] = useState("");
  const [busy, message, run] = useAction();
  useEffect(() => {
    store.client.getMyPresence().then((mine) => {
      setPresence(mine);
      setStatus(mine.availability);
      setText(mine.statusText ?? "");
    }, () => undefined);
  }, [store]);
  // The form shows once what is set is known: a late answer never overwrites what the user chose meanwhile.
  if (!presence) return <p role="status">Loading your status…</p>;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      setPresence(await store.client.setStatus(status, text.trim() || undefined));
      return "Status saved.";
    });
  };
  return (
    <form onSubmit={save} className="stack" aria-labelledby="status-heading">
      <h3 id="status-heading">Status</h3>
      <label htmlFor="status">Availability</label>
      <select id="status" value={status} onChange={(e) => setStatus(e.target.value)}>
        {statuses.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
      </select>
      <label htmlFor="status-text">Status message</label>
      <input id="status-text" maxLength={100} value={text} onChange={(e) => setText(e.target.value)} placeholder="In a meeting" />
      <p className="muted" data-testid="shown-as">Others see you as {presence.status}.</p>
      <button type="submit" disabled={busy}>Save status</button>
      <Outcome message={message} />
    </form>
  );
}

function NotificationSettings({ store }: { store: ChatStore }) {
  const [preferences, setPreferences] = useState<NotificationPreferences | undefined>();
  const [level, setLevel] = useState("all");
  const [quiet, setQuiet] = useState(false);
  const [start, setStart] = useState("22:00");
  const [end, setEnd] = useState("07:00");
  const [busy, message, run] = useAction();
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  useEffect(() => {
    store.client.getNotificationPreferences().then((loaded) => {
      setPreferences(loaded);
      setLevel(loaded.default ?? "all");
      setQuiet(loaded.quietHours !== null);
      if (loaded.quietHours) {
        setStart(loaded.quietHours.start);
        setEnd(loaded.quietHours.end);
      }
    }, () => undefined);
  }, [store]);
  if (!preferences) return <p role="status">Loading notification settings…</p>;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      setPreferences(await store.client.setNotificationPreferences({
        default: level,
        conversations: preferences.conversations ?? [],
        quietHours: quiet ? { start, end, timeZone: preferences.quietHours?.timeZone ?? timeZone } : null,
      }));
      return "Notification settings saved.";
    });
  };
  return (
    <form onSubmit={save} className="stack" aria-labelledby="notification-settings-heading">
      <h3 id="notification-settings-heading">Notifications</h3>
      <label htmlFor="notify-level">Notify me about</label>
      <select id="notify-level" value={level} onChange={(e) => setLevel(e.target.value)}>
        <option value="all">Every message</option>
        <option value="mentions">Mentions and direct messages</option>
        <option value="none">Nothing</option>
      </select>
      <label className="check">
        <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.target.checked)} /> Quiet hours (no push notifications)
      </label>
      {quiet && (
        <div className="row">
          <span>
            <label htmlFor="quiet-start">From</label>
            <input id="quiet-start" type="time" required value={start} onChange={(e) => setStart(e.target.value)} />
          </span>
          <span>
            <label htmlFor="quiet-end">To</label>
            <input id="quiet-end" type="time" required value={end} onChange={(e) => setEnd(e.target.value)} />
          </span>
        </div>
      )}
      {quiet && <p className="muted">In your time zone, {preferences.quietHours?.timeZone ?? timeZone}.</p>}
      <button type="submit" disabled={busy}>Save notification settings</button>
      <Outcome message={message} />
    </form>
  );
}

function PrivacySettingsForm({ store }: { store: ChatStore }) {
  const [privacy, setPrivacy] = useState<PrivacySettings | undefined>();
  const [busy, message, run] = useAction();
  useEffect(() => {
    store.client.getPrivacy().then(setPrivacy, () => undefined);
  }, [store]);
  if (!privacy) return <p role="status">Loading privacy settings…</p>;
  const save = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      setPrivacy(await store.client.setPrivacy({
        lastSeen: privacy.lastSeen as "everyone" | "contacts" | "nobody", readReceipts: privacy.readReceipts, whoCanAdd: privacy.whoCanAdd as "everyone" | "contacts",
      }));
      return "Privacy settings saved.";
    });
  };
  return (
    <form onSubmit={save} className="stack" aria-labelledby="privacy-heading">
      <h3 id="privacy-heading">Privacy</h3>
      <label htmlFor="last-seen">Who sees when I am online and when I was last seen</label>
      <select id="last-seen" value={privacy.lastSeen} onChange={(e) => setPrivacy({ ...privacy, lastSeen: e.target.value })}>
        <option value="everyone">Everyone I share a conversation with</option>
        <option value="contacts">My contacts</option>
        <option value="nobody">Nobody</option>
      </select>
      <label className="check">
        <input type="checkbox" checked={privacy.readReceipts} onChange={(e) => setPrivacy({ ...privacy, readReceipts: e.target.checked })} /> Send read receipts
      </label>
      <label htmlFor="who-can-add">Who can add me to groups</label>
      <select id="who-can-add" value={privacy.whoCanAdd} onChange={(e) => setPrivacy({ ...privacy, whoCanAdd: e.target.value })}>
        <option value="everyone">Everyone</option>
        <option value="contacts">My contacts</option>
      </select>
      <button type="submit" disabled={busy}>Save privacy settings</button>
      <Outcome message={message} />
    </form>
  );
}

function BlockedUsers({ store }: { store: ChatStore }) {
  const [blocks, setBlocks] = useState<BlockedUser[] | undefined>();
  const [busy, message, run] = useAction();
  const load = () => store.client.getBlocks().then((page) => setBlocks(page.items), () => undefined);
  useEffect(() => {
    void load();
  }, [store]);
  return (
    <section className="stack" aria-labelledby="blocked-heading">
      <h3 id="blocked-heading">Blocked people</h3>
      {!blocks ? <p role="status">Loading…</p> : blocks.length === 0 ? <p className="muted">You have not blocked anyone.</p> : (
        <ul className="people" aria-label="Blocked people">
          {blocks.map((block) => (
            <li key={block.userId} className="person">
              <span>{block.displayName} <span className="muted">@{block.username}</span></span>
              <button type="button" disabled={busy} onClick={() => void run(async () => {
                await store.client.unblockUser(block.userId);
                await load();
                return `${block.displayName} unblocked.`;
              })}>
                Unblock<span className="visually-hidden"> {block.displayName}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <Outcome message={message} />
    </section>
  );
}

/** An invite link to a conversation (`/join/{token}`): what it leads to, and joining it. */
export function JoinPage({ store, token, onJoined, onBack }: { store: ChatStore; token: string; onJoined: (conversationId: string) => void; onBack: () => void }) {
  const [preview, setPreview] = useState<InvitePreview | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, message, run] = useAction();
  useEffect(() => {
    store.client.getInviteLink(token).then(setPreview, (e: unknown) => setError(
      (e as { status?: number }).status === 404 ? "This invite link is not valid: it may have expired." : errorText(e)));
  }, [store, token]);
  return (
    <Page title="Invitation" onBack={onBack}>
      {error && <p role="alert" className="error">{error}</p>}
      {!preview && !error && <p role="status">Opening the invitation…</p>}
      {preview && (
        <div className="stack" data-testid="invite-preview">
          <p>You are invited to the {preview.kind} <strong>{preview.title ?? "without a title"}</strong>.</p>
          {preview.topic && <p className="muted">{preview.topic}</p>}
          <p className="muted">{preview.memberCount === 1 ? "1 member" : `${preview.memberCount} members`} · the link works until {new Date(preview.expiresAt).toLocaleDateString()}</p>
          <button type="button" className="primary" disabled={busy} onClick={() => void run(async () => {
            const conversation = await store.client.joinByInviteLink(token);
            await store.refreshInbox();
            onJoined(conversation.id);
          })}>
            Join
          </button>
        </div>
      )}
      <Outcome message={message} />
    </Page>
  );
}
