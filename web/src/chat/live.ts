// The socket's events: what keeps the state live, and the catch-up after a reconnect.
import { api } from "../api/client";
import { connectSocket, isSessionRefusal } from "../socket";
import { getState, newestSeq, update } from "../store";
import { quietly, setCurrentSocket, currentSocket } from "./connection";
import {
  dropConversation,
  fetchConversation,
  loadConversations,
  putConversation,
} from "./conversations";
import { receive, replaceIfLoaded, syncConversation } from "./history";
import { listenMessageActions } from "./messageActions";
import { acceptOwn, resendOutbox, sendFailed } from "./sending";
import { notifyMessage } from "./notify";
import { applyOwnParticipant, applyStatus } from "./people";
import { navigate } from "../router";

/** Why a session ended, for the log-in screen (null: the user logged out here). */
export type EndSession = (notice: string | null) => void;

export const SESSION_ENDED = "Your session has ended: please log in again.";

/** Connects the session's socket and listens to it; `endSession` when the server refuses it. */
export function openSocket(token: string, endSession: EndSession): void {
  const connection = connectSocket(token);
  setCurrentSocket(connection);
  let connectedBefore = false;
  // After `server_shutdown`: when (Date.now()) to reconnect; 0 when no instance is stopping.
  let reconnectAt = 0;
  update(() => ({ connection: "connecting" }));

  connection.on("connect", () => {
    update(() => ({ connection: "online" }));
    // The first time too: the list the session loaded at once misses a conversation made
    // before this socket joined its rooms (its participant_added went to no one).
    // Then the outbox: what was never confirmed goes again (issue 14).
    quietly((connectedBefore ? catchUp() : loadConversations()).finally(resendOutbox));
    connectedBefore = true;
  });
  connection.on("disconnect", (reason) => {
    if (currentSocket() !== connection) return; // the session ended: nothing to reconnect
    update(() => ({ connection: "offline" }));
    // The server closed it (a token that expired or was revoked, among others): ask the API
    // whether the session still holds; a 401 there ends it, otherwise reconnect.
    if (reason === "io server disconnect" && reconnectAt > 0) {
      // The instance is stopping (`server_shutdown`): back once our delay has passed, through
      // the page's origin to another instance.
      const wait = Math.max(0, reconnectAt - Date.now());
      reconnectAt = 0;
      window.setTimeout(() => {
        if (currentSocket() === connection) connection.connect();
      }, wait);
    } else if (reason === "io server disconnect") {
      void api.me().then(
        () => connection.connect(),
        () => {},
      );
    }
  });
  connection.on("connect_error", (error) => {
    if (isSessionRefusal(error)) endSession(SESSION_ENDED);
    else update(() => ({ connection: "offline" }));
  });
  connection.on("server_shutdown", ({ reconnectAfterMs }) => {
    // Keep the socket (it still brings messages) until the delay the server drew for it, so
    // a rolling deploy does not bring every client back at once; then leave and come back.
    reconnectAt = Date.now() + reconnectAfterMs;
    window.setTimeout(() => {
      if (currentSocket() !== connection || !connection.connected || reconnectAt === 0) return;
      reconnectAt = 0;
      connection.disconnect();
      connection.connect();
    }, reconnectAfterMs);
  });
  connection.on("session_revoked", ({ reason }) => {
    endSession(
      reason === "LOGGED_OUT" ? null : "You were signed out on the server: please log in again.",
    );
  });

  connection.on("new_message", ({ message }) => receive(message));
  connection.on("message_confirmed", ({ message }) => acceptOwn(message));
  connection.on("message_failed", ({ clientMessageId, error }) =>
    sendFailed(clientMessageId, error),
  );
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
    if (participant.userId === getState().session?.user.id) {
      quietly(fetchConversation(conversationId));
    }
  });
  connection.on("participant_removed", ({ conversationId, participant }) => {
    if (participant.userId === getState().session?.user.id) dropConversation(conversationId);
  });
  listenMessageActions(connection);
  // Presence dots, our own role, notifications (issue 14).
  connection.on("user_status_changed", applyStatus);
  connection.on("participant_updated", ({ conversationId, participant }) =>
    applyOwnParticipant(conversationId, participant),
  );
  connection.on("participant_removed", ({ conversationId, participant }) => {
    const here = location.pathname === `/c/${conversationId}`;
    if (here && participant.userId === getState().session?.user.id) navigate("/");
  });
  connection.on("new_message", ({ message }) => notifyMessage(message));
}

/** After a reconnect: what each loaded conversation missed meanwhile, through `sync`. */
async function catchUp(): Promise<void> {
  for (const [conversationId, list] of Object.entries(getState().messages)) {
    // A list still loading its first page gets everything from that page.
    if (list.loaded) await syncConversation(conversationId, newestSeq(conversationId));
  }
  // Unread counts and previews of the conversations not loaded.
  await loadConversations();
}
