// What one can do to a message besides sending it, and what others' doings look like live:
// typing, delivery and read watermarks, reactions, edits and deletes, threads
// (docs/api.md, "Socket.IO" and "Edits and reactions").
import { api } from "../api/client";
import type {
  Attachment,
  DeliveryStatusEvent,
  Message,
  MessageHistory,
  ReactionEvent,
  ReactionSummary,
  ReadReceiptEvent,
  TypingEvent,
  Watermarks,
} from "../api/types";
import { emitWithAck, type ParleySocket } from "../socket";
import { getState, mergeMessages, update, updateList, type ChatMessage } from "../store";
import { currentSocket } from "./connection";
import { markOpenRead } from "./history";
import { sendMessage } from "./sending";

// The server announces `isTyping: true` at most once per 2 s per person, so sending more
// often is wasted; it stops announcing 5 s after the last start (TYPING_TIMEOUT).
const TYPING_RESEND_MS = 2_000;
// Composing paused this long counts as stopped.
const TYPING_IDLE_MS = 3_000;
// An indicator whose `isTyping: false` never came (a lost event) goes away after this.
const TYPING_SHOWN_MS = 6_000;
// Messages received within this window are reported delivered together.
const DELIVERED_BATCH_MS = 300;

// ---- Typing (ours) ----

interface OwnTyping {
  startedAt: number;
  idle: ReturnType<typeof setTimeout>;
}

const ownTyping = new Map<string, OwnTyping>();

/** The composer's text changed: announce typing (throttled), or stop when it is empty. */
export function composing(conversationId: string, text: string): void {
  if (text.trim() === "") return stopTyping(conversationId);
  const socket = currentSocket();
  if (socket === null) return;
  const now = Date.now();
  const current = ownTyping.get(conversationId);
  if (current !== undefined) clearTimeout(current.idle);
  let startedAt = current?.startedAt ?? 0;
  if (now - startedAt >= TYPING_RESEND_MS) {
    startedAt = now;
    void emitWithAck(socket, "typing_start", { conversationId });
  }
  const idle = setTimeout(() => stopTyping(conversationId), TYPING_IDLE_MS);
  ownTyping.set(conversationId, { startedAt, idle });
}

/** Sent, emptied, paused or left: tell the room we stopped (once). */
export function stopTyping(conversationId: string): void {
  const current = ownTyping.get(conversationId);
  if (current === undefined) return;
  clearTimeout(current.idle);
  ownTyping.delete(conversationId);
  const socket = currentSocket();
  if (socket !== null) void emitWithAck(socket, "typing_stop", { conversationId });
}

// ---- Typing (others') ----

function setTyping(conversationId: string, userId: string, until: number | null): void {
  update((state) => {
    const { [userId]: _previous, ...others } = state.typing[conversationId] ?? {};
    const people = until === null ? others : { ...others, [userId]: until };
    return { typing: { ...state.typing, [conversationId]: people } };
  });
}

function onUserTyping({ conversationId, userId, isTyping }: TypingEvent): void {
  if (userId === getState().session?.user.id) return;
  if (!isTyping) return setTyping(conversationId, userId, null);
  const until = Date.now() + TYPING_SHOWN_MS;
  setTyping(conversationId, userId, until);
  setTimeout(() => {
    // Only if no later start moved the expiry.
    if (getState().typing[conversationId]?.[userId] === until) {
      setTyping(conversationId, userId, null);
    }
  }, TYPING_SHOWN_MS);
}

// ---- Messages by id ----

function findMessage(messageId: string): ChatMessage | undefined {
  for (const list of Object.values(getState().messages)) {
    const found = list.items.find((item) => item.id === messageId);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Changes a loaded message in place (wherever it is loaded). */
function patchMessage(messageId: string, change: (message: ChatMessage) => ChatMessage): void {
  const message = findMessage(messageId);
  if (message === undefined) return;
  updateList(message.conversationId, (current) => ({
    ...current,
    items: current.items.map((item) => (item.id === messageId ? change(item) : item)),
  }));
}

/** A message as the server answered it, over what is loaded. */
function putMessage(message: Message): void {
  updateList(message.conversationId, (current) => mergeMessages(current, [message]));
}

// ---- Watermarks: delivery ticks and "Seen by" ----

/** The members' read and delivery watermarks of a conversation (where readReceipts is on). */
export async function loadWatermarks(conversationId: string): Promise<void> {
  const page = await api.participants(conversationId);
  const marks: Record<string, Watermarks> = {};
  for (const participant of page.items) {
    if (participant.status !== "ACTIVE") continue;
    marks[participant.userId] = {
      readSeq: participant.readSeq ?? null,
      deliveredSeq: participant.deliveredSeq ?? null,
    };
  }
  update((state) => ({ watermarks: { ...state.watermarks, [conversationId]: marks } }));
}

/** Raises a member's watermarks to `seq` (never lowers them). */
function raiseWatermark(
  conversationId: string,
  userId: string,
  seq: number,
  read: boolean,
): void {
  update((state) => {
    const marks = state.watermarks[conversationId] ?? {};
    const known = marks[userId] ?? { readSeq: null, deliveredSeq: null };
    const next: Watermarks = {
      readSeq: read ? Math.max(known.readSeq ?? 0, seq) : known.readSeq,
      deliveredSeq: Math.max(known.deliveredSeq ?? 0, seq),
    };
    return {
      watermarks: { ...state.watermarks, [conversationId]: { ...marks, [userId]: next } },
    };
  });
}

function onReadReceipt({ conversationId, userId, messageId }: ReadReceiptEvent): void {
  const seq = findMessage(messageId)?.seq;
  if (seq !== undefined && seq !== null) raiseWatermark(conversationId, userId, seq, true);
}

function onDeliveryStatus({ messageId, userId, status }: DeliveryStatusEvent): void {
  const message = findMessage(messageId);
  if (message?.seq === undefined || message.seq === null) return;
  raiseWatermark(message.conversationId, userId, message.seq, status === "READ");
}

// Others' messages received and not yet reported delivered.
let undelivered: string[] = [];
let deliveredTimer: ReturnType<typeof setTimeout> | null = null;

/** Reports another's message as delivered to this client (batched). */
function delivered(message: Message): void {
  if (message.senderId === getState().session?.user.id) return;
  // Whoever sent a message is typing no longer.
  if (message.senderId !== null) setTyping(message.conversationId, message.senderId, null);
  undelivered.push(message.id);
  if (deliveredTimer !== null) return;
  deliveredTimer = setTimeout(() => {
    const socket = currentSocket();
    const messageIds = undelivered.slice(0, 500);
    undelivered = [];
    deliveredTimer = null;
    if (socket !== null && messageIds.length > 0) {
      void emitWithAck(socket, "message_delivered", { messageIds });
    }
  }, DELIVERED_BATCH_MS);
}

// ---- Reactions ----

/** `reactions` with `userId`'s reaction `emoji` added or taken back, counted `count`. */
function withReaction(
  reactions: Record<string, ReactionSummary> | undefined,
  emoji: string,
  userId: string,
  added: boolean,
  count?: number,
): Record<string, ReactionSummary> {
  const { [emoji]: known, ...others } = reactions ?? {};
  const users = new Set(known?.userIds ?? []);
  if (added) users.add(userId);
  else users.delete(userId);
  const total = count ?? users.size;
  return total > 0 ? { ...others, [emoji]: { count: total, userIds: [...users] } } : others;
}

function onReaction(event: ReactionEvent, added: boolean): void {
  patchMessage(event.messageId, (message) => ({
    ...message,
    reactions: withReaction(message.reactions, event.emoji, event.userId, added, event.count),
  }));
}

/** Adds our reaction `emoji`, or takes it back if we had given it. */
export async function toggleReaction(message: ChatMessage, emoji: string): Promise<void> {
  const me = getState().session?.user.id;
  if (me === undefined || message.seq === null) return;
  const had = message.reactions?.[emoji]?.userIds.includes(me) ?? false;
  // Shown at once; the server's answer (or its refusal) settles it.
  const before = findMessage(message.id)?.reactions;
  patchMessage(message.id, (current) => ({
    ...current,
    reactions: withReaction(current.reactions, emoji, me, !had),
  }));
  try {
    const answer = had ? await api.unreact(message.id, emoji) : await api.react(message.id, emoji);
    patchMessage(message.id, (current) => ({ ...current, reactions: answer.reactions }));
  } catch (error) {
    patchMessage(message.id, (current) => ({ ...current, reactions: before }));
    throw error;
  }
}

// ---- Edits and deletes ----

export async function editMessage(message: ChatMessage, content: string): Promise<void> {
  putMessage(await api.editMessage(message.id, content));
}

export async function deleteMessage(message: ChatMessage): Promise<void> {
  putMessage(await api.deleteMessage(message.id));
}

export function messageHistory(messageId: string): Promise<MessageHistory> {
  return api.messageHistory(messageId);
}

// ---- Threads ----

/** A thread's root and replies, into the conversation's messages (the panel shows them). */
export async function loadThread(rootId: string): Promise<void> {
  let after: string | null = null;
  do {
    const page = await api.thread(rootId, after);
    updateList(page.root.conversationId, (current) =>
      mergeMessages(current, [page.root, ...page.items]),
    );
    after = page.hasMore ? page.nextCursor : null;
  } while (after !== null);
}

/** Sends a reply into the thread of `rootId` (optimistic, as any send). */
export function sendThreadReply(
  conversationId: string,
  rootId: string,
  content: string,
  attachments: Attachment[] = [],
): void {
  sendMessage(conversationId, content, { threadId: rootId, attachments });
}

// ---- Events ----

/** Listens to the events of this module on the session's socket. */
export function listenMessageActions(connection: ParleySocket): void {
  connection.on("user_typing", onUserTyping);
  connection.on("reaction_added", (event) => onReaction(event, true));
  connection.on("reaction_removed", (event) => onReaction(event, false));
  connection.on("message_read_receipt", onReadReceipt);
  connection.on("message_delivery_status", onDeliveryStatus);
  connection.on("new_message", ({ message }) => delivered(message));
}

/** The open conversation is read once the window is looked at again (visible and focused). */
export function readWhenLookedAt(): () => void {
  const look = () => {
    if (!document.hidden && document.hasFocus()) markOpenRead();
  };
  window.addEventListener("focus", look);
  document.addEventListener("visibilitychange", look);
  return () => {
    window.removeEventListener("focus", look);
    document.removeEventListener("visibilitychange", look);
  };
}
