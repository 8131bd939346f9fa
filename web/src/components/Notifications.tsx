import { useEffect, useState } from "preact/hooks";
import { openConversation, quietly } from "../chat";
import { notifyState, resetTitle, toggleNotifications, unreadTitle } from "../chat/notify";
import { parseRoute } from "../router";
import { useStore, type State } from "../store";

const selectConversations = (state: State) => state.conversations;

/** The unread total in the tab's title while signed in; coming back to the tab reads the
 * open conversation. */
export function TabTitle() {
  const conversations = useStore(selectConversations);
  let total = 0;
  for (const conversation of Object.values(conversations)) total += conversation.unreadCount;
  useEffect(() => {
    document.title = unreadTitle(total);
  }, [total]);
  useEffect(() => resetTitle, []);
  useEffect(() => {
    // Messages that came while the tab was hidden stay unread (and counted in the title)
    // until the reader is back: then the open conversation is read.
    function onVisible() {
      const route = parseRoute(location.pathname);
      if (!document.hidden && route.name === "conversation") {
        quietly(openConversation(route.conversationId));
      }
    }
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, []);
  return null;
}

const LABELS = {
  default: "Enable notifications",
  on: "Notifications on",
  off: "Notifications off",
} as const;

/** Asks for the browser's permission only when clicked; then turns notifications on and off. */
export function NotificationButton() {
  const [state, setState] = useState(notifyState);
  if (state === "unsupported") return null;
  if (state === "denied") {
    return (
      <span
        class="notify-state"
        title="Allow notifications for this site in the browser's settings"
      >
        Notifications blocked
      </span>
    );
  }
  return (
    <button
      type="button"
      class="notify"
      title="Notifications for mentions and direct messages while this tab is hidden"
      onClick={() => void toggleNotifications().then(setState)}
    >
      {LABELS[state]}
    </button>
  );
}
