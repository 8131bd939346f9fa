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
  /** Others': null where `readReceipts` is off. */
  readSeq?: number | null;
  deliveredSeq?: number | null;
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
  /** The server sends these; messages made here before the server answers lack them. */
  reactions?: Record<string, ReactionSummary>;
  version?: number;
  /** The files it carries (docs/api.md, Attachments: "In messages"). */
  attachments?: Attachment[];
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

/** One emoji's reactions on a message: how many, and who. */
export interface ReactionSummary {
  count: number;
  userIds: string[];
}

/** `GET /messages/{id}/history`: the versions, oldest first; the current text is the last. */
export interface MessageHistory {
  messageId: string;
  items: { version: number; content: string | null; createdAt: string; current: boolean }[];
}

/** `GET /messages/{id}/thread`: the root and a page of its replies in `seq` order. */
export interface ThreadPage extends Page<Message> {
  root: Message;
}

/** `POST /messages/{id}/reactions`, `DELETE /messages/{id}/reactions/{emoji}`. */
export interface ReactionOut {
  messageId: string;
  emoji: string;
  userId: string;
  count: number;
  reactions: Record<string, ReactionSummary>;
}

/** A member's read and delivery watermarks (others': only where `readReceipts` is on). */
export interface Watermarks {
  readSeq: number | null;
  deliveredSeq: number | null;
}

/** `reaction_added` / `reaction_removed`. */
export interface ReactionEvent {
  messageId: string;
  emoji: string;
  userId: string;
  count: number;
}

/** `message_read_receipt` (to the room, where `readReceipts` is on). */
export interface ReadReceiptEvent {
  conversationId: string;
  userId: string;
  messageId: string;
  readAt: string;
}

/** `message_delivery_status` (to the message's sender, where `readReceipts` is on). */
export interface DeliveryStatusEvent {
  messageId: string;
  userId: string;
  status: "DELIVERED" | "READ";
  at: string;
}

/** `user_typing` (to the room but the typist, where `typingIndicators` is on). */
export interface TypingEvent {
  conversationId: string;
  userId: string;
  isTyping: boolean;
}

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
  /** After the commit: the mentioned users that exist, in the order of `mentions`. */
  mentionedUserIds?: string[];
  urls?: string[];
  /** Filled after the commit (a `message_updated` brings them): docs/api.md "Link previews". */
  urlPreviews?: LinkPreview[];
}

/** One link's preview: text only, cleaned by the server; any field may be null. */
export interface LinkPreview {
  url: string;
  title: string | null;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
}

/** `GET /hashtags?prefix=`: tags in use where the caller reads, most used first. */
export interface HashtagCount {
  tag: string;
  count: number;
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

// --- attachments ---

/** `POST /attachments`'s answer, and each file of a message's `attachments`. `mimeType` is
 * sniffed by the server; `width`/`height` (pixels) only for images it could read. */
export interface Attachment {
  id: string;
  name: string;
  mimeType: string;
  size: number;
  sha256: string;
  width?: number | null;
  height?: number | null;
  createdAt?: string;
}
