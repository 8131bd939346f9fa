import type { Conversation } from "../api/types";
import { conversationTitle } from "../chat";
import { navigate } from "../router";
import { useStore, type State } from "../store";

interface Props {
  activeId: string | null;
}

// Stored objects, so that the list re-renders only when they change (see useStore).
const selectConversations = (state: State) => state.conversations;
const selectUsers = (state: State) => state.users;
const selectLoaded = (state: State) => state.conversationsLoaded;

/** The caller's conversations, most recent activity first, with unread badges. */
export function ConversationList({ activeId }: Props) {
  const conversations = useStore(selectConversations);
  const loaded = useStore(selectLoaded);
  useStore(selectUsers); // names of direct conversations come from the members' profiles
  const sorted = Object.values(conversations).sort((a, b) =>
    b.lastActivityAt.localeCompare(a.lastActivityAt),
  );

  return (
    <nav class="conversations" aria-label="Conversations">
      {loaded && sorted.length === 0 && <p class="empty">No conversations yet.</p>}
      <ul>
        {sorted.map((conversation) => (
          <Item
            key={conversation.id}
            conversation={conversation}
            active={conversation.id === activeId}
          />
        ))}
      </ul>
    </nav>
  );
}

function Item({ conversation, active }: { conversation: Conversation; active: boolean }) {
  const href = `/c/${conversation.id}`;
  const last = conversation.lastMessage;
  const preview =
    last === null ? "No messages yet" : last.content ?? (last.status === "DELETED" ? "Deleted" : "");
  return (
    <li>
      <a
        href={href}
        class={active ? "conversation active" : "conversation"}
        aria-current={active ? "page" : undefined}
        onClick={(event) => {
          event.preventDefault();
          navigate(href);
        }}
      >
        <span class="title">{conversationTitle(conversation)}</span>
        <span class="preview">{preview}</span>
        {conversation.unreadCount > 0 && (
          <span class="badge" aria-label={`${conversation.unreadCount} unread`}>
            {conversation.unreadCount > 99 ? "99+" : conversation.unreadCount}
          </span>
        )}
      </a>
    </li>
  );
}
