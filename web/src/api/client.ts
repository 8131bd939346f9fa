// The REST client: one `request` that adds the token, parses the contract's error body into
// `ApiError`, and reports a 401 (a token expired or revoked) to whoever registered for it.
import type {
  ApiErrorBody,
  Conversation,
  Message,
  MessageHistory,
  Page,
  Participant,
  ReactionOut,
  ThreadPage,
  TokenOut,
  User,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type TokenSource = () => string | null;
type UnauthorizedHandler = (error: ApiError) => void;

let tokenSource: TokenSource = () => null;
let onUnauthorized: UnauthorizedHandler = () => {};

/** Where the token comes from, and what to do when the server refuses it. */
export function configureApi(source: TokenSource, unauthorized: UnauthorizedHandler): void {
  tokenSource = source;
  onUnauthorized = unauthorized;
}

// Every call of the session in progress: aborted when it ends, so an answer to a call made
// just before a logout (refused once the token is revoked) never arrives as a 401.
let inFlight = new AbortController();

/** A 401 met outside `request` (an upload): the session is over, as for any other call. */
export function reportUnauthorized(error: ApiError): void {
  onUnauthorized(error);
}

/** Abandons every call in progress (their promises reject with an AbortError). */
export function abortRequests(): void {
  inFlight.abort();
  inFlight = new AbortController();
}

/** One API call; `extra` adds headers (an `Idempotency-Key`); `signal` aborts this call
 * alone (an autocomplete's question superseded by the next keystroke). */
export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  const token = tokenSource();
  if (token !== null) headers["Authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const own = signal === undefined ? null : eitherSignal(inFlight.signal, signal);
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: own?.signal ?? inFlight.signal,
    });
  } finally {
    own?.release();
  }
  if (response.status === 204) return undefined as T;
  const payload: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = toApiError(response.status, payload);
    // A 401 on /auth/* is a wrong password or a refused registration, not a lost session.
    if (response.status === 401 && !path.startsWith("/auth/")) onUnauthorized(error);
    throw error;
  }
  return payload as T;
}

/** A signal aborted when either is (AbortSignal.any is too recent for some browsers still in
 * use); `release` unhooks it from both once the call is over. */
function eitherSignal(first: AbortSignal, second: AbortSignal) {
  const either = new AbortController();
  const abort = () => either.abort();
  if (first.aborted || second.aborted) abort();
  first.addEventListener("abort", abort);
  second.addEventListener("abort", abort);
  const release = () => {
    first.removeEventListener("abort", abort);
    second.removeEventListener("abort", abort);
  };
  return { signal: either.signal, release };
}

/** The contract's error body (or its absence) as an `ApiError`. */
export function toApiError(status: number, payload: unknown): ApiError {
  const body = (payload as { error?: ApiErrorBody } | null)?.error;
  if (body === undefined) return new ApiError(status, "HTTP_" + status, `HTTP ${status}`);
  return new ApiError(status, body.code, body.message, body.details ?? {});
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : "?" + text;
}

export const api = {
  register: (username: string, password: string, displayName?: string) =>
    request<TokenOut>("POST", "/auth/register", { username, password, displayName }),
  login: (username: string, password: string) =>
    request<TokenOut>("POST", "/auth/login", { username, password }),
  /** Revokes this token on the server; its sockets are disconnected. */
  logout: () => request<void>("POST", "/auth/logout"),
  me: () => request<User>("GET", "/users/me"),

  conversations: (cursor?: string) =>
    request<Page<Conversation>>("GET", "/conversations" + query({ cursor })),
  conversation: (id: string) => request<Conversation>("GET", `/conversations/${id}`),
  participants: (id: string) =>
    request<Page<Participant>>("GET", `/conversations/${id}/participants`),

  /** A page of messages, newest first; pass `nextCursor` back as `before` for older ones. */
  messages: (conversationId: string, before?: string | null, limit = 50) =>
    request<Page<Message>>(
      "GET",
      `/messages/conversation/${conversationId}` + query({ limit, before }),
    ),

  editMessage: (id: string, content: string) =>
    request<Message>("PUT", `/messages/${id}`, { content }),
  /** Soft delete: the message stays, `status: DELETED`, without its content. */
  deleteMessage: (id: string) => request<Message>("DELETE", `/messages/${id}`),
  messageHistory: (id: string) => request<MessageHistory>("GET", `/messages/${id}/history`),
  react: (id: string, emoji: string) =>
    request<ReactionOut>("POST", `/messages/${id}/reactions`, { emoji }),
  unreact: (id: string, emoji: string) =>
    request<ReactionOut>(
      "DELETE",
      `/messages/${id}/reactions/${encodeURIComponent(emoji)}`,
    ),
  /** A thread's root and its replies, oldest first; `after` for the next page. */
  thread: (id: string, after?: string | null) =>
    request<ThreadPage>("GET", `/messages/${id}/thread` + query({ limit: 100, after })),
};
