import { useCallback, useEffect, useLayoutEffect, useRef } from "preact/hooks";
import {
  closeConversation,
  conversationTitle,
  loadOlder,
  openConversation,
  quietly,
  retry,
} from "../chat";
import { navigate } from "../router";
import { emptyList, useStore, type ChatMessage, type MessageList, type State } from "../store";
import { Composer } from "./Composer";
import { ConversationMenu } from "./ConversationMenu";

interface Props {
  conversationId: string;
}

// Within this many pixels of the top, the next older page loads.
const LOAD_OLDER_MARGIN_PX = 120;
// Within this many pixels of the bottom, new messages keep the view at the bottom.
const STICK_TO_BOTTOM_PX = 80;

const selectUsers = (state: State) => state.users;

/** One conversation: history (newest at the bottom, older pages on scroll up) and composer. */
export function MessageView({ conversationId }: Props) {
  const list = useStore(useCallback((state: State) => state.messages[conversationId], [conversationId]));
  const conversation = useStore(
    useCallback((state: State) => state.conversations[conversationId], [conversationId]),
  );
  const users = useStore(selectUsers);
  const me = useStore((state) => state.session?.user.id);
  const scroller = useRef<HTMLDivElement>(null);
  // Where the view was before a render, to keep it in place when a page loads above.
  const before = useRef({ height: 0, top: 0, firstId: "" as string | undefined });

  useEffect(() => {
    quietly(openConversation(conversationId));
    return closeConversation;
  }, [conversationId]);

  const { items, loadingOlder, olderCursor } = list ?? emptyList;

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    const previous = before.current;
    const firstId = items[0]?.id;
    if (previous.firstId !== undefined && firstId !== previous.firstId && previous.height > 0) {
      // Older messages came in above: keep what the reader was looking at where it was.
      element.scrollTop = previous.top + (element.scrollHeight - previous.height);
    } else if (previous.height - previous.top - element.clientHeight < STICK_TO_BOTTOM_PX) {
      element.scrollTop = element.scrollHeight;
    }
    before.current = { height: element.scrollHeight, top: element.scrollTop, firstId };
  }, [items]);

  function onScroll() {
    const element = scroller.current;
    if (element === null) return;
    before.current = { ...before.current, height: element.scrollHeight, top: element.scrollTop };
    if (element.scrollTop < LOAD_OLDER_MARGIN_PX && olderCursor !== null && !loadingOlder) {
      quietly(loadOlder(conversationId));
    }
  }

  return (
    <section class="messages" aria-label="Messages">
      <header class="conversation-header">
        <a
          href="/"
          class="back"
          onClick={(event) => {
            event.preventDefault();
            navigate("/");
          }}
        >
          ‹ <span class="visually-hidden">Back to conversations</span>
        </a>
        <h2>{conversation ? conversationTitle(conversation) : "Conversation"}</h2>
        {conversation && <ConversationMenu conversationId={conversationId} />}
      </header>
      <div class="history" ref={scroller} onScroll={onScroll} role="log" aria-live="polite">
        {/* One line whatever it says, so that "Loading…" coming and going moves nothing. */}
        <p class="history-status">{historyStatus(list ?? emptyList)}</p>
        <ol>
          {items.map((message) => (
            <MessageItem
              key={messageKey(message)}
              message={message}
              mine={message.senderId === me}
              sender={message.senderId ? users[message.senderId]?.displayName : undefined}
            />
          ))}
        </ol>
      </div>
      <Composer conversationId={conversationId} />
    </section>
  );
}

function historyStatus({ items, loaded, loadingOlder, olderCursor }: MessageList): string {
  if (loadingOlder) return "Loading…";
  if (!loaded || olderCursor !== null) return "";
  return items.length === 0
    ? "No messages yet. Say hello!"
    : "This is the beginning of the conversation.";
}

interface ItemProps {
  message: ChatMessage;
  mine: boolean;
  sender: string | undefined;
}

function MessageItem({ message, mine, sender }: ItemProps) {
  const state = message.local?.state;
  const time = new Date(message.clientTimestamp ?? message.serverTimestamp);
  return (
    <li
      class={`message${mine ? " mine" : ""}${state ? " " + state : ""}`}
      data-message-id={message.id}
    >
      {!mine && <span class="sender">{sender ?? "Someone"}</span>}
      <p class="content">
        {message.status === "DELETED" ? <em>Message deleted</em> : message.content}
      </p>
      <span class="meta">
        <time dateTime={time.toISOString()}>
          {time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
        </time>
        {message.editedAt && " · edited"}
        {state === "pending" && " · Sending…"}
        {mine && state === undefined && " · Sent"}
      </span>
      {state === "failed" && (
        <span class="failure" role="alert">
          Not sent{message.local?.error ? `: ${message.local.error}` : ""}{" "}
          <button type="button" onClick={() => retry(message)}>
            Retry
          </button>
        </span>
      )}
    </li>
  );
}

/** Stable across the send's life (local id, then the server's): clientMessageIds are unique
 * per sender only, so the sender is part of the key. */
function messageKey(message: ChatMessage): string {
  return message.clientMessageId !== null
    ? `${message.senderId}:${message.clientMessageId}`
    : message.id;
}
