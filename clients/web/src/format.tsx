import type { ReactNode } from "react";

const urlPattern = /(https?:\/\/[^\s<>"'`]+)/gi;

/**
 * The one formatter of user text: plain text nodes, and http(s) URLs as links. Nothing is ever parsed as HTML, and no
 * other scheme (javascript:, data:, ...) becomes a link. `@username` is marked as a mention; `@channel` and `@here` are
 * marked as a mass mention when the message has one (`massMention`: Messaging notified everyone, or everyone online),
 * and stay plain text otherwise (written where the writer may not use them, they notified nobody).
 */
export function formatText(text: string, massMention?: string | null): ReactNode[] {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(urlPattern)) {
    const start = match.index;
    const raw = match[0].replace(/[),.;:!?]+$/, "");
    if (start > last) parts.push(...mentions(text.slice(last, start), last, massMention));
    const href = safeHref(raw);
    parts.push(href ? <a key={start} href={href} target="_blank" rel="noopener noreferrer nofollow">{raw}</a> : raw);
    last = start + raw.length;
  }
  if (last < text.length) parts.push(...mentions(text.slice(last), last, massMention));
  return parts;
}

const mentionPattern = /(?<![\w@])(@[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})(?<![.-])/g;

const massMentionTitles: Record<string, string> = { channel: "Notified everyone in the conversation", here: "Notified everyone online" };

// @username as Messaging reads mentions, marked (still text); @channel and @here as mass mentions when they were.
function mentions(text: string, offset: number, massMention: string | null | undefined): ReactNode[] {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(mentionPattern)) {
    const name = match[0].slice(1).toLowerCase();
    const mass = name === "channel" || name === "here";
    if (mass && !massMention) continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(mass
      ? <span key={`m${offset + match.index}`} className="mention mass-mention" title={massMentionTitles[name]} data-testid="mass-mention">{match[0]}</span>
      : <span key={`m${offset + match.index}`} className="mention">{match[0]}</span>);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

export function safeHref(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function timeOf(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** What a failed call or action says, for a role="alert" line. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
