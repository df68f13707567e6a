import { type FormEvent, useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { PublicProfile } from "@platform/client";
import type { ChatStore } from "./chat";
import { ConversationView } from "./ConversationView";
import { signIn } from "./session";

function selectedFromPath(): string | undefined {
  const match = /^\/c\/([0-9a-f-]{36})$/i.exec(window.location.pathname);
  return match?.[1];
}

export function App({ store, name }: { store: ChatStore; name: string }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [selected, setSelected] = useState<string | undefined>(selectedFromPath);
  const [online, setOnline] = useState(navigator.onLine);

  useEffect(() => {
    const onPop = () => setSelected(selectedFromPath());
    const onOnline = () => setOnline(true);
    const onOffline = () => setOnline(false);
    window.addEventListener("popstate", onPop);
    window.addEventListener("online", onOnline);
    window.addEventListener("offline", onOffline);
    return () => {
      window.removeEventListener("popstate", onPop);
      window.removeEventListener("online", onOnline);
      window.removeEventListener("offline", onOffline);
    };
  }, []);

  const open = useCallback((id: string | undefined) => {
    window.history.pushState(null, "", id ? `/c/${id}` : "/");
    setSelected(id);
  }, []);

  const status = !online ? "Offline: messages you write are sent when you are back online." : store.connection === "offline" ? "Reconnecting…" : undefined;

  return (
    <div className="app" data-view={selected ? "conversation" : "inbox"}>
      <header className="top">
        <span className="brand">Platform chat</span>
        <span className="me" data-testid="me">{name}</span>
        <button type="button" onClick={() => void signIn.signOut()}>Sign out</button>
      </header>
      {status && <p className="status" role="status">{status}</p>}
      {store.connection === "failed" && (
        <p className="status" role="alert">
          Could not connect to the server. <button type="button" onClick={() => window.location.reload()}>Reload</button>
        </p>
      )}
      <nav className="sidebar" aria-label="Conversations">
        <NewConversation store={store} onCreated={open} />
        <Inbox store={store} selected={selected} onOpen={open} />
      </nav>
      <main className="main">
        {selected ? (
          <ConversationView key={selected} store={store} conversationId={selected} onBack={() => open(undefined)} />
        ) : (
          <p className="empty">Choose a conversation, or start one with a username.</p>
        )}
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
        const unread = row.id === selected ? 0 : row.unreadCount;
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
      setError(e instanceof Error ? e.message : String(e));
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
      setError(e instanceof Error ? e.message : String(e));
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
