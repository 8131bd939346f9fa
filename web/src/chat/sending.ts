// The optimistic send of docs/api.md, with the outbox of its "Client rules for healing": shown
// at once as pending, kept in IndexedDB before it is sent over the socket, confirmed by the ack
// (a message already stored) or `message_confirmed`. Sends go out in order; a transient refusal
// or an ack that never came is resent after a jittered backoff with the same clientMessageId (the
// server stores it once at most), a permanent one shows failed with Retry and Discard. After a
// reload or a reconnect, what was never confirmed is shown again and resent.
import type { ApiErrorBody, Attachment, Message } from "../api/types";
import { emitWithAck, type ParleySocket } from "../socket";
import { getState, mergeMessages, updateList, type ChatMessage } from "../store";
import { currentSocket } from "./connection";
import { clearOutbox, deleteEntry, loadEntries, putEntry, type OutboxEntry } from "./outbox";
import { messageTypeFor } from "./uploads";

/** What a send's refusal means (docs/api.md, the table of "Sends"). */
const TRANSIENT = new Set(["COMMIT_FAILED", "SERVICE_UNAVAILABLE", "RATE_LIMITED", "TIMEOUT"]);
const SESSION = new Set(["UNAUTHORIZED", "INVALID_TOKEN", "TOKEN_EXPIRED"]);
/** INTERNAL_ERROR is retried, but a message that fails every time must not hold the rest. */
const INTERNAL_ERROR_TRIES = 3;
const BACKOFF_MS = 200;
const BACKOFF_MAX_MS = 2_000;
/** A send held back this long (or by a second refusal in a row, or an ack that never came) is
 * shown as "Not sent yet" with "Retry now" while it keeps being resent. */
const SHOW_RETRYING_AFTER_MS = 1_000;
/** An entry acknowledged PENDING and never confirmed is sent again after this (doubling). */
const RESEND_AFTER_MS = 5_000;
const RESEND_MAX_MS = 60_000;

interface Unconfirmed {
  entry: OutboxEntry;
  /** queued: to send; inflight: its ack awaited; awaiting: acknowledged PENDING. */
  phase: "queued" | "inflight" | "awaiting" | "failed";
  failures: number;
  internalErrors: number;
  resendAfterMs: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** Written to IndexedDB: nothing is sent before it is stored. */
  stored: Promise<void>;
}

/** The signed-in user's unconfirmed sends, by clientMessageId (insertion is send order). */
const outbox = new Map<string, Unconfirmed>();
let owner: string | null = null;
/** The stored outbox, loaded at the start of the session. */
let restored: Promise<void> = Promise.resolve();
let flushing = false;
/** A backoff under way: nothing is sent until it ends (the outbox keeps its order). */
let backoff: ReturnType<typeof setTimeout> | null = null;
let lastOrder = 0;

/** Loads the user's stored outbox at the start of a session and shows it as pending. */
export function restoreOutbox(userId: string): void {
  stopAll();
  owner = userId;
  restored = loadEntries(userId).then(
    (entries) => {
      for (const entry of entries) {
        lastOrder = Math.max(lastOrder, entry.order);
        track(entry, entry.failed === null ? "queued" : "failed");
        show(entry);
      }
    },
    (error: unknown) => console.warn("The outbox could not be read", error),
  );
}

/** Forgets the outbox on this browser (the user logged out). */
export function forgetOutbox(): void {
  const userId = owner;
  stopAll();
  owner = null;
  if (userId !== null) {
    clearOutbox(userId).catch((error: unknown) => console.warn(error));
  }
}

/** On every (re)connect, after the catch-up: sends again what is still unconfirmed. */
export function resendOutbox(): void {
  if (backoff !== null) clearTimeout(backoff);
  backoff = null;
  for (const unconfirmed of outbox.values()) {
    if (unconfirmed.phase !== "awaiting") continue;
    if (unconfirmed.timer !== null) clearTimeout(unconfirmed.timer);
    unconfirmed.timer = null;
    unconfirmed.phase = "queued";
    unconfirmed.resendAfterMs = RESEND_AFTER_MS;
  }
  void flush();
}

/** Shows the message at once as pending, stores it, then sends it (into a thread with
 * `threadId`; with the uploaded `attachments`, IMAGE or FILE). */
export function sendMessage(
  conversationId: string,
  content: string,
  { threadId, attachments = [] }: { threadId?: string; attachments?: Attachment[] } = {},
): void {
  const userId = owner;
  if (userId === null || getState().session === null) return;
  lastOrder = Math.max(Date.now(), lastOrder + 1);
  const entry: OutboxEntry = {
    clientMessageId: newId(),
    conversationId,
    content,
    threadId: threadId ?? null,
    clientTimestamp: new Date().toISOString(),
    order: lastOrder,
    failed: null,
    ...(attachments.length > 0 && { attachments, type: messageTypeFor(attachments) }),
  };
  show(entry);
  const stored = persist(userId, entry);
  track(entry, "queued", stored);
  void stored.then(flush);
}

/** Sends a failed message again, with the same clientMessageId (stored once at most); one
 * waiting to be resent goes now, without the rest of its backoff. */
export function retry(message: ChatMessage): void {
  const unconfirmed = message.clientMessageId && outbox.get(message.clientMessageId);
  if (!unconfirmed || owner === null) return;
  if (backoff !== null) clearTimeout(backoff);
  backoff = null;
  if (unconfirmed.timer !== null) clearTimeout(unconfirmed.timer);
  unconfirmed.timer = null;
  unconfirmed.entry = { ...unconfirmed.entry, failed: null };
  unconfirmed.phase = "queued";
  unconfirmed.failures = 0;
  unconfirmed.internalErrors = 0;
  show(unconfirmed.entry);
  void persist(owner, unconfirmed.entry).then(flush);
}

/** Drops a failed message: out of the outbox, then off the screen. In that order: gone from
 * the screen means gone from the stored outbox, so a reload right after does not bring it
 * back (the delete is an IndexedDB transaction, which a reload would abort). */
export function discard(message: ChatMessage): void {
  const clientMessageId = message.clientMessageId;
  if (clientMessageId === null || owner === null) return;
  void settle(clientMessageId).then(() =>
    updateList(message.conversationId, (current) => ({
      ...current,
      items: current.items.filter(
        (item) => !(item.local !== undefined && item.clientMessageId === clientMessageId),
      ),
    })),
  );
}

/** Our message as the server has it: from the send's ack or `message_confirmed`. */
export function acceptOwn(message: Message): void {
  const confirmed = message.status !== "PENDING";
  if (confirmed && message.clientMessageId !== null) void settle(message.clientMessageId);
  const shown: ChatMessage = confirmed ? message : { ...message, local: { state: "pending" } };
  updateList(message.conversationId, (current) => mergeMessages(current, [shown]));
}

/** `message_failed`: a send the server accepted PENDING did not commit. */
export function sendFailed(clientMessageId: string, error: ApiErrorBody): void {
  const unconfirmed = outbox.get(clientMessageId);
  if (unconfirmed === undefined || unconfirmed.phase === "failed") return;
  if (unconfirmed.timer !== null) clearTimeout(unconfirmed.timer);
  unconfirmed.timer = null;
  if (refused(unconfirmed, error)) void flush();
}

/** Sends the queued entries one after another, oldest first, while the socket is up. */
async function flush(): Promise<void> {
  if (flushing) return;
  flushing = true;
  try {
    await restored;
    for (;;) {
      const socket = currentSocket();
      if (socket === null || !socket.connected || backoff !== null) return;
      const next = [...outbox.values()].find((unconfirmed) => unconfirmed.phase === "queued");
      if (next === undefined || !(await deliver(socket, next))) return;
    }
  } finally {
    flushing = false;
  }
}

/** One attempt of one entry; false when the rest must wait. */
async function deliver(socket: ParleySocket, unconfirmed: Unconfirmed): Promise<boolean> {
  const { entry } = unconfirmed;
  unconfirmed.phase = "inflight";
  await unconfirmed.stored;
  const answer = await emitWithAck(socket, "send_message", {
    conversationId: entry.conversationId,
    content: entry.content,
    clientMessageId: entry.clientMessageId,
    clientTimestamp: entry.clientTimestamp,
    ...(entry.threadId !== null && { threadId: entry.threadId }),
    ...(entry.attachments !== undefined &&
      entry.attachments.length > 0 && {
        attachments: entry.attachments.map((attachment) => attachment.id),
        type: entry.type ?? messageTypeFor(entry.attachments),
      }),
  });
  // Confirmed by `message_confirmed` meanwhile, or discarded.
  if (outbox.get(entry.clientMessageId) !== unconfirmed) return true;
  if (!answer.ok) return refused(unconfirmed, answer.error);
  unconfirmed.failures = 0;
  if (answer.message.status === "PENDING") {
    unconfirmed.phase = "awaiting";
    resendLater(unconfirmed);
  }
  acceptOwn(answer.message);
  return true;
}

/** Reads a refusal from the table of docs/api.md; false when the rest must wait. */
function refused(unconfirmed: Unconfirmed, error: ApiErrorBody): boolean {
  const bounded =
    error.code === "INTERNAL_ERROR" && ++unconfirmed.internalErrors < INTERNAL_ERROR_TRIES;
  if (TRANSIENT.has(error.code) || bounded) {
    unconfirmed.phase = "queued";
    unconfirmed.failures += 1;
    const wait = backoffMs(unconfirmed.failures, error);
    if (error.code === "TIMEOUT" || unconfirmed.failures > 1 || wait >= SHOW_RETRYING_AFTER_MS) {
      show(unconfirmed.entry, error.message);
    }
    backoff = setTimeout(() => {
      backoff = null;
      void flush();
    }, wait);
    return false;
  }
  if (SESSION.has(error.code)) {
    // Kept: the next connection (with a fresh token) sends it.
    unconfirmed.phase = "awaiting";
    return false;
  }
  unconfirmed.phase = "failed";
  unconfirmed.entry = { ...unconfirmed.entry, failed: error.message };
  show(unconfirmed.entry);
  if (owner !== null) void persist(owner, unconfirmed.entry);
  return true;
}

/** The server's wait when it names one, else 0.2 s doubling up to 2 s, drawn between half
 * and all of it. */
function backoffMs(failures: number, error: ApiErrorBody): number {
  const details = error.details ?? {};
  if (typeof details.retryAfterMs === "number") return details.retryAfterMs;
  if (typeof details.retryAfterSeconds === "number") return details.retryAfterSeconds * 1000;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** (failures - 1));
  return ceiling * (0.5 + Math.random() / 2);
}

/** An entry acknowledged PENDING whose outcome never comes is sent again (the wait doubles
 * and is drawn up to half again longer, so clients do not all resend at once). */
function resendLater(unconfirmed: Unconfirmed): void {
  const wait = unconfirmed.resendAfterMs * (1 + Math.random() / 2);
  unconfirmed.resendAfterMs = Math.min(RESEND_MAX_MS, unconfirmed.resendAfterMs * 2);
  unconfirmed.timer = setTimeout(() => {
    unconfirmed.timer = null;
    if (unconfirmed.phase !== "awaiting") return;
    unconfirmed.phase = "queued";
    show(unconfirmed.entry, "no confirmation from the server");
    void flush();
  }, wait);
}

function track(
  entry: OutboxEntry,
  phase: Unconfirmed["phase"],
  stored: Promise<void> = Promise.resolve(),
): void {
  outbox.set(entry.clientMessageId, {
    entry,
    phase,
    failures: 0,
    internalErrors: 0,
    resendAfterMs: RESEND_AFTER_MS,
    timer: null,
    stored,
  });
}

/** Out of the outbox: confirmed, or discarded. Resolves once the stored entry is deleted
 * (or could not be: a browser without IndexedDB). */
function settle(clientMessageId: string): Promise<void> {
  const unconfirmed = outbox.get(clientMessageId);
  if (unconfirmed === undefined) return Promise.resolve();
  if (unconfirmed.timer !== null) clearTimeout(unconfirmed.timer);
  outbox.delete(clientMessageId);
  if (owner === null) return Promise.resolve();
  return deleteEntry(owner, clientMessageId).catch((error: unknown) => console.warn(error));
}

function stopAll(): void {
  for (const unconfirmed of outbox.values()) {
    if (unconfirmed.timer !== null) clearTimeout(unconfirmed.timer);
  }
  outbox.clear();
  if (backoff !== null) clearTimeout(backoff);
  backoff = null;
}

/** Stores an entry; a browser without IndexedDB (or with it full) still sends. */
function persist(userId: string, entry: OutboxEntry): Promise<void> {
  return putEntry(userId, entry).catch((error: unknown) => {
    console.warn("The outbox could not be stored", error);
  });
}

/** An outbox entry as the message list shows it: pending, failed, or being resent after
 * `retrying` (why it is not sent yet). */
function show(entry: OutboxEntry, retrying?: string): void {
  const userId = owner;
  if (userId === null) return;
  const shown: ChatMessage = {
    // Replaced by the server's id when the ack or the confirmation arrives.
    id: "local:" + entry.clientMessageId,
    conversationId: entry.conversationId,
    senderId: userId,
    seq: null,
    type: entry.type ?? "TEXT",
    content: entry.content,
    status: "PENDING",
    replyToId: null,
    threadId: entry.threadId,
    clientMessageId: entry.clientMessageId,
    clientTimestamp: entry.clientTimestamp,
    serverTimestamp: entry.clientTimestamp,
    editedAt: null,
    deletedAt: null,
    encrypted: false,
    attachments: entry.attachments ?? [],
    local:
      entry.failed !== null
        ? { state: "failed", error: entry.failed }
        : retrying !== undefined
          ? { state: "retrying", error: retrying }
          : { state: "pending" },
  };
  updateList(entry.conversationId, (current) => mergeMessages(current, [shown]));
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
