import { type FormEvent, type ReactNode, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { type DirectoryChannel, EventTypes, type FollowedThread, type Message, type SavedMessage, type SearchHighlight, type SearchHit } from "@platform/client";
import type { ChatStore } from "./chat";
import { timeOf } from "./format";
import { Outcome, Page, useAction } from "./Pages";

/** Opens a conversation, at a message when given. */
export type OpenAt = (conversationId: string, messageId?: string) => void;

/** Opens a thread (the conversation's thread view of that root). */
export type OpenThread = (conversationId: string, rootId: string) => void;

/** A fragment of a hit's text with the matched words marked (as text: nothing from a message becomes HTML). */
function Highlighted({ highlight }: { highlight: SearchHighlight }) {
  const parts: ReactNode[] = [];
  let at = 0;
  for (const [index, match] of highlight.matches.entries()) {
    if (match.start < at || match.start + match.length > highlight.text.length) continue;
    parts.push(highlight.text.slice(at, match.start));
    parts.push(<mark key={index}>{highlight.text.slice(match.start, match.start + match.length)}</mark>);
    at = match.start + match.length;
  }
  parts.push(highlight.text.slice(at));
  return <span className="hit-text">{parts}</span>;
}

/** Message search across my conversations, best match first; a result opens its conversation at the message. */
export function SearchPage({ store, initial, onOpen, onBack }: { store: ChatStore; initial: string; onOpen: OpenAt; onBack: () => void }) {
  const [query, setQuery] = useState(initial);
  const [hits, setHits] = useState<SearchHit[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [busy, message, run] = useAction();

  const search = (q: string, cursor?: string) => run(async () => {
    const page = await store.client.searchMessages(q, cursor ? { cursor } : {});
    setHits((before) => (cursor ? [...(before ?? []), ...page.items] : page.items));
    setNext(page.next);
  });

  useEffect(() => {
    if (initial.trim()) void search(initial);
    // Only the query the page was opened with runs by itself.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [initial]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!query.trim()) return;
    window.history.replaceState(null, "", `/search?q=${encodeURIComponent(query)}`);
    void search(query);
  };

  return (
    <Page title="Search messages" onBack={onBack}>
      <form role="search" onSubmit={submit} aria-label="Messages">
        <label htmlFor="message-search">Words to find</label>
        <div className="row">
          <input id="message-search" type="search" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
          <button type="submit" disabled={busy}>Search</button>
        </div>
      </form>
      <Outcome message={message} />
      {hits && (hits.length === 0 ? <p role="status">No messages found.</p> : (
        <>
          <p role="status" className="muted">{hits.length === 1 ? "1 message found" : `${hits.length} messages found`}{next ? " (more below)" : ""}</p>
          <ul className="hits" aria-label="Search results">
            {hits.map((hit) => {
              const conversation = store.inbox.find((row) => row.id === hit.conversationId);
              return (
                <li key={hit.message.id} data-testid="search-hit" data-message-id={hit.message.id}>
                  <button type="button" className="feed-item" onClick={() => onOpen(hit.conversationId, hit.message.id)}>
                    <span className="feed-title">
                      {store.displayName(hit.message.senderId)} in {conversation ? store.title(conversation) : "a conversation"}
                    </span>
                    <span className="feed-body">
                      {hit.highlights.length > 0 ? hit.highlights.map((h, i) => <Highlighted key={i} highlight={h} />) : hit.message.text}
                    </span>
                    <time className="muted" dateTime={hit.message.createdAt}>{new Date(hit.message.createdAt).toLocaleDateString()} {timeOf(hit.message.createdAt)}</time>
                  </button>
                </li>
              );
            })}
          </ul>
          {next && <button type="button" disabled={busy} onClick={() => void search(query, next)}>More results</button>}
        </>
      ))}
    </Page>
  );
}

/** My saved messages, newest saved first: open one at its place, or unsave it. */
export function SavedPage({ store, onOpen, onBack }: { store: ChatStore; onOpen: OpenAt; onBack: () => void }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [items, setItems] = useState<SavedMessage[] | undefined>();
  const [busy, message, run] = useAction();
  useEffect(() => {
    void run(async () => setItems(await store.loadSaved()));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);
  const shown = items?.filter((item) => store.isSaved(item.message.id));
  return (
    <Page title="Saved messages" onBack={onBack}>
      <Outcome message={message} />
      {!shown ? <p role="status">Loading saved messages…</p> : shown.length === 0 ? <p className="empty">Nothing saved. Save a message from its actions.</p> : (
        <ul className="feed" aria-label="Saved messages">
          {shown.map((item) => (
            <li key={item.message.id} data-testid="saved-message" data-message-id={item.message.id}>
              <button type="button" className="feed-item" onClick={() => onOpen(item.conversationId, item.message.id)}>
                <span className="feed-title">{store.displayName(item.message.senderId)}</span>
                <span className="feed-body">{item.message.deleted ? "This message was deleted." : item.message.text}</span>
                <time className="muted" dateTime={item.savedAt}>Saved {new Date(item.savedAt).toLocaleDateString()} {timeOf(item.savedAt)}</time>
              </button>
              <button type="button" disabled={busy} onClick={() => void run(async () => {
                await store.setSaved(item.message.id, false);
                return "Removed from saved messages.";
              })}>Unsave</button>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

/** The public channel directory: browse or filter, join, open. */
export function ChannelsPage({ store, onOpen, onBack }: { store: ChatStore; onOpen: OpenAt; onBack: () => void }) {
  const [query, setQuery] = useState("");
  const [channels, setChannels] = useState<DirectoryChannel[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [busy, message, run] = useAction();

  const load = (q: string, cursor?: string) => run(async () => {
    const page = await store.client.getPublicChannels(q || undefined, cursor);
    setChannels((before) => (cursor ? [...(before ?? []), ...page.items] : page.items));
    setNext(page.next);
  });
  useEffect(() => {
    void load("");
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);

  const join = (channel: DirectoryChannel) => run(async () => {
    await store.client.addMembers(channel.id, [store.me]);
    await store.refreshInbox();
    onOpen(channel.id);
  });

  return (
    <Page title="Channel directory" onBack={onBack}>
      <form role="search" aria-label="Channels" onSubmit={(event) => {
        event.preventDefault();
        void load(query);
      }}>
        <label htmlFor="channel-search">Channel name or topic</label>
        <div className="row">
          <input id="channel-search" type="search" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
          <button type="submit" disabled={busy}>Find channels</button>
        </div>
      </form>
      <Outcome message={message} />
      {channels && (channels.length === 0 ? <p role="status">No public channels found.</p> : (
        <ul className="feed" aria-label="Public channels">
          {channels.map((channel) => (
            <li key={channel.id} data-testid="directory-channel" data-conversation-id={channel.id}>
              <span className="feed-title">#{channel.title ?? "untitled"}</span>
              {channel.topic && <span className="feed-body">{channel.topic}</span>}
              <span className="muted">{channel.memberCount === 1 ? "1 member" : `${channel.memberCount} members`}</span>
              {channel.isMember
                ? <button type="button" onClick={() => onOpen(channel.id)}>Open #{channel.title ?? "channel"}</button>
                : <button type="button" disabled={busy} onClick={() => void join(channel)}>Join #{channel.title ?? "channel"}</button>}
            </li>
          ))}
        </ul>
      ))}
      {next && <button type="button" disabled={busy} onClick={() => void load(query, next)}>More channels</button>}
    </Page>
  );
}

/** A count shown always, highlighted when it is not zero. */
function Count({ n, one, many, className, testId }: { n: number; one: string; many: string; className: string; testId: string }) {
  return <span className={n > 0 ? className : "muted"} data-testid={testId} data-count={n}>{n} {n === 1 ? one : many}</span>;
}

/**
 * The threads I follow (Slack's "Threads"), newest reply first, each with its conversation, root, reply count and my
 * unread and mention counts; a row opens the thread view. The list is read again as replies, edits and deletes arrive on
 * the stream (and on reconnect), so the counts follow live; reading a thread clears them.
 */
export function ThreadsPage({ store, onOpen, onBack }: { store: ChatStore; onOpen: OpenThread; onBack: () => void }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [threads, setThreads] = useState<FollowedThread[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [busy, message, run] = useAction();
  const shown = useRef(0);
  shown.current = threads?.length ?? 0;
  const reloadSoon = useRef<() => void>(() => undefined);
  // Read, followed or unfollowed on this page (the thread view marks what it shows read): the counts again.
  const changes = store.threadChanges;
  useEffect(() => reloadSoon.current(), [changes]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Everything shown so far again, in one page (the API gives up to 200 at once).
    const reload = async () => {
      try {
        const page = await store.client.getFollowedThreads(undefined, Math.min(200, Math.max(50, shown.current)));
        if (stopped) return;
        setThreads(page.items);
        setNext(page.next);
      } catch {
        // The next event or reconnect tries again; the first load reports its error below.
      }
    };
    const soon = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => void reload(), 250);
    };
    reloadSoon.current = soon;
    void run(async () => {
      await store.threadReadsDone();
      const page = await store.client.getFollowedThreads();
      if (stopped) return;
      setThreads(page.items);
      setNext(page.next);
    });
    const realtime = store.client.realtime;
    const offEvent = realtime.on("event", (event) => {
      const reply = event.type === EventTypes.MessagePosted && Boolean((event.data as Message).replyTo);
      if (reply || event.type === EventTypes.MessageEdited || event.type === EventTypes.MessageDeleted) soon();
    });
    const offReconnected = realtime.on("reconnected", soon);
    const onVisible = () => document.visibilityState === "visible" && soon();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      stopped = true;
      reloadSoon.current = () => undefined;
      if (timer !== undefined) clearTimeout(timer);
      offEvent();
      offReconnected();
      document.removeEventListener("visibilitychange", onVisible);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);

  const more = (cursor: string) => run(async () => {
    const page = await store.client.getFollowedThreads(cursor);
    setThreads((before) => [...(before ?? []), ...page.items.filter((item) => !before?.some((b) => b.id === item.id))]);
    setNext(page.next);
  });

  return (
    <Page title="Threads" onBack={onBack}>
      <Outcome message={message} />
      {!threads ? (!message && <p role="status">Loading threads…</p>) : threads.length === 0
        ? <p className="empty">You follow no threads. Reply in a thread, or open one and choose Follow.</p>
        : (
          <ul className="feed threads" aria-label="Followed threads">
            {threads.map((thread) => {
              const conversation = store.inbox.find((row) => row.id === thread.conversationId);
              const root = thread.root;
              const at = thread.lastReplyAt ?? root.createdAt;
              return (
                <li key={thread.id} className={thread.unreadCount > 0 ? "unread" : undefined} data-testid="followed-thread" data-message-id={thread.id}>
                  <button type="button" className="feed-item" onClick={() => onOpen(thread.conversationId, thread.id)}>
                    <span className="feed-title">{conversation ? store.title(conversation) : "A conversation"}</span>
                    <span className="feed-body">{store.displayName(root.senderId)}: {root.deleted ? "This message was deleted." : root.text}</span>
                    <span className="thread-counts">
                      <span className="muted">{thread.replyCount === 1 ? "1 reply" : `${thread.replyCount} replies`}</span>
                      <Count n={thread.unreadCount} one="unread" many="unread" className="badge" testId="thread-unread" />
                      <Count n={thread.mentionCount} one="mention" many="mentions" className="badge mention" testId="thread-mentions" />
                      <time className="muted" dateTime={at}>{new Date(at).toLocaleDateString()} {timeOf(at)}</time>
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      {next && <button type="button" disabled={busy} onClick={() => void more(next)}>More threads</button>}
    </Page>
  );
}
