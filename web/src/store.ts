// The client's state in one place: a plain object replaced on every change, and a hook that
// re-renders a component when the part it reads changes. Changes go through `update`.
import { useEffect, useReducer, useRef } from "preact/hooks";
import type { Conversation, Message, User, Watermarks } from "./api/types";
import type { Session } from "./session";

/** A message as shown: the server's, or one of ours not yet confirmed (`local`). */
export interface ChatMessage extends Message {
  /** retrying: refused for a moment or unanswered; resent by itself, and "Retry now" offered. */
  local?: { state: "pending" | "retrying" | "failed"; error?: string };
}

export interface MessageList {
  /** Oldest first: committed messages by `seq`, then our unconfirmed ones in send order. */
  items: ChatMessage[];
  /** Cursor for the next older page; null when the history is all loaded. */
  olderCursor: string | null;
  loadingOlder: boolean;
  loaded: boolean;
}

export type Connection = "connecting" | "online" | "offline";

export interface State {
  session: Session | null;
  /** Shown on the log-in screen (why the session ended). */
  notice: string | null;
  conversations: Record<string, Conversation>;
  conversationsLoaded: boolean;
  messages: Record<string, MessageList>;
  users: Record<string, User>;
  connection: Connection;
  /** Who is typing, by conversation: user id -> when the indicator expires (ms epoch). */
  typing: Record<string, Record<string, number>>;
  /** Members' read and delivery watermarks, by conversation and user id. */
  watermarks: Record<string, Record<string, Watermarks>>;
}

/** The state of a tab with no session: at start, and again after one ends (`notice` says why). */
export function signedOut(notice: string | null): State {
  return {
    session: null,
    notice,
    conversations: {},
    conversationsLoaded: false,
    messages: {},
    users: {},
    connection: "offline",
    typing: {},
    watermarks: {},
  };
}

let state: State = signedOut(null);

const listeners = new Set<() => void>();

export function getState(): State {
  return state;
}

export function update(change: (current: State) => Partial<State>): void {
  state = { ...state, ...change(state) };
  for (const listener of listeners) listener();
}

/** The part of the state `select` picks; the component re-renders when it changes
 * (compared with ===, so select stored objects rather than building new ones). */
export function useStore<T>(select: (current: State) => T): T {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  const value = select(state);
  const latest = useRef({ select, value });
  latest.current = { select, value };
  useEffect(() => {
    const listener = () => {
      if (latest.current.select(state) !== latest.current.value) rerender(undefined);
    };
    listeners.add(listener);
    // Effects run after the browser paints (in a background tab, a second or more later): a
    // change made since this render (a 401 ending the session) told no one, so look now.
    listener();
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return value;
}

export const emptyList: MessageList = {
  items: [],
  olderCursor: null,
  loadingOlder: false,
  loaded: false,
};

/** `list` with `incoming` merged in: each message once (by id, or by sender and
 * clientMessageId for a send we show before the server named it), committed ones ordered by
 * `seq`. */
export function mergeMessages(list: MessageList, incoming: ChatMessage[]): MessageList {
  const items = [...list.items];
  for (const message of incoming) {
    const at = items.findIndex(
      (item) =>
        item.id === message.id ||
        (message.clientMessageId !== null &&
          item.local !== undefined &&
          item.senderId === message.senderId &&
          item.clientMessageId === message.clientMessageId),
    );
    if (at === -1) {
      items.push(message);
    } else {
      const existing = items[at]!;
      // A late PENDING copy (the send's ack) must not undo a confirmation that came first.
      if (existing.local === undefined && existing.seq !== null && message.seq === null) continue;
      items[at] = message;
    }
  }
  items.sort(byPosition);
  return { ...list, items };
}

function byPosition(a: ChatMessage, b: ChatMessage): number {
  if (a.seq !== null && b.seq !== null) return a.seq - b.seq;
  if (a.seq !== null) return -1;
  if (b.seq !== null) return 1;
  return (a.clientTimestamp ?? a.serverTimestamp).localeCompare(
    b.clientTimestamp ?? b.serverTimestamp,
  );
}

/** Changes one conversation's message list (an empty one if none is loaded yet). */
export function updateList(
  conversationId: string,
  change: (current: MessageList) => MessageList,
): void {
  update((current) => ({
    messages: {
      ...current.messages,
      [conversationId]: change(current.messages[conversationId] ?? emptyList),
    },
  }));
}

/** The highest `seq` loaded of a conversation (0: none). */
export function newestSeq(conversationId: string): number {
  let seq = 0;
  for (const item of state.messages[conversationId]?.items ?? []) {
    if (item.seq !== null && item.seq > seq) seq = item.seq;
  }
  return seq;
}
