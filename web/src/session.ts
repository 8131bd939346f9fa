// The session lives in sessionStorage: it belongs to this tab, survives a reload of it, and
// ends with it (another tab logs in on its own).
import type { User } from "./api/types";

export interface Session {
  token: string;
  user: User;
}

const KEY = "parley.session";

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
