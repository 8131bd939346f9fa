// REST calls for finding people, creating and governing conversations, and search
// (docs/api.md, api-contract.md). Creating things carries an Idempotency-Key per user action.
import { query, request } from "./client";
import type {
  Conversation,
  ConversationCreate,
  ConversationPatch,
  FoundUser,
  Page,
  Participant,
  ParticipantPatch,
  ParticipantStatus,
  Role,
  SearchHit,
} from "./types";

export const manageApi = {
  findUsers: (q: string, cursor?: string | null) =>
    request<Page<FoundUser>>("GET", "/users" + query({ q, limit: 20, cursor })),

  /** `key`: the same for every retry of one user action (a retry makes nothing twice). */
  createConversation: (body: ConversationCreate, key: string) =>
    request<Conversation>("POST", "/conversations", body, { "Idempotency-Key": key }),
  updateConversation: (id: string, body: ConversationPatch) =>
    request<Conversation>("PATCH", `/conversations/${id}`, body),

  participants: (id: string, status?: ParticipantStatus, cursor?: string | null) =>
    request<Page<Participant>>(
      "GET",
      `/conversations/${id}/participants` + query({ status, cursor, limit: 100 }),
    ),
  addParticipants: (id: string, userIds: string[], key: string, role: Role = "MEMBER") =>
    request<Participant[]>("POST", `/conversations/${id}/participants`, { userIds, role }, {
      "Idempotency-Key": key,
    }),
  updateParticipant: (id: string, userId: string, body: ParticipantPatch) =>
    request<Participant>("PATCH", `/conversations/${id}/participants/${userId}`, body),
  removeParticipant: (id: string, userId: string) =>
    request<Participant>("DELETE", `/conversations/${id}/participants/${userId}`),

  searchMessages: (q: string, cursor?: string | null, hashtag?: string) =>
    request<Page<SearchHit>>(
      "GET",
      "/messages/search" + query({ q, limit: 20, cursor, hashtag }),
    ),
};
