import { type FormEvent, useEffect, useState, useSyncExternalStore } from "react";
import type { Message, ScheduledMessage } from "@platform/client";
import type { ChatStore, TravelPoint } from "./chat";
import { errorText, formatText, timeOf } from "./format";

/** A time for a `datetime-local` input (local time, to the second). */
export function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The ISO time of a `datetime-local` value (read as local time), or undefined when it is not one. */
export function fromLocalInput(value: string): string | undefined {
  const date = new Date(value);
  return value && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

function when(iso: string): string {
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return `${sameDay ? "today" : date.toLocaleDateString()} at ${date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`;
}

/** The composer's "schedule send": when to send what is typed. */
export function ScheduleForm({ onSchedule, onCancel }: { onSchedule: (sendAt: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(() => localInputValue(new Date(Date.now() + 60 * 60 * 1000)));
  const [invalid, setInvalid] = useState(false);
  return (
    <div className="schedule" role="group" aria-label="Schedule send">
      <label htmlFor="schedule-at">Send at</label>
      <input id="schedule-at" type="datetime-local" step={1} value={value} onChange={(e) => {
        setValue(e.target.value);
        setInvalid(false);
      }} />
      <button type="button" className="primary" onClick={() => {
        const at = fromLocalInput(value);
        if (!at || Date.parse(at) <= Date.now()) setInvalid(true);
        else onSchedule(at);
      }}>Schedule</button>
      <button type="button" onClick={onCancel}>Cancel</button>
      {invalid && <p role="alert" className="error">Pick a time in the future.</p>}
    </div>
  );
}

/** My scheduled messages in this conversation, soonest first: edit the text or time, or cancel one, until it is sent. */
export function ScheduledList({ store, conversationId }: { store: ChatStore; conversationId: string }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const scheduled = store.conversation(conversationId).scheduled;
  useEffect(() => {
    void store.loadScheduled(conversationId);
  }, [store, conversationId]);
  return (
    <section id="scheduled-messages" className="pins" aria-labelledby="scheduled-heading">
      <h3 id="scheduled-heading">Scheduled messages</h3>
      {!scheduled && <p role="status">Loading scheduled messages…</p>}
      {scheduled && scheduled.length === 0 && <p className="muted">Nothing scheduled. Write a message and choose “Schedule for later”.</p>}
      {scheduled && scheduled.length > 0 && (
        <ul aria-label="Scheduled messages" className="scheduled-list">
          {scheduled.map((item) => <ScheduledItem key={item.id} store={store} item={item} />)}
        </ul>
      )}
    </section>
  );
}

function ScheduledItem({ store, item }: { store: ChatStore; item: ScheduledMessage }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(item.text);
  const [at, setAt] = useState(() => localInputValue(new Date(item.sendAt)));
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const run = (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    work().catch((e: unknown) => setError(errorText(e))).finally(() => setBusy(false));
  };
  const save = (event: FormEvent) => {
    event.preventDefault();
    const sendAt = fromLocalInput(at);
    if (!text.trim() || !sendAt) {
      setError("Give the text and a time.");
      return;
    }
    run(async () => {
      await store.updateScheduled(item.conversationId, item.id, { text: text.trim(), sendAt });
      setEditing(false);
    });
  };
  return (
    <li data-testid="scheduled-message" data-scheduled-id={item.id}>
      {editing ? (
        <form className="edit" onSubmit={save} aria-label="Edit the scheduled message">
          <label htmlFor={`scheduled-text-${item.id}`}>Text</label>
          <textarea id={`scheduled-text-${item.id}`} rows={2} value={text} onChange={(e) => setText(e.target.value)} />
          <label htmlFor={`scheduled-at-${item.id}`}>Send at</label>
          <input id={`scheduled-at-${item.id}`} type="datetime-local" step={1} value={at} onChange={(e) => setAt(e.target.value)} />
          <span className="row">
            <button type="submit" disabled={busy}>Save</button>
            <button type="button" onClick={() => setEditing(false)}>Keep as it was</button>
          </span>
        </form>
      ) : (
        <>
          <span className="scheduled-text">{formatText(item.text)}</span>{" "}
          <span className="muted">
            {item.state === "failed" ? `Not sent: ${item.error ?? "it could not be sent"}` : `Sends ${when(item.sendAt)}`}
          </span>
          <span className="row">
            {item.state === "pending" && <button type="button" disabled={busy} onClick={() => setEditing(true)}>Edit</button>}
            <button type="button" disabled={busy} onClick={() => run(() => store.cancelScheduled(item.conversationId, item.id))}>
              {item.state === "pending" ? "Cancel scheduled message" : "Dismiss"}
            </button>
          </span>
        </>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </li>
  );
}

/** Where to travel: a time (to the second) or a seq of the conversation's log. */
export function TravelForm({ onTravel, onCancel }: { onTravel: (point: TravelPoint) => void; onCancel: () => void }) {
  const [by, setBy] = useState<"time" | "seq">("time");
  const [at, setAt] = useState(() => localInputValue(new Date(Date.now() - 60 * 60 * 1000)));
  const [seq, setSeq] = useState("");
  const [invalid, setInvalid] = useState<string | undefined>();
  return (
    <form className="travel" aria-label="View the conversation as it was" onSubmit={(event) => {
      event.preventDefault();
      if (by === "time") {
        const asOf = fromLocalInput(at);
        if (!asOf) setInvalid("Pick a time.");
        else onTravel({ asOf });
      } else {
        const n = Number(seq);
        if (!Number.isInteger(n) || n < 0) setInvalid("A seq is a whole number, 0 or more.");
        else onTravel({ asOfSeq: n });
      }
    }}>
      <fieldset>
        <legend>View as it was</legend>
        <label className="check"><input type="radio" name="travel-by" checked={by === "time"} onChange={() => setBy("time")} /> at a time</label>
        <label className="check"><input type="radio" name="travel-by" checked={by === "seq"} onChange={() => setBy("seq")} /> at a seq</label>
        {by === "time" ? (
          <><label htmlFor="travel-at">Time</label><input id="travel-at" type="datetime-local" step={1} value={at} onChange={(e) => setAt(e.target.value)} /></>
        ) : (
          <><label htmlFor="travel-seq">Seq</label><input id="travel-seq" type="number" min={0} step={1} value={seq} onChange={(e) => setSeq(e.target.value)} /></>
        )}
      </fieldset>
      <span className="row">
        <button type="submit" className="primary">Show</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </span>
      {invalid && <p role="alert" className="error">{invalid}</p>}
    </form>
  );
}

/**
 * The conversation as it was at a point (time travel): read-only, under a banner saying when, with the members then and
 * a way back to now. Messages show their text, edits, reactions and deletes as of then; text erased since stays erased.
 */
export function TravelView({ store, conversationId, title, point, onBack }: {
  store: ChatStore; conversationId: string; title: string; point: TravelPoint; onBack: () => void;
}) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [seq, setSeq] = useState<number | undefined>();
  const [messages, setMessages] = useState<Message[] | undefined>();
  const [members, setMembers] = useState<string[]>([]);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let stopped = false;
    setMessages(undefined);
    setError(undefined);
    store.travel(conversationId, point).then((then) => {
      if (stopped) return;
      setSeq(then.seq);
      setMessages(then.messages);
      setMembers(then.members);
      setMore(then.more);
    }, (e: unknown) => !stopped && setError(errorText(e)));
    return () => {
      stopped = true;
    };
  }, [store, conversationId, point]);

  const older = () => {
    const oldest = messages?.[0];
    if (!oldest || seq === undefined) return;
    setLoading(true);
    store.travel(conversationId, { asOfSeq: seq }, oldest.seq).then((then) => {
      setMessages((shown) => [...then.messages, ...(shown ?? [])]);
      setMore(then.more);
    }, (e: unknown) => setError(errorText(e))).finally(() => setLoading(false));
  };

  const label = point.asOf ? `as of ${when(point.asOf)}` : `as of seq ${point.asOfSeq}`;
  return (
    <section className="conversation" aria-labelledby="conversation-title" data-testid="time-travel">
      <header className="conversation-header">
        <div className="conversation-heading">
          <h2 id="conversation-title">{title}</h2>
        </div>
      </header>
      <div className="travel-banner" role="status" data-testid="travel-banner">
        <p>
          <strong>Viewing {label}</strong>{seq !== undefined && point.asOf ? ` (seq ${seq})` : ""}. Read-only: this is how the conversation was then.
        </p>
        {messages && <p className="muted" data-testid="travel-members">Members then: {members.map((id) => store.displayName(id)).join(", ") || "none"}</p>}
        <button type="button" className="primary" onClick={onBack}>Back to now</button>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <ol className="messages" aria-label={`Messages ${label}`} tabIndex={0}>
        {!messages && !error && <li role="status">Loading the conversation as it was…</li>}
        {messages && (more ? (
          <li className="older"><button type="button" onClick={older} disabled={loading}>{loading ? "Loading…" : "Load older messages"}</button></li>
        ) : <li className="start">{messages.length === 0 ? "Nothing had been written yet." : "This is the beginning of the conversation."}</li>)}
        {messages?.map((message) => (
          <li key={message.id} className={`message${message.senderId === store.me ? " mine" : ""}`} data-seq={message.seq} data-message-id={message.id}>
            <div className="bubble">
              <div className="sender">{store.displayName(message.senderId)}</div>
              {message.deleted ? <div className="text deleted">This message was deleted.</div> : <div className="text">{formatText(message.text, message.massMention)}</div>}
              <div className="meta">
                <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
                {message.edited && !message.deleted && <span className="edited">(edited)</span>}
              </div>
              {!message.deleted && message.reactions.length > 0 && (
                <ul className="reactions" aria-label="Reactions">
                  {message.reactions.map((reaction) => <li key={reaction.emoji} className="reaction">{reaction.emoji} {reaction.count}</li>)}
                </ul>
              )}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** "Forwarded from …": the origin when I may open it (a link to it), otherwise said to be unavailable. */
export function ForwardedFrom({ store, from, onOpen }: {
  store: ChatStore; from: { conversationId: string; messageId: string }; onOpen: (conversationId: string, messageId: string) => void;
}) {
  const origin = store.origin(from);
  if (origin.state === "loading") return <div className="muted forwarded" data-testid="forwarded">Forwarded</div>;
  if (origin.state === "unavailable")
    return <div className="muted forwarded" data-testid="forwarded" data-origin="unavailable">Forwarded · the original is not available to you</div>;
  const row = store.inbox.find((r) => r.id === from.conversationId);
  const where = row ? store.title(row) : "another conversation";
  return (
    <div className="muted forwarded" data-testid="forwarded" data-origin="available">
      Forwarded from {store.displayName(origin.message.senderId)} in{" "}
      <button type="button" className="link" onClick={() => onOpen(from.conversationId, from.messageId)}>{where}</button>
    </div>
  );
}
