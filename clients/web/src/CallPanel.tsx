import { useEffect, useRef, useSyncExternalStore } from "react";
import type { ChatStore } from "./chat";

/** The ringing banner and, during a call, its video tiles and controls. Shown over whatever page is open. */
export function CallPanel({ store, onOpen }: { store: ChatStore; onOpen: (conversationId: string) => void }) {
  const calls = store.calls;
  useSyncExternalStore(calls.subscribe, calls.getVersion);
  const incoming = calls.incoming;
  const call = calls.call;

  if (incoming && !call) {
    const caller = store.displayName(incoming.startedBy);
    return (
      <section className="call-banner" role="alertdialog" aria-labelledby="incoming-call" data-testid="incoming-call">
        <p id="incoming-call">{caller} is calling ({incoming.kind === "video" ? "video" : "audio"})</p>
        <button type="button" className="primary" onClick={() => {
          onOpen(incoming.conversationId);
          void calls.answer();
        }}>Join</button>
        <button type="button" className="danger" onClick={() => void calls.decline()}>Decline</button>
      </section>
    );
  }
  if (!call) return null;

  const title = store.conversation(call.conversationId).conversation;
  const remote = calls.remoteStreams;
  return (
    <section className="call" aria-label="Call" data-testid="call-panel" data-phase={call.phase}>
      <header className="call-bar">
        <span>
          {calls.ended ? "Call ended" : call.phase === "connecting" ? "Connecting…" : remote.length === 0 ? "Calling…" : "In call"}
          {title ? ` · ${store.title(title)}` : ""}
        </span>
        {!calls.ended && (
          <>
            <button type="button" aria-pressed={calls.muted} onClick={() => calls.toggleMute()}>{calls.muted ? "Unmute" : "Mute"}</button>
            {call.kind === "video" && (
              <button type="button" aria-pressed={calls.cameraOff} onClick={() => calls.toggleCamera()}>{calls.cameraOff ? "Camera on" : "Camera off"}</button>
            )}
            <button type="button" className="danger" onClick={() => void calls.hangUp()}>Hang up</button>
          </>
        )}
        {calls.ended && <button type="button" onClick={() => calls.dismiss()}>Close</button>}
      </header>
      {call.error && <p role="alert" className="error">{call.error}</p>}
      <div className="tiles">
        {calls.localStream && <VideoTile stream={calls.localStream} label="You" muted kind={call.kind} />}
        {remote.map(([userId, stream]) => <VideoTile key={userId} stream={stream} label={store.displayName(userId)} userId={userId} kind={call.kind} />)}
      </div>
    </section>
  );
}

function VideoTile({ stream, label, muted = false, userId, kind }: { stream: MediaStream; label: string; muted?: boolean; userId?: string; kind: "audio" | "video" }) {
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (video.current && video.current.srcObject !== stream) video.current.srcObject = stream;
  });
  return (
    <figure className="tile" data-testid="video-tile" data-user-id={userId ?? "me"}>
      <video ref={video} autoPlay playsInline muted={muted} aria-label={`${label}${kind === "audio" ? " (audio only)" : ""}`} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}
