// The optimistic send of docs/api.md: shown at once as pending, sent over the socket,
// confirmed by the ack (a message already stored) or `message_confirmed`, failed with Retry on
// a refusal, `message_failed`, or no answer in time.
import type { Message } from "../api/types";
import { emitWithAck } from "../socket";
import { getState, mergeMessages, updateList, type ChatMessage } from "../store";
import { currentSocket } from "./connection";

// How long an accepted send may wait for `message_confirmed` before it shows as failed (with
// Retry, which resends it with the same clientMessageId: a send that did commit answers with
// the stored message, never a second one).
const CONFIRM_TIMEOUT_MS = 15_000;

// The latest attempt of each unconfirmed send, so that an earlier attempt's timer does not
// fail a retry.
const attempts = new Map<string, number>();

/** Shows the message at once as pending, then sends it (into a thread with `threadId`). */
export function sendMessage(
  conversationId: string,
  content: string,
  { threadId }: { threadId?: string } = {},
): void {
  const session = getState().session;
  if (session === null) return;
  const now = new Date().toISOString();
  const pending: ChatMessage = {
    // Replaced by the server's id when the ack or the confirmation arrives.
    id: "local:" + newId(),
    conversationId,
    senderId: session.user.id,
    seq: null,
    type: "TEXT",
    content,
    status: "PENDING",
    replyToId: null,
    threadId: threadId ?? null,
    clientMessageId: newId(),
    clientTimestamp: now,
    serverTimestamp: now,
    editedAt: null,
    deletedAt: null,
    encrypted: false,
    local: { state: "pending" },
  };
  updateList(conversationId, (current) => mergeMessages(current, [pending]));
  void deliver(pending);
}

/** Sends a failed message again, with the same clientMessageId (stored once at most). */
export function retry(message: ChatMessage): void {
  const again: ChatMessage = { ...message, local: { state: "pending" } };
  updateList(message.conversationId, (current) => mergeMessages(current, [again]));
  void deliver(again);
}

async function deliver(message: ChatMessage): Promise<void> {
  const socket = currentSocket();
  const clientMessageId = message.clientMessageId;
  if (socket === null || clientMessageId === null) {
    return failSend(message.conversationId, clientMessageId, "Not connected");
  }
  const attempt = (attempts.get(clientMessageId) ?? 0) + 1;
  attempts.set(clientMessageId, attempt);
  const answer = await emitWithAck(socket, "send_message", {
    conversationId: message.conversationId,
    content: message.content ?? "",
    clientMessageId,
    clientTimestamp: message.clientTimestamp ?? new Date().toISOString(),
    ...(message.threadId !== null && { threadId: message.threadId }),
  });
  if (!answer.ok) return failSend(message.conversationId, clientMessageId, answer.error.message);
  // PENDING: still ours to watch (the server's id now); stored already: confirmed.
  acceptOwn(answer.message);
  setTimeout(() => {
    if (attempts.get(clientMessageId) === attempt) {
      failSend(message.conversationId, clientMessageId, "No confirmation from the server");
    }
  }, CONFIRM_TIMEOUT_MS);
}

/** Our message as the server has it: from the send's ack or `message_confirmed`. */
export function acceptOwn(message: Message): void {
  const confirmed = message.status !== "PENDING";
  if (confirmed && message.clientMessageId !== null) attempts.delete(message.clientMessageId);
  const shown: ChatMessage = confirmed ? message : { ...message, local: { state: "pending" } };
  updateList(message.conversationId, (current) => mergeMessages(current, [shown]));
}

/** Marks our pending send failed (a confirmed one stays as it is). */
export function failSend(
  conversationId: string,
  clientMessageId: string | null,
  reason: string,
): void {
  updateList(conversationId, (current) => ({
    ...current,
    items: current.items.map((item) =>
      item.local?.state === "pending" && item.clientMessageId === clientMessageId
        ? { ...item, local: { state: "failed", error: reason } }
        : item,
    ),
  }));
}

/** A random UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost),
 * and a server on a LAN address over http is not one. */
export function newId(): string {
  if (typeof crypto.randomUUID === "function" && isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
