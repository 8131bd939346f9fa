import { useEffect, useState } from "preact/hooks";
import { notifyState, resetTitle, toggleNotifications, unreadTitle } from "../chat/notify";
import { useStore, type State } from "../store";

const selectConversations = (state: State) => state.conversations;

/** The unread total in the tab's title while signed in. */
export function TabTitle() {
  const conversations = useStore(selectConversations);
  let total = 0;
  for (const conversation of Object.values(conversations)) total += conversation.unreadCount;
  useEffect(() => {
    document.title = unreadTitle(total);
  }, [total]);
  useEffect(() => resetTitle, []);
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
      <span class="notify-state" title="Allow notifications for this site in the browser's settings">
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
