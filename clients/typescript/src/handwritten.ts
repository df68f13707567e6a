// TYPED BY HAND: what no service's OpenAPI document describes. Everything else comes from src/generated.
// - the realtime hub's payloads (/hubs/chat is SignalR, not in OpenAPI): shapes from services/Gateway/README.md;
// - `data` of an event envelope, which the log endpoint documents as any JSON (JsonElement): per type, from
//   ARCHITECTURE.md ("for message.posted data is the message shape") and Platform.Client's EventTypes;
// - the body of POST /api/v1/media (multipart, `file`), which Media's document leaves out.
import type { Attachment, EventEnvelope, Message } from "./models.js";

/** The `type` values of conversation events. */
export const EventTypes = {
  ConversationCreated: "conversation.created",
  ConversationUpdated: "conversation.updated",
  MemberJoined: "member.joined",
  MemberLeft: "member.left",
  MemberRoleChanged: "member.role-changed",
  MemberBanned: "member.banned",
  MemberUnbanned: "member.unbanned",
  MemberTimedOut: "member.timed-out",
  MessagePosted: "message.posted",
  MessageEdited: "message.edited",
  MessageDeleted: "message.deleted",
  MessagePinned: "message.pinned",
  MessageUnpinned: "message.unpinned",
  ReactionAdded: "reaction.added",
  ReactionRemoved: "reaction.removed",
  LinkPreviewAttached: "link-preview.attached",
  /** Media processed files of a message: `data` is {@link AttachmentsReady}. */
  MessageAttachmentsReady: "message.attachments-ready",
  CallStarted: "call.started",
  CallEnded: "call.ended",
} as const;

/** One event of a conversation: the envelope with `data` as the JSON it is. Narrow with {@link asMessage}. */
export type ConversationEvent = Omit<EventEnvelope, "data"> & { data: unknown };

/** For `message.posted`: the message; otherwise undefined. */
export function asMessage(event: ConversationEvent): Message | undefined {
  return event.type === EventTypes.MessagePosted ? (event.data as Message) : undefined;
}

/**
 * The 202 answer of a send that was a bot's slash command (it went to the bot, not into the log; the answer comes
 * later). The send's OpenAPI document shows one 202 shape (the bot's ephemeral answer), so this one is typed here.
 */
export interface CommandAccepted {
  command: string;
  botId: string;
  responseId: string;
  conversationId: string;
}

/** `data` of `message.attachments-ready`: the message's files Media has processed, each with its details. */
export interface AttachmentsReady {
  messageId: string;
  attachments: Attachment[];
}

/** For `message.attachments-ready`: its data; otherwise undefined. */
export function asAttachmentsReady(event: ConversationEvent): AttachmentsReady | undefined {
  return event.type === EventTypes.MessageAttachmentsReady ? (event.data as AttachmentsReady) : undefined;
}

/** Hub `typing`: someone is typing in a conversation until `expiresAt`. */
export interface TypingNotice {
  conversationId: string;
  userId: string;
  expiresAt: string;
}

/** Hub `receipt`: a member's cursors moved. */
export interface ReceiptNotice {
  conversationId: string;
  userId: string;
  delivered: number | null;
  read: number | null;
}

/** Hub `notification`: a new entry of my feed. */
export interface NotificationNotice {
  id: string;
  kind: string;
  conversationId: string | null;
  seq: number | null;
  title: string;
  body: string | null;
  createdAt: string;
  [more: string]: unknown;
}

/** Hub `presence` and the answer of `WatchPresence`: a watched user's presence. */
export interface PresenceNotice {
  userId: string;
  status: "online" | "offline" | "unknown" | (string & {});
  availability: string | null;
  lastActiveAt: string | null;
  statusText: string | null;
}

/** Hub `signal`: a call participant's WebRTC signal (SDP offer or answer, ICE candidate), payload as sent. */
export interface CallSignalNotice {
  callId: string;
  fromUserId: string;
  payload: unknown;
}

/** The answer of the hub's `Positions()`: every event of the conversation after `seq` reaches this connection. */
export interface HubPosition {
  conversationId: string;
  seq: number;
}
