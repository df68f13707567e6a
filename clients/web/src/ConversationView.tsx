import { Fragment, type KeyboardEvent, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { Attachment as AttachmentInfo, MediaDetails, Message, OutboxEntry } from "@platform/client";
import { blurHashUrl } from "./blurhash";
import type { ChatStore, Tick, TravelPoint } from "./chat";
import { formatText, safeHref, timeOf, errorText } from "./format";
import { ForwardedFrom, ScheduledList, ScheduleForm, TravelForm, TravelView } from "./LaterViews";

const quickReactions = ["👍", "❤️", "😂"];
const tickLabels: Record<Tick, string> = { pending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read" };
// Read differs by more than colour: "Seen" is written out.
const tickMarks: Record<Tick, string> = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓ Seen" };

export function ConversationView({ store, conversationId, onBack, focusMessageId, threadId, onOpen }: {
  store: ChatStore; conversationId: string; onBack: () => void; focusMessageId?: string | undefined; threadId?: string | undefined;
  onOpen?: ((conversationId: string, messageId?: string) => void) | undefined;
}) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const state = store.conversation(conversationId);
  const messages = store.messages(conversationId);
  const pending = store.pending(conversationId);
  const typing = store.typingNames(conversationId);
  const [replyTo, setReplyTo] = useState<Message | undefined>();
  // Opened at a thread (from the Threads page): its thread view first, and the conversation behind it.
  const [threadOf, setThreadOf] = useState<string | undefined>(threadId);
  useEffect(() => {
    if (threadId) setThreadOf(threadId);
  }, [threadId]);
  const closeThread = () => {
    setThreadOf(undefined);
    if (new URLSearchParams(window.location.search).has("t")) window.history.replaceState(null, "", `/c/${conversationId}`);
  };
  const list = useRef<HTMLOListElement>(null);
  const top = useRef<HTMLLIElement>(null);
  const stickToBottom = useRef(true);
  const heightBeforeOlder = useRef<number | undefined>(undefined);
  const composer = useRef<HTMLTextAreaElement>(null);

  const [showPins, setShowPins] = useState(false);
  const [showScheduled, setShowScheduled] = useState(false);
  const [choosingPoint, setChoosingPoint] = useState(false);
  const [travelPoint, setTravelPoint] = useState<TravelPoint | undefined>();
  const [found, setFound] = useState<Message | undefined>();

  useEffect(() => {
    void store.open(conversationId);
    return () => store.leave(conversationId);
  }, [store, conversationId]);

  // Opened at a message (a search result, a saved message): shown and highlighted in the list when it is loaded,
  // otherwise quoted above it.
  const focusLoaded = focusMessageId !== undefined && state.messages.has(focusMessageId);
  useEffect(() => {
    if (!focusMessageId || !state.loaded) return;
    if (focusLoaded) {
      stickToBottom.current = false;
      const element = list.current?.querySelector<HTMLElement>(`[data-message-id="${focusMessageId}"]`);
      element?.scrollIntoView({ block: "center" });
      element?.focus();
      setFound(undefined);
      return;
    }
    let stopped = false;
    store.client.getMessage(conversationId, focusMessageId).then((message) => !stopped && setFound(message), () => undefined);
    return () => {
      stopped = true;
    };
  }, [store, conversationId, focusMessageId, focusLoaded, state.loaded]);

  // Read receipts: what is on screen while the page is visible.
  const newestSeq = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    const mark = () => {
      if (document.visibilityState === "visible") void store.markRead(conversationId);
    };
    mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  }, [store, conversationId, newestSeq, state.loaded]);

  // Scrolling to the top loads the page before (the "Load older" button does the same from the keyboard).
  useEffect(() => {
    const sentinel = top.current;
    if (!sentinel || !state.loaded) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !state.reachedStart) loadOlder();
    }, { root: list.current });
    observer.observe(sentinel);
    return () => observer.disconnect();
  });

  const loadOlder = () => {
    if (list.current) heightBeforeOlder.current = list.current.scrollHeight - list.current.scrollTop;
    stickToBottom.current = false;
    void store.loadOlder(conversationId);
  };

  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    if (heightBeforeOlder.current !== undefined && !state.loadingOlder) {
      element.scrollTop = element.scrollHeight - heightBeforeOlder.current;
      heightBeforeOlder.current = undefined;
    } else if (stickToBottom.current) element.scrollTop = element.scrollHeight;
  });

  const onScroll = () => {
    const element = list.current;
    if (element) stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  };

  const title = state.conversation ? store.title(state.conversation) : "…";
  const others = (store.members(conversationId) ?? []).filter((id) => id !== store.me);
  const othersKey = others.join(",");
  useEffect(() => {
    if (othersKey) store.watchPresence(othersKey.split(",").slice(0, 500));
  }, [store, othersKey]);
  const byId = state.messages;

  if (travelPoint) return <TravelView store={store} conversationId={conversationId} title={title} point={travelPoint} onBack={() => setTravelPoint(undefined)} />;
  if (threadOf) return <ThreadView store={store} conversationId={conversationId} rootId={threadOf} title={title} onClose={closeThread} />;

  return (
    <section className="conversation" aria-labelledby="conversation-title">
      <header className="conversation-header">
        <button type="button" className="back" onClick={onBack} aria-label="Back to conversations">←</button>
        <div className="conversation-heading">
          <h2 id="conversation-title">{title}</h2>
          {others.length > 0 && others.length <= 5 && (
            <p className="presence-line" data-testid="presence">
              {others.map((userId) => <PresenceOf key={userId} store={store} userId={userId} named={others.length > 1} />)}
            </p>
          )}
        </div>
        <button type="button" aria-expanded={showPins} aria-controls="pinned-messages" onClick={() => setShowPins(!showPins)}>Pinned</button>
        <button type="button" aria-expanded={showScheduled} aria-controls="scheduled-messages" onClick={() => setShowScheduled(!showScheduled)}>
          Scheduled{state.scheduled && state.scheduled.length > 0 ? ` (${state.scheduled.length})` : ""}
        </button>
        <button type="button" aria-expanded={choosingPoint} onClick={() => setChoosingPoint(!choosingPoint)}>Time travel</button>
        {state.conversation && state.conversation.kind !== "channel" && !store.isRequest(conversationId) && (
          <span className="call-buttons">
            <button type="button" disabled={store.calls.call !== undefined} onClick={() => void store.calls.start(conversationId, "audio")}>Audio call</button>
            <button type="button" disabled={store.calls.call !== undefined} onClick={() => void store.calls.start(conversationId, "video")}>Video call</button>
          </span>
        )}
      </header>
      {showPins && <PinnedList store={store} conversationId={conversationId} version={state.pinsVersion} />}
      {showScheduled && <ScheduledList store={store} conversationId={conversationId} />}
      {choosingPoint && <TravelForm onCancel={() => setChoosingPoint(false)} onTravel={(point) => {
        setChoosingPoint(false);
        setTravelPoint(point);
      }} />}
      {found && (
        <aside className="found" aria-label="The message you opened" data-testid="found-message">
          <span className="muted">{store.displayName(found.senderId)}, {timeOf(found.createdAt)}: </span>{found.deleted ? "This message was deleted." : formatText(found.text)}
        </aside>
      )}
      {state.unreadFrom !== undefined && <p role="status" className="muted">Marked unread: it stays unread until you come back to it.</p>}
      {store.isRequest(conversationId) && <MessageRequest store={store} conversationId={conversationId} from={title} onDeclined={onBack} />}
      {state.error && <p role="alert" className="error">{state.error}</p>}
      <ol ref={list} className="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions" tabIndex={0} onScroll={onScroll}>
        <li ref={top} className="top-sentinel" aria-hidden="true" />
        {state.loaded && (state.reachedStart ? (
          <li className="start" data-testid="conversation-start">This is the beginning of the conversation.</li>
        ) : (
          <li className="older">
            <button type="button" onClick={loadOlder} disabled={state.loadingOlder}>{state.loadingOlder ? "Loading…" : "Load older messages"}</button>
          </li>
        ))}
        {!state.loaded && !state.error && <li role="status">Loading messages…</li>}
        {messages.map((message, index) => (
          <Fragment key={message.id}>
          {state.unreadFrom !== undefined && message.seq >= state.unreadFrom && (messages[index - 1]?.seq ?? 0) < state.unreadFrom && (
            <li className="unread-marker" data-testid="unread-marker" data-seq={message.seq}><span>Unread from here</span></li>
          )}
          <MessageItem
            store={store}
            conversationId={conversationId}
            message={message}
            focused={message.id === focusMessageId}
            repliedTo={message.replyTo ? byId.get(message.replyTo) : undefined}
            onReply={() => {
              setReplyTo(message);
              composer.current?.focus();
            }}
            onOpenThread={() => setThreadOf(message.id)}
            onOpenOrigin={onOpen}
          />
          </Fragment>
        ))}
        {pending.map((entry) => <PendingItem key={entry.clientMessageId} entry={entry} />)}
      </ol>
      <p className="typing" aria-live="polite" data-testid="typing">
        {typing.length > 0 ? `${typing.join(", ")} ${typing.length === 1 ? "is" : "are"} typing…` : ""}
      </p>
      <Composer
        ref={composer}
        store={store}
        conversationId={conversationId}
        replyTo={replyTo}
        onCancelReply={() => setReplyTo(undefined)}
        onSent={() => {
          setReplyTo(undefined);
          stickToBottom.current = true;
        }}
      />
    </section>
  );
}

/** Online, or when last seen; nothing for users whose presence I may not see. */
function PresenceOf({ store, userId, named }: { store: ChatStore; userId: string; named: boolean }) {
  const presence = store.presence(userId);
  if (!presence || presence.status === "unknown") return null;
  const online = presence.status === "online";
  const label = online ? "online" : presence.lastActiveAt ? `last seen ${lastSeen(presence.lastActiveAt)}` : "offline";
  return (
    <span className="presence">
      <span className={`dot${online ? " online" : ""}`} aria-hidden="true" />
      {named ? `${store.displayName(userId)}: ` : ""}{label}
    </span>
  );
}

function lastSeen(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const sameDay = at.toDateString() === new Date().toDateString();
  return sameDay ? `at ${timeOf(iso)}` : `on ${at.toLocaleDateString()} at ${timeOf(iso)}`;
}

function PendingItem({ entry }: { entry: OutboxEntry }) {
  return (
    <li className="message mine pending" data-client-message-id={entry.clientMessageId}>
      <div className="bubble">
        <div className="text">{formatText(entry.text)}</div>
        <div className="meta">
          <span className="tick" role="img" data-tick="pending" aria-label={tickLabels.pending} title={tickLabels.pending}>{tickMarks.pending}</span>
        </div>
      </div>
    </li>
  );
}

function MessageItem({ store, conversationId, message, repliedTo, onReply, onOpenThread, focused, onOpenOrigin }: {
  store: ChatStore; conversationId: string; message: Message; repliedTo: Message | undefined; onReply: () => void; onOpenThread?: (() => void) | undefined;
  focused?: boolean; onOpenOrigin?: ((conversationId: string, messageId?: string) => void) | undefined;
}) {
  const mine = message.senderId === store.me;
  const [forwarding, setForwarding] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const saved = store.isSaved(message.id);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const sender = store.displayName(message.senderId);
  const tick = mine && !message.deleted ? store.tick(conversationId, message) : undefined;

  const run = (work: () => Promise<void>) => {
    setError(undefined);
    work().catch((e: unknown) => setError(errorText(e)));
  };

  return (
    <li className={`message${mine ? " mine" : ""}${focused ? " focused" : ""}`} data-seq={message.seq} data-message-id={message.id} tabIndex={focused ? -1 : undefined}>
      <div className="bubble">
        <div className="sender">{sender}{message.pinned && <span className="pin-mark" data-testid="pinned-mark"> · Pinned</span>}</div>
        {message.forwardedFrom && (
          <ForwardedFrom store={store} from={message.forwardedFrom} onOpen={(id, messageId) => onOpenOrigin?.(id, messageId)} />
        )}
        {message.replyTo && (
          <blockquote className="reply-quote">
            {repliedTo ? (
              <><span className="muted">Reply to {store.displayName(repliedTo.senderId)}: </span>{repliedTo.deleted ? "deleted message" : repliedTo.text}</>
            ) : "Reply to an earlier message"}
          </blockquote>
        )}
        {message.deleted ? (
          <div className="text deleted">This message was deleted.</div>
        ) : editing ? (
          <EditForm
            initial={message.text}
            onCancel={() => setEditing(false)}
            onSave={(text) => run(async () => {
              await store.edit(conversationId, message.id, text);
              setEditing(false);
            })}
          />
        ) : (
          <div className="text">{formatText(message.text, message.massMention)}</div>
        )}
        {!message.deleted && message.attachments.map((attachment) => <Attachment key={attachment.id} store={store} attachment={attachment} />)}
        {!message.deleted && !editing && (message.linkPreviews ?? []).map((preview) => <LinkPreviewCard key={preview.url} preview={preview} />)}
        <div className="meta">
          <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
          {message.edited && !message.deleted && <span className="edited">(edited)</span>}
          {tick && <span className={`tick ${tick}`} role="img" data-tick={tick} aria-label={tickLabels[tick]} title={tickLabels[tick]}>{tickMarks[tick]}</span>}
        </div>
        {!message.deleted && message.reactions.length > 0 && (
          <ul className="reactions" aria-label="Reactions">
            {message.reactions.map((reaction) => {
              const reacted = reaction.userIds.includes(store.me);
              return (
                <li key={reaction.emoji}>
                  <button
                    type="button"
                    aria-pressed={reacted}
                    aria-label={`${reaction.emoji} ${reaction.count}`}
                    onClick={() => run(() => store.toggleReaction(conversationId, message, reaction.emoji))}
                  >
                    {reaction.emoji} {reaction.count}
                  </button>
                </li>
              );
            })}
          </ul>
        )}
        {onOpenThread && message.replyCount > 0 && (
          <button type="button" className="link thread-link" onClick={onOpenThread} data-testid="thread-link">
            {message.replyCount === 1 ? "1 reply" : `${message.replyCount} replies`}
          </button>
        )}
        {!message.deleted && !editing && (
          <div className="actions" role="group" aria-label="Message actions">
            <button type="button" onClick={onReply}>Reply</button>
            {onOpenThread && <button type="button" onClick={onOpenThread}>Thread</button>}
            {quickReactions.map((emoji) => (
              <button key={emoji} type="button" aria-label={`React ${emoji}`} onClick={() => run(() => store.toggleReaction(conversationId, message, emoji))}>{emoji}</button>
            ))}
            <button type="button" onClick={() => run(() => store.setPinned(conversationId, message, !message.pinned))}>{message.pinned ? "Unpin" : "Pin"}</button>
            <button type="button" aria-pressed={saved} onClick={() => run(async () => {
              await store.setSaved(message.id, !saved);
              setDone(saved ? "Removed from saved messages." : "Saved.");
            })}>{saved ? "Remove from saved" : "Save for later"}</button>
            {!mine && <button type="button" onClick={() => run(() => store.markUnread(conversationId, message))}>Mark unread</button>}
            <button type="button" aria-expanded={forwarding} onClick={() => setForwarding(!forwarding)}>Forward</button>
            {mine && <button type="button" onClick={() => setEditing(true)}>Edit</button>}
            {mine && !confirming && <button type="button" onClick={() => setConfirming(true)}>Delete</button>}
            {mine && confirming && (
              <span role="group" aria-label="Delete this message for everyone?">
                <button type="button" className="danger" autoFocus onClick={() => run(() => store.remove(conversationId, message.id))}>Delete for everyone</button>
                <button type="button" onClick={() => setConfirming(false)}>Keep</button>
              </span>
            )}
          </div>
        )}
        {forwarding && (
          <ForwardForm store={store} from={conversationId} onCancel={() => setForwarding(false)} onForward={(to) => run(async () => {
            await store.forward(to, { conversationId, messageId: message.id });
            setForwarding(false);
            setDone(`Forwarded to ${store.title(store.inbox.find((row) => row.id === to) ?? { id: to, title: null, kind: "group" })}.`);
          })} />
        )}
        {done && <p role="status" className="muted">{done}</p>}
        {error && <p role="alert" className="error">{error}</p>}
      </div>
    </li>
  );
}

/** Where to forward a message: one of my other conversations. */
function ForwardForm({ store, from, onForward, onCancel }: { store: ChatStore; from: string; onForward: (to: string) => void; onCancel: () => void }) {
  const targets = store.inbox.filter((row) => row.id !== from);
  const [to, setTo] = useState(targets[0]?.id ?? "");
  if (targets.length === 0) return <p role="status" className="muted">You have no other conversation to forward to.</p>;
  return (
    <form className="forward" onSubmit={(event) => {
      event.preventDefault();
      if (to) onForward(to);
    }}>
      <label>
        Forward to
        <select value={to} onChange={(event) => setTo(event.target.value)}>
          {targets.map((row) => <option key={row.id} value={row.id}>{store.title(row)}</option>)}
        </select>
      </label>
      <button type="submit">Send forward</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

/** The conversation's pinned messages, newest pin first; read again when a pin changes. */
function PinnedList({ store, conversationId, version }: { store: ChatStore; conversationId: string; version: number }) {
  const [pins, setPins] = useState<Message[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let stopped = false;
    store.client.getPins(conversationId).then((page) => !stopped && setPins(page.items), (e: unknown) => !stopped && setError(errorText(e)));
    return () => {
      stopped = true;
    };
  }, [store, conversationId, version]);
  return (
    <section id="pinned-messages" className="pins" aria-labelledby="pinned-heading">
      <h3 id="pinned-heading">Pinned messages</h3>
      {error && <p role="alert" className="error">{error}</p>}
      {!pins && !error && <p role="status">Loading pinned messages…</p>}
      {pins && pins.length === 0 && <p className="muted">Nothing is pinned.</p>}
      {pins && pins.length > 0 && (
        <ul aria-label="Pinned messages" data-testid="pinned-list">
          {pins.map((pin) => (
            <li key={pin.id} data-message-id={pin.id}>
              <span className="muted">{store.displayName(pin.senderId)}: </span>{formatText(pin.text)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * An attachment: an image as its thumbnail (a link to the original), another file as a link. Media makes thumbnails
 * after the upload and lets members read a file once it has seen the message, so details are asked for again until
 * they are there.
 */
function Attachment({ store, attachment }: { store: ChatStore; attachment: AttachmentInfo }) {
  const mediaId = attachment.id;
  const placeholder = useMemo(() => blurHashUrl(attachment.blurHash), [attachment.blurHash]);
  const [loaded, setLoaded] = useState(false);
  const [details, setDetails] = useState<MediaDetails | undefined>();
  const [gaveUp, setGaveUp] = useState(false);
  const [viewing, setViewing] = useState(false);
  useEffect(() => {
    let stopped = false;
    void (async () => {
      for (let attempt = 1; attempt <= 60 && !stopped; attempt++) {
        try {
          const found = await store.client.getMedia(mediaId);
          if (stopped) return;
          setDetails(found);
          const image = found.media.contentType.startsWith("image/");
          if (!image || found.smallThumbnail || found.media.status === "failed") return;
        } catch {
          // Not readable yet (Media has not linked it to the conversation), or offline: asked again below.
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt, 5) * 1000));
      }
      if (!stopped) setGaveUp(true);
    })();
    return () => {
      stopped = true;
    };
  }, [store, mediaId]);

  const name = details?.media.fileName ?? "attachment";
  if (details?.smallThumbnail) {
    return (
      <>
        <a className="attachment" href={details.download.url} target="_blank" rel="noopener noreferrer" data-testid="attachment"
          onClick={(event) => {
            // A plain click opens the viewer; a modified click (new tab, download) does what the browser does.
            if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
            event.preventDefault();
            setViewing(true);
          }}>
          {/* An animated image plays in the message (its original, kept animated by Media); a still shows its thumbnail.
              The blurhash placeholder shows until the picture has loaded. */}
          <img src={attachment.animated ? details.download.url : details.smallThumbnail.url} alt={`${attachment.animated ? "Animated image" : "Image"}: ${name}`}
            width={details.media.width ?? undefined} height={details.media.height ?? undefined} onLoad={() => setLoaded(true)}
            data-animated={attachment.animated ? "true" : undefined}
            style={placeholder && !loaded ? { backgroundImage: `url(${placeholder})`, backgroundSize: "cover" } : undefined} />
        </a>
        {viewing && <ImageViewer details={details} name={name} onClose={() => setViewing(false)} />}
      </>
    );
  }
  if (details && !details.media.contentType.startsWith("image/")) {
    return (
      <a className="attachment file" href={details.download.url} target="_blank" rel="noopener noreferrer" data-testid="attachment">
        📎 {name} <span className="muted">({Math.ceil(details.media.size / 1024)} KB)</span>
      </a>
    );
  }
  if (placeholder && !gaveUp)
    return <img className="attachment placeholder" src={placeholder} alt="Image loading" width={attachment.width ?? 96} height={attachment.height ?? 64} data-testid="blurhash" />;
  return <p className="attachment muted" role="status">{gaveUp ? "The attachment is not available." : "Preparing the attachment…"}</p>;
}

/** A link preview card: every field is text; the link only for http(s) URLs. */
function LinkPreviewCard({ preview }: { preview: Message["linkPreviews"][number] }) {
  const href = safeHref(preview.url);
  const body = (
    <>
      <span className="preview-title">{preview.title ?? preview.url}</span>
      {preview.description && <span className="preview-description">{preview.description}</span>}
      {preview.siteName && <span className="muted">{preview.siteName}</span>}
    </>
  );
  return href ? (
    <a className="link-preview" href={href} target="_blank" rel="noopener noreferrer nofollow" data-testid="link-preview">{body}</a>
  ) : (
    <div className="link-preview" data-testid="link-preview">{body}</div>
  );
}

function EditForm({ initial, onSave, onCancel }: { initial: string; onSave: (text: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  return (
    <form className="edit" onSubmit={(e) => {
      e.preventDefault();
      if (text.trim()) onSave(text);
    }}>
      <label className="visually-hidden" htmlFor="edit-text">Edit message</label>
      <textarea id="edit-text" value={text} onChange={(e) => setText(e.target.value)} autoFocus rows={2}
        onKeyDown={(e) => e.key === "Escape" && onCancel()} />
      <button type="submit">Save</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function percent(sent: number, total: number): number {
  return total > 0 ? Math.floor((sent / total) * 100) : 100;
}

function Composer({ ref, store, conversationId, replyTo, onCancelReply, onSent, label = "Message", inThread = false }: {
  ref: React.RefObject<HTMLTextAreaElement | null>; store: ChatStore; conversationId: string; replyTo: Message | undefined;
  onCancelReply: () => void; onSent: () => void; label?: string; inThread?: boolean;
}) {
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  // "@jo" right before the caret: members to mention.
  const typed = /(?:^|[^\w@])@([A-Za-z0-9_.-]{0,63})$/.exec(text.slice(0, caret));
  // Members, then @channel and @here where I may use them.
  const candidates: Array<{ key: string; username: string; label: string; detail: string }> = typed && !dismissed ? [
    ...store.mentionCandidates(conversationId, typed[1] ?? "").map((p) => ({ key: p.id, username: p.username, label: p.displayName, detail: `@${p.username}` })),
    ...store.massMentionCandidates(conversationId, typed[1] ?? "").map((m) => ({ key: m.name, username: m.name, label: `@${m.name}`, detail: m.description })),
  ] : [];
  const listOpen = candidates.length > 0;
  const activeIndex = Math.min(active, Math.max(candidates.length - 1, 0));

  const pick = (username: string) => {
    const before = text.slice(0, caret).replace(/@[A-Za-z0-9_.-]*$/, `@${username} `);
    const next = before + text.slice(caret);
    setText(next);
    setCaret(before.length);
    setActive(0);
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(before.length, before.length);
    });
  };
  const [upload, setUpload] = useState<{ name: string; sent: number; total: number; error?: string } | undefined>();
  const lastTyping = useRef(0);
  const [scheduling, setScheduling] = useState(false);
  const [scheduled, setScheduled] = useState<{ text: string; error: boolean } | undefined>();

  const schedule = (sendAt: string) => {
    const body = text.trim();
    if (!body) {
      setScheduled({ text: "Write the message to schedule first.", error: true });
      return;
    }
    store.schedule(conversationId, body, sendAt).then((done) => {
      setText("");
      setScheduling(false);
      setScheduled({ text: `Scheduled for ${new Date(done.sendAt).toLocaleString()}.`, error: false });
    }, (e: unknown) => setScheduled({ text: errorText(e), error: true }));
  };

  const attach = async (file: File | undefined) => {
    if (!file || (inThread && !replyTo)) return;
    setUpload({ name: file.name, sent: 0, total: file.size });
    try {
      await store.sendFile(conversationId, file, text.trim(), replyTo?.id, (sent, total) => setUpload({ name: file.name, sent, total }));
      setText("");
      setUpload(undefined);
      onSent();
    } catch (e) {
      setUpload({ name: file.name, sent: 0, total: file.size, error: errorText(e) });
    }
  };

  const send = () => {
    const body = text.trim();
    if (!body || (inThread && !replyTo)) return;
    store.send(conversationId, body, replyTo?.id);
    setText("");
    onSent();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (listOpen && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      setActive((activeIndex + (event.key === "ArrowDown" ? 1 : candidates.length - 1)) % candidates.length);
    } else if (listOpen && (event.key === "Enter" || event.key === "Tab")) {
      event.preventDefault();
      pick(candidates[activeIndex]!.username);
    } else if (listOpen && event.key === "Escape") {
      event.preventDefault();
      setDismissed(true);
    } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && replyTo && !inThread) onCancelReply();
  };

  return (
    <form className="composer" onSubmit={(e) => {
      e.preventDefault();
      send();
    }}>
      {replyTo && !inThread && (
        <div className="replying" role="status">
          <span>Replying to {store.displayName(replyTo.senderId)}: <span className="muted">{replyTo.text.slice(0, 80)}</span></span>
          <button type="button" onClick={onCancelReply} aria-label="Cancel reply">✕</button>
        </div>
      )}
      {upload && (upload.error ? (
        <p className="error" role="alert">Could not send {upload.name}: {upload.error}</p>
      ) : (
        <div className="upload" role="status" data-testid="upload-progress">
          <label htmlFor="upload-progress">Uploading {upload.name}: {percent(upload.sent, upload.total)}%</label>
          <progress id="upload-progress" max={upload.total || 1} value={upload.sent} />
        </div>
      ))}
      {listOpen && (
        <ul id="mention-list" role="listbox" aria-label="People to mention" className="mentions-list">
          {candidates.map((candidate, index) => (
            <li
              key={candidate.key}
              id={`mention-${index}`}
              role="option"
              aria-selected={index === activeIndex}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(candidate.username);
              }}
            >
              {candidate.label} <span className="muted">{candidate.detail}</span>
            </li>
          ))}
        </ul>
      )}
      {scheduling && <ScheduleForm onSchedule={schedule} onCancel={() => setScheduling(false)} />}
      {scheduled && <p role={scheduled.error ? "alert" : "status"} className={scheduled.error ? "error" : "muted"} data-testid="schedule-outcome">{scheduled.text}</p>}
      <label htmlFor="composer-text" className="visually-hidden">{label}</label>
      <div className="row">
        <span className="attach">
          <input
            id="composer-file"
            type="file"
            className="visually-hidden"
            disabled={upload !== undefined && !upload.error}
            onChange={(e) => {
              void attach(e.target.files?.[0]);
              e.target.value = "";
            }}
          />
          <label htmlFor="composer-file" title="Attach a file">📎<span className="visually-hidden">Attach a file</span></label>
        </span>
        <textarea
          id="composer-text"
          ref={ref}
          value={text}
          rows={2}
          placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={listOpen}
          aria-controls="mention-list"
          aria-activedescendant={listOpen ? `mention-${activeIndex}` : undefined}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setDismissed(false);
            const now = Date.now();
            if (e.target.value && now - lastTyping.current > 2500) {
              lastTyping.current = now;
              void store.typing(conversationId);
            }
          }}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary">Send</button>
        {!inThread && (
          <button type="button" aria-expanded={scheduling} title="Pick a time: the message goes then" onClick={() => {
            setScheduling(!scheduling);
            setScheduled(undefined);
          }}>Schedule for later</button>
        )}
      </div>
    </form>
  );
}

// A direct message from someone not in my contacts: they see neither my presence nor my read receipts until I accept
// (or reply, which accepts too); declining leaves the conversation.
function MessageRequest({ store, conversationId, from, onDeclined }: { store: ChatStore; conversationId: string; from: string; onDeclined: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const answer = async (accept: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      if (accept) await store.acceptRequest(conversationId);
      else {
        await store.declineRequest(conversationId);
        onDeclined();
      }
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="message-request" role="region" aria-label="Message request" data-testid="message-request">
      <p>{from} is not in your contacts. Until you accept (or reply), they see neither your presence nor your read receipts.</p>
      <button type="button" onClick={() => void answer(true)} disabled={busy}>Accept</button>
      <button type="button" onClick={() => void answer(false)} disabled={busy}>Decline</button>
      {error && <p role="alert" className="error">{error}</p>}
    </div>
  );
}

/**
 * A thread: its root and every reply in order, live (replies arriving on the stream show at once), with its own
 * composer that answers the root. Opening it reads the whole thread and marks it read; follow to hear of new replies.
 */
function ThreadView({ store, conversationId, rootId, title, onClose }: {
  store: ChatStore; conversationId: string; rootId: string; title: string; onClose: () => void;
}) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const thread = store.thread(conversationId, rootId);
  const { root, replies } = store.threadMessages(conversationId, rootId);
  const composer = useRef<HTMLTextAreaElement>(null);
  const list = useRef<HTMLOListElement>(null);
  const [error, setError] = useState<string | undefined>();
  const newest = replies.at(-1)?.seq ?? 0;

  useEffect(() => {
    void store.openThread(conversationId, rootId);
  }, [store, conversationId, rootId]);
  useEffect(() => {
    if (thread.loaded && newest > 0) void store.markThreadRead(conversationId, rootId, newest).catch(() => undefined);
  }, [store, conversationId, rootId, thread.loaded, newest]);
  useLayoutEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [replies.length]);

  const follow = (value: boolean) => {
    setError(undefined);
    store.setFollowing(conversationId, rootId, value).catch((e: unknown) => setError(errorText(e)));
  };

  return (
    <section className="conversation thread" aria-labelledby="thread-title" data-testid="thread">
      <header className="conversation-header">
        <button type="button" onClick={onClose} aria-label={`Back to ${title}`}>←</button>
        <div className="conversation-heading">
          <h2 id="thread-title">Thread</h2>
          <p className="presence-line">in {title} · {replies.length === 1 ? "1 reply" : `${replies.length} replies`}</p>
        </div>
        {thread.loaded && (
          <button type="button" className="follow" aria-pressed={thread.following} onClick={() => follow(!thread.following)}>
            {thread.following ? "Following" : "Follow"}
          </button>
        )}
      </header>
      {(thread.error ?? error) && <p role="alert" className="error">{thread.error ?? error}</p>}
      <ol ref={list} className="messages" aria-label="Thread messages" aria-live="polite" aria-relevant="additions" tabIndex={0}>
        {!root && !thread.error && <li role="status">Loading the thread…</li>}
        {root && <MessageItem store={store} conversationId={conversationId} message={root} repliedTo={undefined} onReply={() => composer.current?.focus()} />}
        {root && <li className="start thread-divider" aria-hidden="true">{replies.length === 0 ? "No replies yet" : ""}</li>}
        {replies.map((reply) => (
          <MessageItem key={reply.id} store={store} conversationId={conversationId} message={reply} repliedTo={undefined} onReply={() => composer.current?.focus()} />
        ))}
      </ol>
      <Composer
        ref={composer}
        store={store}
        conversationId={conversationId}
        replyTo={root}
        inThread
        label="Reply in thread"
        onCancelReply={() => undefined}
        onSent={() => undefined}
      />
    </section>
  );
}

/** The image at its large size in a modal dialog: Escape, the close button or a click outside closes it; focus returns. */
function ImageViewer({ details, name, onClose }: { details: MediaDetails; name: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    const opener = document.activeElement as HTMLElement | null;
    element.showModal();
    return () => opener?.focus();
  }, []);
  const source = details.largeThumbnail?.url ?? details.download.url;
  return (
    <dialog ref={dialog} className="viewer" aria-label={`Image: ${name}`} data-testid="image-viewer" onClose={onClose}
      onClick={(event) => event.target === dialog.current && dialog.current?.close()}>
      <div className="viewer-bar">
        <span className="viewer-name">{name}</span>
        <a href={details.download.url} target="_blank" rel="noopener noreferrer" download={name}>Download</a>
        <button type="button" onClick={() => dialog.current?.close()} autoFocus>Close</button>
      </div>
      <img src={source} alt={`Image: ${name}`} />
    </dialog>
  );
}
