import { type FormEvent, type ReactNode, useEffect, useState, useSyncExternalStore } from "react";
import type { DirectoryChannel, SavedMessage, SearchHighlight, SearchHit } from "@platform/client";
import type { ChatStore } from "./chat";
import { timeOf } from "./format";
import { Outcome, Page, useAction } from "./Pages";

/** Opens a conversation, at a message when given. */
export type OpenAt = (conversationId: string, messageId?: string) => void;

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
