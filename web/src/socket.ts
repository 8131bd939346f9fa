// The Socket.IO connection (docs/api.md, Socket.IO): typed events, and the acknowledged
// client events as promises. Only the events this client uses are listed.
import { io, type Socket } from "socket.io-client";
import type {
  Ack,
  ApiErrorBody,
  Conversation,
  DeliveryStatusEvent,
  Message,
  Participant,
  ReactionEvent,
  ReadReceiptEvent,
  TypingEvent,
} from "./api/types";
import type { UserStatusChange } from "./api/types";

export interface ServerEvents {
  new_message: (payload: { message: Message }) => void;
  message_confirmed: (payload: { clientMessageId: string; message: Message }) => void;
  message_failed: (payload: {
    clientMessageId: string;
    messageId: string | null;
    error: ApiErrorBody;
  }) => void;
  message_updated: (payload: { message: Message }) => void;
  message_deleted: (payload: { message: Message }) => void;
  conversation_updated: (payload: { conversation: Conversation }) => void;
  participant_added: (payload: { conversationId: string; participant: Participant }) => void;
  participant_removed: (payload: { conversationId: string; participant: Participant }) => void;
  session_revoked: (payload: { reason: string }) => void;
  /** The instance is stopping: reconnect once this delay (drawn per socket) has passed. */
  server_shutdown: (payload: { reconnectAfterMs: number }) => void;
  reaction_added: (payload: ReactionEvent) => void;
  reaction_removed: (payload: ReactionEvent) => void;
  message_read_receipt: (payload: ReadReceiptEvent) => void;
  message_delivery_status: (payload: DeliveryStatusEvent) => void;
  user_typing: (payload: TypingEvent) => void;
  user_status_changed: (payload: UserStatusChange) => void;
  participant_updated: (payload: { conversationId: string; participant: Participant }) => void;
}

export interface SendBody {
  conversationId: string;
  content: string;
  clientMessageId: string;
  clientTimestamp: string;
  /** A reply into a thread (its root, or any reply of it). */
  threadId?: string;
  /** Ids of the sender's uploads; IMAGE or FILE then. */
  attachments?: string[];
  type?: "IMAGE" | "FILE";
}

export interface ClientEvents {
  send_message: (body: SendBody, ack: (answer: Ack<{ message: Message }>) => void) => void;
  mark_messages_read: (
    body: { conversationId: string; messageId: string },
    ack: (answer: Ack<{ unreadCount: number }>) => void,
  ) => void;
  typing_start: (body: { conversationId: string }, ack: (answer: Ack<object>) => void) => void;
  typing_stop: (body: { conversationId: string }, ack: (answer: Ack<object>) => void) => void;
  message_delivered: (body: { messageIds: string[] }, ack: (answer: Ack<object>) => void) => void;
  sync: (
    body: { conversationId: string; afterSeq: number; limit?: number },
    ack: (answer: Ack<{ messages: Message[]; hasMore: boolean }>) => void,
  ) => void;
}

export type ParleySocket = Socket<ServerEvents, ClientEvents>;

/** How long an acknowledged event may take before the client treats it as lost. */
export const ACK_TIMEOUT_MS = 10_000;

/** Connects to this page's origin (the server that served it), websocket first. */
export function connectSocket(token: string): ParleySocket {
  return io({ auth: { token }, transports: ["websocket", "polling"] });
}

/** The codes a refused connect names (`connect_error`'s message starts with one). */
const SESSION_CODES = ["UNAUTHORIZED", "INVALID_TOKEN", "TOKEN_EXPIRED"];

export function isSessionRefusal(error: Error): boolean {
  return SESSION_CODES.some((code) => error.message.startsWith(code));
}

/** An ack that never came, as an error in the ack's own shape. */
export const TIMEOUT_ERROR: ApiErrorBody = {
  code: "TIMEOUT",
  message: "The server did not answer in time",
};

/** What an acknowledged client event answers. */
export type AckOf<E extends keyof ClientEvents> = Parameters<Parameters<ClientEvents[E]>[1]>[0];

/** Emits an acknowledged event; a timeout answers `{ok: false}` like any refusal. */
export async function emitWithAck<E extends keyof ClientEvents>(
  socket: ParleySocket,
  event: E,
  body: Parameters<ClientEvents[E]>[0],
): Promise<AckOf<E>> {
  // socket.io-client's typings cannot follow a generic event name through emitWithAck.
  const timed = socket.timeout(ACK_TIMEOUT_MS) as unknown as {
    emitWithAck(event: string, body: unknown): Promise<AckOf<E>>;
  };
  try {
    return await timed.emitWithAck(event, body);
  } catch {
    return { ok: false, error: TIMEOUT_ERROR };
  }
}
