import { type FormEvent, useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { PublicProfile } from "@platform/client";
import type { ChatStore } from "./chat";
import { CallPanel } from "./CallPanel";
import { ConversationView } from "./ConversationView";
import { ContactsPage, JoinPage, NotificationsPage, SettingsPage } from "./Pages";
import { ChannelsPage, SavedPage, SearchPage, ThreadsPage } from "./DepthPages";
import { onNotificationClick, turnOffPush } from "./push";
import { signIn } from "./session";
import { errorText } from "./format";

/** The app's pages, one per path, so links, reloads and the back button work. */
type Route =
  | { page: "inbox" }
  | { page: "conversation"; id: string; messageId?: string | undefined; threadId?: string | undefined }
  | { page: "contacts" | "notifications" | "settings" | "invited" | "saved" | "channels" | "threads" }
  | { page: "search"; q: string }
  | { page: "join"; token: string };

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function routeOf(path: string, search = ""): Route {
  const query = new URLSearchParams(search);
  const conversation = /^\/c\/([0-9a-f-]{36})$/i.exec(path);
  if (conversation && uuid.test(conversation[1]!)) {
    const at = query.get("m");
    const thread = query.get("t");
    return { page: "conversation", id: conversation[1]!, messageId: at && uuid.test(at) ? at : undefined, threadId: thread && uuid.test(thread) ? thread : undefined };
  }
  if (path === "/search") return { page: "search", q: query.get("q") ?? "" };
  if (path === "/saved" || path === "/channels" || path === "/threads") return { page: path.slice(1) as "saved" | "channels" | "threads" };
  const join = /^\/join\/([A-Za-z0-9_-]{16,128})$/.exec(path);
  if (join) return { page: "join", token: join[1]! };
  if (path === "/contacts" || path === "/notifications" || path === "/settings") return { page: path.slice(1) as "contacts" | "notifications" | "settings" };
  if (path === "/invite") return { page: "invited" };
  return { page: "inbox" };
}

function pathOf(route: Route): string {
  switch (route.page) {
    case "inbox": return "/";
    case "conversation": return route.threadId ? `/c/${route.id}?t=${route.threadId}` : route.messageId ? `/c/${route.id}?m=${route.messageId}` : `/c/${route.id}`;
    case "search": return route.q ? `/search?q=${encodeURIComponent(route.q)}` : "/search";
    case "join": return `/join/${route.token}`;
    case "invited": return "/invite";
    default: return `/${route.page}`;
  }
}

export function App({ store, name }: { store: ChatStore; name: string }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [route, setRoute] = useState<Route>(() => routeOf(window.location.pathname, window.location.search));
  const [online, setOnline] = useState(navigator.onLine);

  const go = useCallback((next: Route) => {
    window.history.pushState(null, "", pathOf(next));
    setRoute(next);
  }, []);
  const open = useCallback((id: string | undefined) => go(id ? { page: "conversation", id } : { page: "inbox" }), [go]);
  const openAt = useCallback((id: string, messageId?: string) => go({ page: "conversation", id, messageId }), [go]);
  const openThread = useCallback((id: string, threadId: string) => go({ page: "conversation", id, threadId }), [go]);

  useEffect(() => {
    const onPop = () => setRoute(routeOf(window.location.pathname, window.location.search));
    const onOnline = () => setOnline(true);
    const onOffline = () => setOnline(false);
    window.addEventListener("popstate", onPop);
    window.addEventListener("online", onOnline);
    window.addEventListener("offline", onOffline);
    const offClick = onNotificationClick((id) => uuid.test(id) && open(id));
    return () => {
      window.removeEventListener("popstate", onPop);
      window.removeEventListener("online", onOnline);
      window.removeEventListener("offline", onOffline);
      offClick();
    };
  }, [open]);

  const status = !online ? "Offline: messages you write are sent when you are back online." : store.connection === "offline" ? "Reconnecting…" : undefined;
  const selected = route.page === "conversation" ? route.id : undefined;
  const unread = store.unreadNotifications;
  const back = () => open(undefined);

  return (
    <div className="app" data-view={route.page === "inbox" ? "inbox" : "conversation"}>
      <header className="top">
        <a className="brand" href="/" onClick={(e) => {
          e.preventDefault();
          open(undefined);
        }}>Platform chat</a>
        <nav className="tabs" aria-label="Pages">
          <a href="/notifications" aria-current={route.page === "notifications" ? "page" : undefined} data-testid="notifications-link" onClick={(e) => {
            e.preventDefault();
            go({ page: "notifications" });
          }}>
            Notifications{unread > 0 && <span className="badge" data-testid="notification-badge" aria-label={`${unread} unread`}>{unread}</span>}
          </a>
          <a href="/threads" aria-current={route.page === "threads" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "threads" });
          }}>Threads</a>
          <a href="/search" aria-current={route.page === "search" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "search", q: "" });
          }}>Search</a>
          <a href="/saved" aria-current={route.page === "saved" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "saved" });
          }}>Saved</a>
          <a href="/channels" aria-current={route.page === "channels" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "channels" });
          }}>Channels</a>
          <a href="/contacts" aria-current={route.page === "contacts" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "contacts" });
          }}>Contacts</a>
          <a href="/settings" aria-current={route.page === "settings" ? "page" : undefined} onClick={(e) => {
            e.preventDefault();
            go({ page: "settings" });
          }}>Settings</a>
        </nav>
        <span className="me" data-testid="me">{name}</span>
        <button type="button" onClick={() => void turnOffPush(store.client).finally(() => signIn.signOut())}>Sign out</button>
      </header>
      {status && <p className="status" role="status">{status}</p>}
      {store.connection === "failed" && (
        <p className="status" role="alert">
          Could not connect to the server. <button type="button" onClick={() => window.location.reload()}>Reload</button>
        </p>
      )}
      <CallPanel store={store} onOpen={open} />
      <nav className="sidebar" aria-label="Conversations">
        <NewConversation store={store} onCreated={open} />
        <Inbox store={store} selected={selected} onOpen={open} />
      </nav>
      <main className="main">
        {route.page === "conversation" && <ConversationView key={route.id} store={store} conversationId={route.id} onBack={back} focusMessageId={route.messageId} threadId={route.threadId} onOpen={openAt} />}
        {route.page === "threads" && <ThreadsPage store={store} onOpen={openThread} onBack={back} />}
        {route.page === "search" && <SearchPage key={route.q} store={store} initial={route.q} onOpen={openAt} onBack={back} />}
        {route.page === "saved" && <SavedPage store={store} onOpen={openAt} onBack={back} />}
        {route.page === "channels" && <ChannelsPage store={store} onOpen={openAt} onBack={back} />}
        {route.page === "inbox" && <p className="empty">Choose a conversation, or start one with a username.</p>}
        {route.page === "notifications" && <NotificationsPage store={store} onOpen={open} onBack={back} />}
        {route.page === "contacts" && <ContactsPage store={store} onOpen={open} onBack={back} />}
        {route.page === "settings" && <SettingsPage store={store} onBack={back} />}
        {route.page === "join" && <JoinPage key={route.token} store={store} token={route.token} onJoined={open} onBack={back} />}
        {route.page === "invited" && <p className="empty">You already have an account and are signed in: the invite is for someone new.</p>}
      </main>
    </div>
  );
}

function Inbox({ store, selected, onOpen }: { store: ChatStore; selected: string | undefined; onOpen: (id: string) => void }) {
  if (!store.inboxLoaded) return <p role="status">Loading conversations…</p>;
  if (store.inbox.length === 0) return <p className="empty">No conversations yet.</p>;
  return (
    <ul className="inbox">
      {store.inbox.map((row) => {
        const title = store.title(row);
        const last = row.lastMessage;
        const preview = !last ? "No messages yet" : last.deleted ? "Message deleted" : `${store.displayName(last.senderId)}: ${last.text}`;
        // The open conversation is read as it is shown, unless I marked it unread there.
        const unread = row.id === selected && !store.markedUnread(row.id) ? 0 : row.unreadCount;
        return (
          <li key={row.id}>
            <button
              type="button"
              className="inbox-row"
              aria-current={row.id === selected ? "true" : undefined}
              data-conversation-id={row.id}
              onClick={() => onOpen(row.id)}
            >
              <span className="inbox-title">{title}</span>
              <span className="inbox-preview">{preview}</span>
              <span className="badges">
                {row.mentionCount > 0 && unread > 0 && (
                  <span className="badge mention" aria-label={`${row.mentionCount} mentions`} data-testid="mention-badge">@{row.mentionCount}</span>
                )}
                {unread > 0 && <span className="badge" aria-label={`${unread} unread`} data-testid="unread-badge">{unread}</span>}
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function NewConversation({ store, onCreated }: { store: ChatStore; onCreated: (id: string) => void }) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<PublicProfile[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const search = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      setResults(await store.findUsers(query));
    } catch (e) {
      setError(errorText(e));
    }
  };

  const start = async (user: PublicProfile) => {
    setBusy(true);
    try {
      const conversation = await store.startConversation([user.id]);
      setResults(undefined);
      setQuery("");
      onCreated(conversation.id);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="new-conversation" aria-labelledby="new-conversation-heading">
      <h2 id="new-conversation-heading">New conversation</h2>
      <form role="search" onSubmit={search}>
        <label htmlFor="user-search">Username, name or user id</label>
        <div className="row">
          <input id="user-search" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
          <button type="submit">Find</button>
        </div>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {results && (
        results.length === 0 ? <p role="status">Nobody found.</p> : (
          <ul className="people" aria-label="People found">
            {results.map((user) => (
              <li key={user.id}>
                <button type="button" disabled={busy} onClick={() => void start(user)}>
                  Message {user.displayName} <span className="muted">@{user.username}</span>
                </button>
              </li>
            ))}
          </ul>
        )
      )}
    </section>
  );
}
