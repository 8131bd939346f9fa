// Starting and ending a session: log in, sign up, log out, resume after a reload, and the end
// of a session the server refused (a 401, a refused socket, `session_revoked`).
import { abortRequests, api, configureApi } from "../api/client";
import type { TokenOut } from "../api/types";
import { navigate } from "../router";
import { clearSession, loadSession, saveSession, type Session } from "../session";
import { getState, signedOut, update } from "../store";
import { currentSocket, quietly, setCurrentSocket } from "./connection";
import { loadConversations } from "./conversations";
import { openSocket, SESSION_ENDED } from "./live";
import { forgetOutbox, restoreOutbox } from "./sending";
import { forgetUploads } from "./uploads";

configureApi(
  () => getState().session?.token ?? null,
  () => endSession(SESSION_ENDED),
);

/** Resumes this tab's session after a reload, if it has one. */
export function resumeSession(): void {
  const session = loadSession();
  if (session !== null) beginSession(session);
}

export async function logIn(username: string, password: string): Promise<void> {
  startFrom(await api.login(username, password));
}

export async function signUp(
  username: string,
  password: string,
  displayName: string,
): Promise<void> {
  startFrom(await api.register(username, password, displayName || undefined));
}

/** Revokes the token on the server, then forgets the session here (even if that failed). */
export async function logOut(): Promise<void> {
  // The socket and the calls still on their way are dropped first: the server may answer
  // them after it revoked the token (a 401 for a session the user is ending anyway), and a
  // socket (re)connecting meanwhile would start new ones.
  const socket = currentSocket();
  setCurrentSocket(null);
  socket?.disconnect();
  abortRequests();
  try {
    await api.logout();
  } finally {
    forgetOutbox();
    endSession(null);
  }
}

function startFrom(answer: TokenOut): void {
  const session = { token: answer.accessToken, user: answer.user };
  saveSession(session);
  beginSession(session);
  navigate("/", { replace: true });
}

function beginSession(session: Session): void {
  update((state) => ({
    session,
    notice: null,
    users: { ...state.users, [session.user.id]: session.user },
  }));
  restoreOutbox(session.user.id);
  openSocket(session.token, endSession);
  quietly(loadConversations());
}

/** Forgets the session; `notice` tells the log-in screen why (null: the user logged out). */
export function endSession(notice: string | null): void {
  if (getState().session === null) return;
  const socket = currentSocket();
  setCurrentSocket(null);
  socket?.disconnect();
  clearSession();
  forgetUploads();
  update(() => signedOut(notice));
  navigate("/login", { replace: true });
}
