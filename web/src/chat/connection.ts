// The session's socket, shared by the modules that emit on it, and how background work
// reports its errors.
import { ApiError } from "../api/client";
import type { ParleySocket } from "../socket";

let current: ParleySocket | null = null;

/** The socket of the signed-in session (null when signed out). */
export function currentSocket(): ParleySocket | null {
  return current;
}

export function setCurrentSocket(socket: ParleySocket | null): void {
  current = socket;
}

/** Runs `work` in the background. An API error there is not the user's to handle: a 401
 * already ended the session, and the next event or reconnect loads again. */
export function quietly(work: Promise<unknown>): void {
  work.catch((error: unknown) => {
    if (error instanceof DOMException && error.name === "AbortError") return; // session ended
    if (!(error instanceof ApiError)) console.warn(error);
  });
}
