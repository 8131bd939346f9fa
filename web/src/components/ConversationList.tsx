import { useState } from "preact/hooks";
import type { Conversation, User } from "../api/types";
import { conversationTitle } from "../chat";
import { otherMemberId } from "../chat/conversations";
import { navigate } from "../router";
import { useStore, type State } from "../store";
import { useLazy } from "./lazy";
import { PresenceDot } from "./PeoplePicker";

interface Props {
  activeId: string | null;
}

// Stored objects, so that the list re-renders only when they change (see useStore).
const selectConversations = (state: State) => state.conversations;
const selectUsers = (state: State) => state.users;
const selectLoaded = (state: State) => state.conversationsLoaded;

/** The caller's conversations, most recent activity first, with unread badges and, for
 * direct ones, the other person's presence; "New conversation" opens its dialog. */
export function ConversationList({ activeId }: Props) {
  const conversations = useStore(selectConversations);
  const loaded = useStore(selectLoaded);
  // Names and presence of direct conversations come from the members' profiles.
  const users = useStore(selectUsers);
  const [NewConversation, openNew] = useLazy(() => import("./NewConversation"));
  const [creating, setCreating] = useState(false);
  const sorted = Object.values(conversations).sort((a, b) =>
    b.lastActivityAt.localeCompare(a.lastActivityAt),
  );

  return (
    <nav class="conversations" aria-label="Conversations">
      <div class="list-actions">
        <button
          type="button"
          class="primary"
          onClick={() => void openNew().then(() => setCreating(true))}
        >
          New conversation
        </button>
      </div>
      {creating && NewConversation && <NewConversation onClose={() => setCreating(false)} />}
      {loaded && sorted.length === 0 && <p class="empty">No conversations yet.</p>}
      <ul>
        {sorted.map((conversation) => (
          <Item
            key={conversation.id}
            conversation={conversation}
            active={conversation.id === activeId}
            presence={presenceOf(conversation, users)}
          />
        ))}
      </ul>
    </nav>
  );
}

function presenceOf(conversation: Conversation, users: State["users"]): User | undefined {
  const other = otherMemberId(conversation);
  return other === null ? undefined : users[other];
}

interface ItemProps {
  conversation: Conversation;
  active: boolean;
  /** The other person of a direct conversation. */
  presence: User | undefined;
}

/** A message of files only (no text) in the list: what it carries. */
const FILE_PREVIEW: Record<string, string> = { IMAGE: "Image", FILE: "File" };

function Item({ conversation, active, presence }: ItemProps) {
  const href = `/c/${conversation.id}`;
  const last = conversation.lastMessage;
  const preview =
    last === null
      ? "No messages yet"
      : last.status === "DELETED"
        ? "Deleted"
        : last.content || FILE_PREVIEW[last.type] || "";
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
        <span class="title">
          <PresenceDot status={presence?.status} lastSeenAt={presence?.lastSeenAt} />
          {conversationTitle(conversation)}
        </span>
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
