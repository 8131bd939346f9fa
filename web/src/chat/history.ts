// One conversation's messages: pages of history, committed messages as they arrive (with the
// gap rule of docs/api.md, "Client rules for healing"), reading.
import { api } from "../api/client";
import type { Message } from "../api/types";
import { emitWithAck } from "../socket";
import { emptyList, getState, mergeMessages, newestSeq, updateList } from "../store";
import { currentSocket, quietly } from "./connection";
import { fetchConversation, loadMembers, putConversation } from "./conversations";

/** The conversation on screen, whose new messages are read at once. */
let openConversationId: string | null = null;

/** Opens a conversation: its newest page, its members, and reads it. */
export async function openConversation(conversationId: string): Promise<void> {
  openConversationId = conversationId;
  const list = getState().messages[conversationId];
  if (list === undefined || !list.loaded) await loadOlder(conversationId);
  quietly(loadMembers(conversationId));
  markRead(conversationId);
}

export function closeConversation(): void {
  openConversationId = null;
}

/** Reads the conversation on screen (the window became visible and focused again). */
export function markOpenRead(): void {
  if (openConversationId !== null) markRead(openConversationId);
}

/** The next older page of a conversation (the first page when none is loaded). */
export async function loadOlder(conversationId: string): Promise<void> {
  const list = getState().messages[conversationId] ?? emptyList;
  if (list.loadingOlder || (list.loaded && list.olderCursor === null)) return;
  updateList(conversationId, (current) => ({ ...current, loadingOlder: true }));
  try {
    const page = await api.messages(conversationId, list.olderCursor);
    updateList(conversationId, (current) => ({
      ...mergeMessages(current, page.items),
      olderCursor: page.hasMore ? page.nextCursor : null,
      loadingOlder: false,
      loaded: true,
    }));
  } catch (error) {
    updateList(conversationId, (current) => ({ ...current, loadingOlder: false }));
    throw error;
  }
}

/** Tells the server a conversation is read up to its newest message (`always`: even when
 * the list counts nothing unread, as for a message that arrived while it was read). */
function markRead(conversationId: string, always = false): void {
  const socket = currentSocket();
  const conversation = getState().conversations[conversationId];
  const items = getState().messages[conversationId]?.items ?? [];
  const newest = [...items].reverse().find((item) => item.seq !== null);
  if (socket === null || newest === undefined) return;
  if (conversation?.unreadCount === 0 && !always) return;
  void emitWithAck(socket, "mark_messages_read", { conversationId, messageId: newest.id }).then(
    (answer) => {
      if (!answer.ok) return;
      const current = getState().conversations[conversationId];
      if (current) putConversation({ ...current, unreadCount: answer.unreadCount });
    },
  );
}

/** A committed message of any conversation: into its history and the conversation list. */
export function receive(message: Message): void {
  const list = getState().messages[message.conversationId];
  if (list !== undefined) {
    const last = newestSeq(message.conversationId);
    const gap = list.loaded && last > 0 && message.seq !== null && message.seq > last + 1;
    if (gap && !syncing.has(message.conversationId)) {
      // Messages were missed (docs/api.md, "Gaps"): the sync brings them and this one, in order.
      quietly(syncConversation(message.conversationId, last));
      return;
    }
    updateList(message.conversationId, (current) => mergeMessages(current, [message]));
  }
  const conversation = getState().conversations[message.conversationId];
  if (conversation === undefined) {
    quietly(fetchConversation(message.conversationId));
    return;
  }
  if (message.seq !== null && message.seq <= conversation.lastSeq) return; // seen already
  const mine = message.senderId === getState().session?.user.id;
  const reading =
    openConversationId === message.conversationId && !document.hidden && document.hasFocus();
  putConversation({
    ...conversation,
    lastSeq: message.seq ?? conversation.lastSeq,
    lastActivityAt: message.serverTimestamp,
    lastMessage: {
      id: message.id,
      seq: message.seq ?? 0,
      senderId: message.senderId,
      type: message.type,
      content: message.content,
      status: message.status,
      serverTimestamp: message.serverTimestamp,
    },
    unreadCount: mine || reading ? conversation.unreadCount : conversation.unreadCount + 1,
  });
  if (reading && !mine) markRead(message.conversationId, true);
}

/** An edited or deleted message, where its conversation is loaded. */
export function replaceIfLoaded(message: Message): void {
  if (getState().messages[message.conversationId]?.loaded) {
    updateList(message.conversationId, (current) => mergeMessages(current, [message]));
  }
}

// Conversations being synced: one sync at a time each.
const syncing = new Set<string>();

/** The committed messages after `afterSeq`, page by page, handed over in `seq` order. */
export async function syncConversation(conversationId: string, afterSeq: number): Promise<void> {
  if (syncing.has(conversationId)) return;
  syncing.add(conversationId);
  try {
    let from = afterSeq;
    for (;;) {
      const socket = currentSocket();
      if (socket === null) return;
      const answer = await emitWithAck(socket, "sync", { conversationId, afterSeq: from });
      if (!answer.ok) return;
      for (const message of answer.messages) receive(message);
      const newest = answer.messages[answer.messages.length - 1]?.seq;
      if (!answer.hasMore || newest === undefined || newest === null) return;
      from = newest;
    }
  } finally {
    syncing.delete(conversationId);
  }
}
