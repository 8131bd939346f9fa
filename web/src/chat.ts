// What the screens ask for: starting and ending a session, loading conversations and
// history, sending with the optimistic flow of docs/api.md, and the socket events that keep
// the state live. Components call these; only this module talks to the API and the socket.
import { api, ApiError, configureApi } from "./api/client";
import type { Conversation, Message, TokenOut } from "./api/types";
import { clearSession, loadSession, saveSession } from "./session";
import { connectSocket, emitWithAck, isSessionRefusal, type ParleySocket } from "./socket";
import { emptyList, getState, mergeMessages, update, type ChatMessage } from "./store";
import { navigate } from "./router";

let socket: ParleySocket | null = null;
/** Whether this session's socket has connected before (a connect after it is a reconnect). */
let connectedBefore = false;
/** The conversation on screen, whose new messages are read at once. */
let openConversationId: string | null = null;

configureApi(
  () => getState().session?.token ?? null,
  () => endSession("Your session has ended: please log in again."),
);

// --- session ---------------------------------------------------------------------------

/** Resumes this tab's session after a reload, if it has one. */
export function resumeSession(): void {
  const session = loadSession();
  if (session !== null) beginSession({ token: session.token, user: session.user });
}

export async function logIn(username: string, password: string): Promise<void> {
  const answer = await api.login(username, password);
  startFrom(answer);
}

export async function signUp(
  username: string,
  password: string,
  displayName: string,
): Promise<void> {
  const answer = await api.register(username, password, displayName || undefined);
  startFrom(answer);
}

export async function logOut(): Promise<void> {
  try {
    await api.logout();
  } finally {
    endSession(null);
  }
}

function startFrom(answer: TokenOut): void {
  const session = { token: answer.accessToken, user: answer.user };
  saveSession(session);
  beginSession(session);
  navigate("/", { replace: true });
}

function beginSession(session: { token: string; user: TokenOut["user"] }): void {
  update((state) => ({
    session,
    notice: null,
    users: { ...state.users, [session.user.id]: session.user },
  }));
  connectedBefore = false;
  openSocket(session.token);
  quietly(loadConversations());
}

/** Forgets the session; `notice` tells the log-in screen why (null: the user logged out). */
export function endSession(notice: string | null): void {
  if (getState().session === null) return;
  socket?.disconnect();
  socket = null;
  clearSession();
  update(() => ({
    session: null,
    notice,
    conversations: {},
    conversationsLoaded: false,
    messages: {},
    users: {},
    connection: "offline",
  }));
  navigate("/login", { replace: true });
}

// --- conversations ---------------------------------------------------------------------

async function loadConversations(): Promise<void> {
  const found: Record<string, Conversation> = {};
  let cursor: string | undefined;
  do {
    const page = await api.conversations(cursor);
    for (const conversation of page.items) found[conversation.id] = conversation;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  update(() => ({ conversations: found, conversationsLoaded: true }));
  for (const conversation of Object.values(found)) {
    if (conversation.name === null) quietly(loadMembers(conversation.id));
  }
}

// Who belongs to which conversation, from participant pages (for direct conversations' names).
const members = new Map<string, Set<string>>();

/** The members' profiles: names for direct conversations and for senders. */
export async function loadMembers(conversationId: string): Promise<void> {
  const page = await api.participants(conversationId);
  members.set(conversationId, new Set(page.items.map((participant) => participant.userId)));
  update((state) => {
    const users = { ...state.users };
    for (const participant of page.items) {
      if (participant.user !== null) users[participant.userId] = participant.user;
    }
    return { users };
  });
}

async function fetchConversation(conversationId: string): Promise<void> {
  const conversation = await api.conversation(conversationId);
  putConversation(conversation);
  if (conversation.name === null) quietly(loadMembers(conversation.id));
}

function putConversation(conversation: Conversation): void {
  update((state) => ({
    conversations: { ...state.conversations, [conversation.id]: conversation },
  }));
}

/** The name to show: the conversation's own, or for a direct one the other person's. */
export function conversationTitle(conversation: Conversation): string {
  if (conversation.name) return conversation.name;
  const { session, users } = getState();
  for (const userId of members.get(conversation.id) ?? []) {
    const user = users[userId];
    if (user !== undefined && userId !== session?.user.id) return user.displayName;
  }
  return conversation.type === "DIRECT" ? "Direct conversation" : "Untitled group";
}

// --- history ---------------------------------------------------------------------------

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

/** The next older page of a conversation (the first page when none is loaded). */
export async function loadOlder(conversationId: string): Promise<void> {
  const list = getState().messages[conversationId] ?? emptyList;
  if (list.loadingOlder || (list.loaded && list.olderCursor === null)) return;
  setList(conversationId, (current) => ({ ...current, loadingOlder: true }));
  try {
    const page = await api.messages(conversationId, list.olderCursor);
    setList(conversationId, (current) => ({
      ...mergeMessages(current, page.items),
      olderCursor: page.hasMore ? page.nextCursor : null,
      loadingOlder: false,
      loaded: true,
    }));
  } catch (error) {
    setList(conversationId, (current) => ({ ...current, loadingOlder: false }));
    throw error;
  }
}

function setList(
  conversationId: string,
  change: (current: typeof emptyList) => typeof emptyList,
): void {
  update((state) => ({
    messages: {
      ...state.messages,
      [conversationId]: change(state.messages[conversationId] ?? emptyList),
    },
  }));
}

function lastSeq(conversationId: string): number {
  const items = getState().messages[conversationId]?.items ?? [];
  let seq = 0;
  for (const item of items) if (item.seq !== null && item.seq > seq) seq = item.seq;
  return seq;
}

/** Tells the server the open conversation is read up to its newest message. */
function markRead(conversationId: string): void {
  const conversation = getState().conversations[conversationId];
  const items = getState().messages[conversationId]?.items ?? [];
  const newest = [...items].reverse().find((item) => item.seq !== null);
  if (socket === null || newest === undefined || conversation?.unreadCount === 0) return;
  void emitWithAck(socket, "mark_messages_read", { conversationId, messageId: newest.id }).then(
    (answer) => {
      if (!answer.ok) return;
      const current = getState().conversations[conversationId];
      if (current) putConversation({ ...current, unreadCount: answer.unreadCount });
    },
  );
}

// --- sending ---------------------------------------------------------------------------

/** Shows the message at once as pending, then sends it (docs/api.md, optimistic sends). */
export function sendMessage(conversationId: string, content: string): void {
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
    threadId: null,
    clientMessageId: newId(),
    clientTimestamp: now,
    serverTimestamp: now,
    editedAt: null,
    deletedAt: null,
    encrypted: false,
    local: { state: "pending" },
  };
  setList(conversationId, (current) => mergeMessages(current, [pending]));
  void deliver(pending);
}

/** A random UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost),
 * and a server on a LAN address over http is not one. */
function newId(): string {
  if (typeof crypto.randomUUID === "function" && isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Sends a failed message again, with the same clientMessageId (stored once at most). */
export function retry(message: ChatMessage): void {
  const again: ChatMessage = { ...message, local: { state: "pending" } };
  setList(message.conversationId, (current) => mergeMessages(current, [again]));
  void deliver(again);
}

// How long an accepted send may wait for `message_confirmed` before it shows as failed (with
// Retry, which resends it with the same clientMessageId: a send that did commit answers with
// the stored message, never a second one).
const CONFIRM_TIMEOUT_MS = 15_000;

// The latest attempt of each unconfirmed send, so that an earlier attempt's timer does not
// fail a retry.
const attempts = new Map<string, number>();

async function deliver(message: ChatMessage): Promise<void> {
  const clientMessageId = message.clientMessageId;
  if (socket === null || clientMessageId === null) {
    return fail(message.conversationId, clientMessageId, "Not connected");
  }
  const attempt = (attempts.get(clientMessageId) ?? 0) + 1;
  attempts.set(clientMessageId, attempt);
  const answer = await emitWithAck(socket, "send_message", {
    conversationId: message.conversationId,
    content: message.content ?? "",
    clientMessageId,
    clientTimestamp: message.clientTimestamp ?? new Date().toISOString(),
  });
  if (!answer.ok) return fail(message.conversationId, clientMessageId, answer.error.message);
  // PENDING: still ours to watch (the server's id now); stored already: confirmed.
  accept(answer.message);
  setTimeout(() => {
    if (attempts.get(clientMessageId) === attempt) {
      fail(message.conversationId, clientMessageId, "No confirmation from the server");
    }
  }, CONFIRM_TIMEOUT_MS);
}

/** A message from the server, from the ack, `message_confirmed` or `new_message`. */
function accept(message: Message): void {
  const confirmed = message.status !== "PENDING";
  if (confirmed && message.clientMessageId !== null) attempts.delete(message.clientMessageId);
  const shown: ChatMessage = confirmed ? message : { ...message, local: { state: "pending" } };
  setList(message.conversationId, (current) => mergeMessages(current, [shown]));
}

function fail(conversationId: string, clientMessageId: string | null, reason: string): void {
  setList(conversationId, (current) => ({
    ...current,
    items: current.items.map((item) =>
      item.local?.state === "pending" && item.clientMessageId === clientMessageId
        ? { ...item, local: { state: "failed", error: reason } }
        : item,
    ),
  }));
}

// --- live events -----------------------------------------------------------------------

function openSocket(token: string): void {
  const connection = connectSocket(token);
  socket = connection;
  update(() => ({ connection: "connecting" }));

  connection.on("connect", () => {
    update(() => ({ connection: "online" }));
    if (connectedBefore) quietly(catchUp());
    connectedBefore = true;
  });
  connection.on("disconnect", (reason) => {
    if (socket !== connection) return; // the session ended: nothing to reconnect
    update(() => ({ connection: "offline" }));
    // The server closed it (a token that expired or was revoked, among others): ask the API
    // whether the session still holds; a 401 there ends it, otherwise reconnect.
    if (reason === "io server disconnect") {
      void api.me().then(
        () => connection.connect(),
        () => {},
      );
    }
  });
  connection.on("connect_error", (error) => {
    if (isSessionRefusal(error)) endSession("Your session has ended: please log in again.");
    else update(() => ({ connection: "offline" }));
  });
  connection.on("session_revoked", ({ reason }) => {
    endSession(
      reason === "LOGGED_OUT" ? null : "You were signed out on the server: please log in again.",
    );
  });

  connection.on("new_message", ({ message }) => receive(message));
  connection.on("message_confirmed", ({ message }) => accept(message));
  connection.on("message_failed", ({ clientMessageId, error }) => {
    for (const conversationId of Object.keys(getState().messages)) {
      fail(conversationId, clientMessageId, error.message);
    }
  });
  connection.on("message_updated", ({ message }) => replaceIfLoaded(message));
  connection.on("message_deleted", ({ message }) => replaceIfLoaded(message));
  connection.on("conversation_updated", ({ conversation }) => {
    const known = getState().conversations[conversation.id];
    // The event carries the conversation, not the caller's own fields.
    putConversation({
      ...conversation,
      unreadCount: known?.unreadCount ?? 0,
      lastMessage: known?.lastMessage ?? conversation.lastMessage ?? null,
      myRole: known?.myRole ?? conversation.myRole ?? null,
    });
  });
  connection.on("participant_added", ({ conversationId, participant }) => {
    if (participant.userId === getState().session?.user.id) quietly(fetchConversation(conversationId));
  });
  connection.on("participant_removed", ({ conversationId, participant }) => {
    if (participant.userId !== getState().session?.user.id) return;
    update((state) => {
      const { [conversationId]: _removed, ...rest } = state.conversations;
      return { conversations: rest };
    });
  });
}

/** A committed message of any conversation: into its history and the conversation list. */
function receive(message: Message): void {
  const mine = message.senderId === getState().session?.user.id;
  if (mine && message.clientMessageId !== null) attempts.delete(message.clientMessageId);
  const list = getState().messages[message.conversationId];
  if (list !== undefined) {
    const last = lastSeq(message.conversationId);
    const gap = list.loaded && last > 0 && message.seq !== null && message.seq > last + 1;
    if (gap && !syncing.has(message.conversationId)) {
      // Messages were missed (docs/api.md, "Gaps"): the sync brings them and this one, in order.
      quietly(syncConversation(message.conversationId, last));
      return;
    }
    setList(message.conversationId, (current) => mergeMessages(current, [message]));
  }
  const conversation = getState().conversations[message.conversationId];
  if (conversation === undefined) {
    quietly(fetchConversation(message.conversationId));
    return;
  }
  if (message.seq !== null && message.seq <= conversation.lastSeq) return; // seen already
  const reading = openConversationId === message.conversationId && !document.hidden;
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
  if (reading && !mine) markRead(message.conversationId);
}

function replaceIfLoaded(message: Message): void {
  if (getState().messages[message.conversationId]?.loaded) {
    setList(message.conversationId, (current) => mergeMessages(current, [message]));
  }
}

/** After a reconnect: what each loaded conversation missed meanwhile, through `sync`. */
async function catchUp(): Promise<void> {
  for (const [conversationId, list] of Object.entries(getState().messages)) {
    // A list still loading its first page gets everything from that page.
    if (list.loaded) await syncConversation(conversationId, lastSeq(conversationId));
  }
  // Unread counts and previews of the conversations not loaded.
  await loadConversations();
}

// Conversations being synced: one sync at a time each.
const syncing = new Set<string>();

/** The committed messages after `afterSeq`, page by page, handed over in `seq` order. */
async function syncConversation(conversationId: string, afterSeq: number): Promise<void> {
  if (syncing.has(conversationId)) return;
  syncing.add(conversationId);
  try {
    let from = afterSeq;
    for (;;) {
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

/** Runs `work` in the background. An API error there is not the user's to handle: a 401
 * already ended the session, and the next event or reconnect loads again. */
export function quietly(work: Promise<unknown>): void {
  work.catch((error: unknown) => {
    if (!(error instanceof ApiError)) console.warn(error);
  });
}
