// What the message view derives from the messages and the members' watermarks: day and
// sender groups, delivery ticks, "Seen by", "is typing".
import type { User, Watermarks } from "../api/types";
import type { ChatMessage } from "../store";

// Messages of one sender further apart than this start a new group.
const GROUP_GAP_MS = 5 * 60_000;

export interface Placed {
  message: ChatMessage;
  /** The day's label when this message is the first of its day. */
  day: string | null;
  /** The first of a run of one sender's messages (its name is shown). */
  first: boolean;
}

function when(message: ChatMessage): Date {
  return new Date(message.clientTimestamp ?? message.serverTimestamp);
}

/** "Today", "Yesterday", or the date, in the reader's time zone. */
export function dayLabel(date: Date, now = new Date()): string {
  const start = (day: Date) => new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime();
  const days = Math.round((start(now) - start(date)) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return date.toLocaleDateString([], {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(date.getFullYear() !== now.getFullYear() && { year: "numeric" }),
  });
}

/** The messages with where days and runs of one sender begin. */
export function placeMessages(messages: ChatMessage[]): Placed[] {
  let previous: ChatMessage | undefined;
  return messages.map((message) => {
    const date = when(message);
    const before = previous && when(previous);
    const newDay = before === undefined || before.toDateString() !== date.toDateString();
    const first =
      newDay ||
      previous?.senderId !== message.senderId ||
      date.getTime() - before.getTime() > GROUP_GAP_MS;
    previous = message;
    return { message, day: newDay ? dayLabel(date) : null, first };
  });
}

export type Delivery = "pending" | "retrying" | "failed" | "SENT" | "DELIVERED" | "READ";

/** Our message's state: READ once every other member read it, DELIVERED once every other
 * member's client has it, else SENT (docs/api.md, "Delivery"). */
export function deliveryOf(
  message: ChatMessage,
  marks: Record<string, Watermarks> | undefined,
  me: string | undefined,
): Delivery {
  if (message.local !== undefined) return message.local.state;
  if (message.seq === null) return "pending";
  const others = Object.entries(marks ?? {}).filter(([userId]) => userId !== me);
  // readReceipts off (watermarks null) or no one else: only what the message says.
  if (others.length === 0 || others.some(([, mark]) => mark.readSeq === null)) {
    return message.status === "READ" || message.status === "DELIVERED" ? message.status : "SENT";
  }
  const seq = message.seq;
  if (others.every(([, mark]) => (mark.readSeq ?? 0) >= seq)) return "READ";
  if (others.every(([, mark]) => Math.max(mark.deliveredSeq ?? 0, mark.readSeq ?? 0) >= seq)) {
    return "DELIVERED";
  }
  return "SENT";
}

/** "Bob", "Bob and Carol", "Bob, Carol and 2 others". */
export function namesList(names: string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/** Who (besides us) has read up to `seq`, by name (a stable order as receipts arrive). */
export function readers(
  seq: number,
  marks: Record<string, Watermarks> | undefined,
  users: Record<string, User>,
  me: string | undefined,
): string[] {
  return Object.entries(marks ?? {})
    .filter(([userId, mark]) => userId !== me && (mark.readSeq ?? 0) >= seq)
    .map(([userId]) => users[userId]?.displayName ?? "Someone")
    .sort((a, b) => a.localeCompare(b));
}

/** "Bob is typing...", "Bob and Carol are typing...", or "" (expired entries left out). */
export function typingLine(
  typing: Record<string, number> | undefined,
  users: Record<string, User>,
  now = Date.now(),
): string {
  const names = Object.entries(typing ?? {})
    .filter(([, until]) => until > now)
    .map(([userId]) => users[userId]?.displayName ?? "Someone")
    .sort((a, b) => a.localeCompare(b));
  if (names.length === 0) return "";
  if (names.length > 3) return "Several people are typing...";
  return `${namesList(names)} ${names.length === 1 ? "is" : "are"} typing...`;
}

/** Stable across the send's life (local id, then the server's): clientMessageIds are unique
 * per sender only, so the sender is part of the key. */
export function messageKey(message: ChatMessage): string {
  return message.clientMessageId !== null
    ? `${message.senderId}:${message.clientMessageId}`
    : message.id;
}

/** The name shown over a run of one sender's messages. */
export function senderName(message: ChatMessage, users: Record<string, User>): string {
  return (message.senderId ? users[message.senderId]?.displayName : undefined) ?? "Someone";
}
