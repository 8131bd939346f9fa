// Notifications: the unread total in the tab's title, and the browser's Notification API for
// mentions and direct messages while the tab is hidden, once the user has allowed it (asked
// only from a button: never an automatic prompt).
import type { MessageWithMetadata } from "../api/types";
import { navigate } from "../router";
import { getState } from "../store";
import { conversationTitle } from "./conversations";

const APP_TITLE = "Parley";
// The user may turn notifications off here without revoking the browser's permission.
const OFF_KEY = "parley.notifications.off";

export function unreadTitle(total: number): string {
  return total > 0 ? `(${total > 999 ? "999+" : total}) ${APP_TITLE}` : APP_TITLE;
}

export function resetTitle(): void {
  document.title = APP_TITLE;
}

export type NotifyState = "unsupported" | "default" | "denied" | "on" | "off";

export function notifyState(): NotifyState {
  if (typeof Notification === "undefined") return "unsupported";
  if (Notification.permission === "granted") {
    return localStorage.getItem(OFF_KEY) === "1" ? "off" : "on";
  }
  return Notification.permission;
}

/** Asks the browser (from a click), or turns them on or off once granted. */
export async function toggleNotifications(): Promise<NotifyState> {
  const current = notifyState();
  if (current === "on") localStorage.setItem(OFF_KEY, "1");
  else if (current === "off") localStorage.removeItem(OFF_KEY);
  else if (current === "default") {
    localStorage.removeItem(OFF_KEY);
    await Notification.requestPermission();
  }
  return notifyState();
}

/** A committed message (`new_message`): a notification when the tab is hidden and it is a
 * direct message or mentions us. */
export function notifyMessage(message: MessageWithMetadata): void {
  if (!document.hidden || notifyState() !== "on") return;
  const { session, conversations, users } = getState();
  if (session === null || message.senderId === session.user.id) return;
  const conversation = conversations[message.conversationId];
  const mentioned = (message.metadata?.mentions ?? []).includes(
    session.user.username.toLowerCase(),
  );
  const direct = conversation?.type === "DIRECT";
  if (!mentioned && !direct) return;
  const sender = (message.senderId && users[message.senderId]?.displayName) || "Someone";
  const where = conversation && !direct ? ` in ${conversationTitle(conversation)}` : "";
  const notification = new Notification(
    mentioned ? `${sender} mentioned you${where}` : sender,
    // One notification per conversation: a newer one replaces the older.
    { body: message.content || "New message", tag: message.conversationId },
  );
  notification.onclick = () => {
    window.focus();
    navigate(`/c/${message.conversationId}`);
    notification.close();
  };
}
