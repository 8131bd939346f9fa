// The shapes of docs/api.md (and api-contract.md) that this client reads. JSON is camelCase,
// enums UPPERCASE, timestamps ISO-8601 UTC strings, ids UUID strings.

export type UserStatus = "ONLINE" | "OFFLINE";

export interface User {
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
  status: UserStatus;
  lastSeenAt: string | null;
}

/** `POST /auth/login` and `POST /auth/register`. */
export interface TokenOut {
  accessToken: string;
  tokenType: "bearer";
  expiresIn: number;
  user: User;
}

export type ConversationType = "DIRECT" | "GROUP" | "SPACE" | "COMMUNITY";
export type Role = "OWNER" | "ADMIN" | "MODERATOR" | "MEMBER";

/** The newest message of a conversation, as the conversation list shows it. */
export interface LastMessage {
  id: string;
  seq: number;
  senderId: string | null;
  type: string;
  content: string | null;
  status: string;
  serverTimestamp: string;
}

export interface Conversation {
  id: string;
  type: ConversationType;
  name: string | null;
  description: string | null;
  status: "ACTIVE" | "ARCHIVED" | "DELETED" | "MUTED";
  messageCount: number;
  lastSeq: number;
  lastMessageId: string | null;
  lastActivityAt: string;
  settings: Record<string, boolean | number | null>;
  createdAt: string;
  myRole: Role | null;
  unreadCount: number;
  lastMessage: LastMessage | null;
}

export interface Participant {
  id: string;
  conversationId: string;
  userId: string;
  role: Role;
  status: "ACTIVE" | "LEFT" | "REMOVED" | "BANNED" | "MUTED";
  user: User | null;
}

export type MessageStatus =
  | "PENDING"
  | "SENT"
  | "DELIVERED"
  | "READ"
  | "FAILED"
  | "DELETED"
  | "EDITED"
  | "MODERATED";

export interface Message {
  id: string;
  conversationId: string;
  senderId: string | null;
  /** null until the message is committed. */
  seq: number | null;
  type: string;
  content: string | null;
  status: MessageStatus;
  replyToId: string | null;
  threadId: string | null;
  clientMessageId: string | null;
  clientTimestamp: string | null;
  serverTimestamp: string;
  editedAt: string | null;
  deletedAt: string | null;
  encrypted: boolean;
}

/** Cursor pages: `{items, nextCursor}`; message pages add `hasMore`. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  hasMore?: boolean;
}

/** The body of every error answer, REST and socket acks alike. */
export interface ApiErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A socket acknowledgement: `{ok: true, ...}` or `{ok: false, error}`. */
export type Ack<T> = ({ ok: true } & T) | { ok: false; error: ApiErrorBody };

// --- people, conversation management, search (issue 14) ---

/** `GET /users?q=`: presence only of oneself and people sharing a conversation (else null). */
export interface FoundUser extends Omit<User, "status"> {
  status: UserStatus | null;
}

/** `POST /conversations`. */
export interface ConversationCreate {
  type: "DIRECT" | "GROUP";
  name?: string;
  description?: string;
  participantIds: string[];
}

/** `PATCH /conversations/{id}`: only the fields present change. */
export interface ConversationPatch {
  name?: string;
  description?: string | null;
  status?: "ACTIVE" | "ARCHIVED" | "MUTED";
  settings?: Partial<Record<"typingIndicators" | "readReceipts" | "linkPreviews", boolean>>;
}

export type ParticipantStatus = Participant["status"];

/** `PATCH /conversations/{id}/participants/{userId}`. */
export interface ParticipantPatch {
  role?: Role;
  status?: ParticipantStatus;
}

/** What the client reads of a message's `metadata` (mentions: lower-case usernames). */
export interface MessageMetadata {
  mentions?: string[];
  hashtags?: string[];
}

/** A message as events carry it, with the metadata the notifications read. */
export type MessageWithMetadata = Message & { metadata?: MessageMetadata | null };

/** `GET /messages/search` items: a message plus `snippet` (escaped text with `<mark>` around
 * hits, docs/api.md "Search") and `rank`. */
export type SearchHit = Message & { snippet: string; rank: number };

/** `user_status_changed`. */
export interface UserStatusChange {
  userId: string;
  status: UserStatus;
  lastSeenAt: string | null;
}
