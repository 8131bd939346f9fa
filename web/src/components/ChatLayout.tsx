import { logOut, quietly } from "../chat";
import { useStore } from "../store";
import { ConversationList } from "./ConversationList";
import { MessageView } from "./MessageView";
import { NotificationButton, TabTitle } from "./Notifications";
import { SearchBox } from "./SearchBox";

interface Props {
  conversationId: string | null;
}

/** The signed-in screen: header, conversation list, and the open conversation. */
export function ChatLayout({ conversationId }: Props) {
  const user = useStore((state) => state.session?.user);
  const connection = useStore((state) => state.connection);

  return (
    <div class={conversationId ? "layout has-conversation" : "layout"}>
      <header class="topbar">
        <span class="brand">Parley</span>
        <SearchBox />
        <NotificationButton />
        <TabTitle />
        <span class={`connection ${connection}`} title={`Connection: ${connection}`}>
          {connection === "online" ? "Online" : connection === "connecting" ? "Connecting…" : "Offline"}
        </span>
        <span class="me">{user?.displayName}</span>
        <button type="button" onClick={() => quietly(logOut())}>
          Log out
        </button>
      </header>
      <ConversationList activeId={conversationId} />
      {conversationId ? (
        <MessageView key={conversationId} conversationId={conversationId} />
      ) : (
        <section class="placeholder">
          <p>Pick a conversation.</p>
        </section>
      )}
    </div>
  );
}
