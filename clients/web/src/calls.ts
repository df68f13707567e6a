import { type CallSignalNotice, type ConversationEvent, EventTypes, type PlatformClient } from "@platform/client";
import { errorText } from "./format";

/** A call as the page knows it: ringing for me, or one I am in. */
export interface CallState {
  id: string;
  conversationId: string;
  kind: "audio" | "video";
  startedBy: string;
  /** ringing: invited, not answered; connecting: joining, asking for the camera; in-call: joined. */
  phase: "ringing" | "connecting" | "in-call";
  error: string | undefined;
}

/** What a signal carries: an SDP offer or answer, or an ICE candidate. */
type Signal = { type: "offer" | "answer"; sdp: string } | { type: "candidate"; candidate: RTCIceCandidateInit };

interface Peer {
  connection: RTCPeerConnection;
  /** I sent the first offer: I am the one who restarts ICE, so two restarts never cross. */
  initiator: boolean;
  stream: MediaStream;
  /** Candidates that came before the remote description. */
  early: RTCIceCandidateInit[];
}

/**
 * Calls in the browser: a mesh of WebRTC peer connections, one per other participant (Messaging keeps a call to at most
 * 8). Signaling goes through the hub (`Signal`, relayed by the Gateway to the participant's connections); the ICE
 * servers (STUN, TURN with short-lived credentials) come from `GET /api/v1/calls/ice-servers`. Whoever joins offers to
 * everyone already in the call, and they answer, so two offers never cross.
 */
export class CallController {
  readonly #listeners = new Set<() => void>();
  readonly #peers = new Map<string, Peer>();
  readonly #pending: CallSignalNotice[] = [];
  #call: CallState | undefined;
  #incoming: CallState | undefined;
  #local: MediaStream | undefined;
  #iceServers: RTCIceServer[] | undefined;
  #iceRefresh: ReturnType<typeof setTimeout> | undefined;
  #version = 0;
  #muted = false;
  #cameraOff = false;
  #ended = false;

  constructor(readonly client: PlatformClient, readonly me: string) {}

  get call(): CallState | undefined {
    return this.#call;
  }

  get incoming(): CallState | undefined {
    return this.#incoming;
  }

  get localStream(): MediaStream | undefined {
    return this.#local;
  }

  get muted(): boolean {
    return this.#muted;
  }

  get cameraOff(): boolean {
    return this.#cameraOff;
  }

  /** The other participants' streams, by user id. */
  get remoteStreams(): [string, MediaStream][] {
    return [...this.#peers].map(([userId, peer]) => [userId, peer.stream]);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getVersion = (): number => this.#version;

  /** Starts the stream's listeners: rings for `call.started` of others, hangs up on `call.ended`, answers signals. */
  attach(): () => void {
    const offEvent = this.client.realtime.on("event", (event) => this.#onEvent(event));
    const offSignal = this.client.realtime.on("signal", (signal) => void this.#onSignal(signal));
    return () => {
      offEvent();
      offSignal();
    };
  }

  /** Calls the conversation's other members. */
  async start(conversationId: string, kind: "audio" | "video"): Promise<void> {
    if (this.#call) throw new Error("You are in a call already.");
    this.#call = { id: "", conversationId, kind, startedBy: this.me, phase: "connecting", error: undefined };
    this.#changed();
    try {
      // The camera first: an answer to the call may come at once, and its offer needs my tracks.
      await this.#openMedia(kind);
      const call = await this.client.startCall(conversationId, kind);
      this.#call = { ...this.#call, id: call.id, kind: call.kind ?? kind, startedBy: call.startedBy, phase: "in-call" };
      // 200 with a call already going on: join it as a callee would.
      if (call.startedBy !== this.me) await this.#joinCall(call.id);
      this.#changed();
      this.#drainPending();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Answers the ringing call. */
  async answer(): Promise<void> {
    const incoming = this.#incoming;
    if (!incoming) return;
    this.#incoming = undefined;
    this.#call = { ...incoming, phase: "connecting" };
    this.#changed();
    try {
      await this.#openMedia(incoming.kind);
      await this.#joinCall(incoming.id);
    } catch (error) {
      this.#fail(error);
    }
  }

  async decline(): Promise<void> {
    const incoming = this.#incoming;
    this.#incoming = undefined;
    this.#changed();
    if (incoming) await this.client.declineCall(incoming.id).catch(() => undefined);
  }

  /** Leaves the call (it ends for everyone when fewer than two remain). */
  async hangUp(): Promise<void> {
    const call = this.#call;
    this.#close();
    if (call?.id) await this.client.leaveCall(call.id).catch(() => undefined);
  }

  toggleMute(): void {
    this.#muted = !this.#muted;
    for (const track of this.#local?.getAudioTracks() ?? []) track.enabled = !this.#muted;
    this.#changed();
  }

  toggleCamera(): void {
    this.#cameraOff = !this.#cameraOff;
    for (const track of this.#local?.getVideoTracks() ?? []) track.enabled = !this.#cameraOff;
    this.#changed();
  }

  async #joinCall(callId: string): Promise<void> {
    const call = await this.client.joinCall(callId);
    if (this.#call) this.#call = { ...this.#call, phase: "in-call" };
    this.#changed();
    // I joined last: I offer to everyone already in the call.
    for (const userId of call.joined) if (userId !== this.me) await this.#offer(userId);
    this.#drainPending();
  }

  async #openMedia(kind: "audio" | "video"): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("This browser cannot make calls (no camera or microphone access; the page needs HTTPS).");
    try {
      this.#local = await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" });
    } catch (error) {
      throw new Error(`No ${kind === "video" ? "camera or microphone" : "microphone"}: ${errorText(error)}`);
    }
    await this.#loadIceServers();
    this.#changed();
  }

  /**
   * TURN credentials live minutes (Messaging's `Calls:Ice:CredentialLifetime`), and a TURN server refuses to keep a
   * relay alive on expired ones: before they expire, fetch new ones, hand them to every connection, and restart ICE on
   * the connections this page started.
   */
  async #loadIceServers(): Promise<void> {
    const answer = await this.client.getIceServers();
    this.#iceServers = answer.iceServers as RTCIceServer[];
    if (this.#iceRefresh !== undefined) clearTimeout(this.#iceRefresh);
    const lifetimeMs = (answer.ttl ?? 0) * 1000;
    if (lifetimeMs <= 0) return;
    this.#iceRefresh = setTimeout(() => void this.#refreshIce(), Math.max(lifetimeMs * 0.8, 30_000));
  }

  async #refreshIce(): Promise<void> {
    if (!this.#call) return;
    try {
      await this.#loadIceServers();
      for (const [userId, peer] of this.#peers) {
        peer.connection.setConfiguration({ ...peer.connection.getConfiguration(), iceServers: this.#iceServers ?? [] });
        if (peer.initiator && peer.connection.signalingState === "stable") {
          await peer.connection.setLocalDescription(await peer.connection.createOffer({ iceRestart: true }));
          await this.#send(userId, { type: "offer", sdp: peer.connection.localDescription!.sdp });
        }
      }
    } catch (error) {
      this.#fail(error, false);
    }
  }

  #peer(userId: string): Peer {
    let peer = this.#peers.get(userId);
    if (peer) return peer;
    const connection = new RTCPeerConnection({ iceServers: this.#iceServers ?? [] });
    peer = { connection, initiator: false, stream: new MediaStream(), early: [] };
    const created = peer;
    for (const track of this.#local?.getTracks() ?? []) connection.addTrack(track, this.#local!);
    connection.ontrack = (event) => {
      created.stream.addTrack(event.track);
      this.#changed();
    };
    connection.onicecandidate = (event) => {
      if (event.candidate) void this.#send(userId, { type: "candidate", candidate: event.candidate.toJSON() });
    };
    connection.onconnectionstatechange = () => this.#changed();
    this.#peers.set(userId, peer);
    this.#changed();
    return peer;
  }

  async #offer(userId: string): Promise<void> {
    const peer = this.#peer(userId);
    peer.initiator = true;
    const { connection } = peer;
    await connection.setLocalDescription(await connection.createOffer());
    await this.#send(userId, { type: "offer", sdp: connection.localDescription!.sdp });
  }

  async #onSignal(notice: CallSignalNotice): Promise<void> {
    const call = this.#call;
    // A signal may arrive before my start's answer told me the call's id: it waits for it.
    if (!call || call.phase === "connecting" || !call.id) {
      if (call) this.#pending.push(notice);
      return;
    }
    if (notice.callId !== call.id) return;
    const signal = notice.payload as Signal;
    try {
      const peer = this.#peer(notice.fromUserId);
      if (signal.type === "offer" || signal.type === "answer") {
        await peer.connection.setRemoteDescription({ type: signal.type, sdp: signal.sdp });
        for (const candidate of peer.early.splice(0)) await peer.connection.addIceCandidate(candidate);
        if (signal.type === "offer") {
          await peer.connection.setLocalDescription(await peer.connection.createAnswer());
          await this.#send(notice.fromUserId, { type: "answer", sdp: peer.connection.localDescription!.sdp });
        }
      } else if (signal.type === "candidate") {
        if (peer.connection.remoteDescription) await peer.connection.addIceCandidate(signal.candidate);
        else peer.early.push(signal.candidate);
      }
    } catch (error) {
      this.#fail(error, false);
    }
  }

  #drainPending(): void {
    for (const notice of this.#pending.splice(0)) void this.#onSignal(notice);
  }

  async #send(userId: string, signal: Signal): Promise<void> {
    const call = this.#call;
    if (!call?.id) return;
    try {
      await this.client.realtime.signal(call.id, userId, signal);
    } catch (error) {
      this.#fail(error, false);
    }
  }

  #onEvent(event: ConversationEvent): void {
    const data = event.data as { callId?: string; kind?: "audio" | "video"; startedBy?: string };
    if (!data.callId) return;
    if (event.type === EventTypes.CallStarted && data.startedBy !== this.me && !this.#call && !this.#incoming) {
      // Ringing only while it is new: a replay of an old call.started (a reload) asks Messaging whether it still rings.
      const ringing: CallState = {
        id: data.callId, conversationId: event.conversationId, kind: data.kind ?? "video", startedBy: data.startedBy ?? "", phase: "ringing", error: undefined,
      };
      void this.client.getCall(data.callId).then((call) => {
        if (call.state === "ringing" && call.ringing.includes(this.me) && !this.#call) {
          this.#incoming = ringing;
          this.#changed();
        }
      }, () => undefined);
    } else if (event.type === EventTypes.CallEnded) {
      if (this.#incoming?.id === data.callId) {
        this.#incoming = undefined;
        this.#changed();
      }
      if (this.#call?.id === data.callId) this.#close();
    }
  }

  #fail(error: unknown, close = true): void {
    const message = errorText(error);
    if (close) {
      const call = this.#call;
      this.#close();
      if (call?.id) void this.client.leaveCall(call.id).catch(() => undefined);
      this.#call = call ? { ...call, phase: "in-call", error: message } : undefined;
      this.#ended = true;
    } else if (this.#call) this.#call = { ...this.#call, error: message };
    this.#changed();
  }

  /** Whether the call shown failed and ended (the panel shows its error until dismissed). */
  get ended(): boolean {
    return this.#ended;
  }

  dismiss(): void {
    this.#call = undefined;
    this.#ended = false;
    this.#changed();
  }

  #close(): void {
    if (this.#iceRefresh !== undefined) clearTimeout(this.#iceRefresh);
    this.#iceRefresh = undefined;
    for (const peer of this.#peers.values()) peer.connection.close();
    this.#peers.clear();
    for (const track of this.#local?.getTracks() ?? []) track.stop();
    this.#local = undefined;
    this.#pending.length = 0;
    this.#call = undefined;
    this.#muted = false;
    this.#cameraOff = false;
    this.#changed();
  }

  #changed(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }
}
