// The conversation list: loading it, the members' profiles (names), and titles.
import { api } from "../api/client";
import type { Conversation } from "../api/types";
import { getState, update } from "../store";
import { quietly } from "./connection";

/** Every conversation of the caller, all pages, replacing what the list had. */
export async function loadConversations(): Promise<void> {
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

/** One conversation the list does not have yet (a new one, or one we were added to). */
export async function fetchConversation(conversationId: string): Promise<void> {
  const conversation = await api.conversation(conversationId);
  putConversation(conversation);
  if (conversation.name === null) quietly(loadMembers(conversation.id));
}

export function putConversation(conversation: Conversation): void {
  update((state) => ({
    conversations: { ...state.conversations, [conversation.id]: conversation },
  }));
}

export function dropConversation(conversationId: string): void {
  update((state) => {
    const { [conversationId]: _dropped, ...rest } = state.conversations;
    return { conversations: rest };
  });
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

/** The other person of a direct conversation (null until its members are loaded). */
export function otherMemberId(conversation: Conversation): string | null {
  if (conversation.type !== "DIRECT") return null;
  const me = getState().session?.user.id;
  for (const userId of members.get(conversation.id) ?? []) {
    if (userId !== me) return userId;
  }
  return null;
}
