// Finding people, starting conversations, governing members (docs/permissions.md), and the
// live presence of the people one shares a conversation with.
import { manageApi } from "../api/manage";
import type {
  Conversation,
  ConversationPatch,
  FoundUser,
  Participant,
  ParticipantStatus,
  Role,
  UserStatusChange,
} from "../api/types";
import { navigate } from "../router";
import { getState, update } from "../store";
import { loadMembers, putConversation } from "./conversations";
import { newId } from "./sending";

export async function findPeople(q: string): Promise<FoundUser[]> {
  const me = getState().session?.user.id;
  const page = await manageApi.findUsers(q);
  return page.items.filter((user) => user.id !== me);
}

/** A draft of "New conversation": one idempotency key for the action, kept across retries. */
export interface Draft {
  key: string;
}

export function newDraft(): Draft {
  return { key: newId() };
}

/** Creates (or, for a direct one that exists, finds) the conversation and opens it. */
export async function startConversation(
  draft: Draft,
  people: FoundUser[],
  name: string,
): Promise<Conversation> {
  const group = people.length > 1 || name.trim() !== "";
  const conversation = await manageApi.createConversation(
    group
      ? { type: "GROUP", name: name.trim() || undefined, participantIds: people.map((p) => p.id) }
      : { type: "DIRECT", participantIds: people.map((p) => p.id) },
    draft.key,
  );
  const known = getState().conversations[conversation.id];
  putConversation({ ...conversation, unreadCount: known?.unreadCount ?? conversation.unreadCount });
  await loadMembers(conversation.id);
  navigate(`/c/${conversation.id}`);
  return conversation;
}

export async function updateConversation(id: string, patch: ConversationPatch): Promise<void> {
  const updated = await manageApi.updateConversation(id, patch);
  const known = getState().conversations[id];
  putConversation({
    ...updated,
    unreadCount: known?.unreadCount ?? updated.unreadCount,
    lastMessage: known?.lastMessage ?? updated.lastMessage,
    myRole: known?.myRole ?? updated.myRole,
  });
}

/** Everyone who sees the conversation (ACTIVE, MUTED), then the banned ones when the caller
 * may unban (moderators and above: a member's list of the banned answers nothing useful). */
export async function listMembers(id: string, withBanned: boolean): Promise<Participant[]> {
  const found: Participant[] = [];
  for (const status of withBanned ? [undefined, "BANNED" as const] : [undefined]) {
    let cursor: string | null = null;
    do {
      const page = await manageApi.participants(id, status, cursor);
      found.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
  return found;
}

export const changeRole = (id: string, userId: string, role: Role) =>
  manageApi.updateParticipant(id, userId, { role });
export const changeStatus = (id: string, userId: string, status: ParticipantStatus) =>
  manageApi.updateParticipant(id, userId, { status });
export const removeMember = (id: string, userId: string) =>
  manageApi.removeParticipant(id, userId);
export const addMembers = (id: string, userIds: string[], draft: Draft) =>
  manageApi.addParticipants(id, userIds, draft.key);

/** `user_status_changed`: the dots of the people we know. */
export function applyStatus({ userId, status, lastSeenAt }: UserStatusChange): void {
  const user = getState().users[userId];
  if (user === undefined) return;
  update((state) => ({ users: { ...state.users, [userId]: { ...user, status, lastSeenAt } } }));
}

/** Our own membership changed (`participant_updated` to our sockets): our role follows. */
export function applyOwnParticipant(conversationId: string, participant: Participant): void {
  if (participant.userId !== getState().session?.user.id) return;
  const conversation = getState().conversations[conversationId];
  if (conversation !== undefined && conversation.myRole !== participant.role) {
    putConversation({ ...conversation, myRole: participant.role });
  }
}
