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
