import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  closeConversation,
  conversationTitle,
  loadOlder,
  loadWatermarks,
  openConversation,
  quietly,
  readWhenLookedAt,
  stopTyping,
} from "../chat";
import { navigate } from "../router";
import { emptyList, useStore, type ChatMessage, type MessageList, type State } from "../store";
import { Composer } from "./Composer";
import { MessageItem } from "./MessageItem";
import {
  deliveryOf,
  messageKey,
  placeMessages,
  readers,
  senderName,
  typingLine,
} from "./messageParts";
import { ThreadPanel } from "./ThreadPanel";
import { ConversationMenu } from "./ConversationMenu";
import { FileDrop } from "./UploadTray";
import { addFiles, trayKey } from "../chat";

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
  const marks = useStore(
    useCallback((state: State) => state.watermarks[conversationId], [conversationId]),
  );
  const typing = useStore(
    useCallback((state: State) => state.typing[conversationId], [conversationId]),
  );
  const online = useStore((state) => state.connection === "online");
  const [threadRootId, setThreadRootId] = useState<string | null>(null);
  // Where the focus goes back when the thread panel closes.
  const threadOpener = useRef<HTMLElement | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  // Where the view was before a render, to keep it in place when a page loads above.
  const before = useRef({ height: 0, top: 0, firstId: "" as string | undefined });

  useEffect(() => {
    quietly(openConversation(conversationId));
    const stopLooking = readWhenLookedAt();
    return () => {
      stopLooking();
      stopTyping(conversationId);
      closeConversation();
    };
  }, [conversationId]);

  // Read and delivery positions, again after a reconnect (receipts may have been missed).
  useEffect(() => {
    if (online) quietly(loadWatermarks(conversationId));
  }, [conversationId, online]);

  const { loadingOlder, olderCursor } = list ?? emptyList;
  const all = (list ?? emptyList).items;
  // Thread replies are shown in the thread panel; the conversation shows their count.
  const items = useMemo(() => all.filter((item) => item.threadId === null), [all]);
  const replyCounts = useMemo(() => {
    const counts = new Map<string, number>();
    for (const item of all) {
      if (item.threadId !== null) counts.set(item.threadId, (counts.get(item.threadId) ?? 0) + 1);
    }
    return counts;
  }, [all]);
  const placed = useMemo(() => placeMessages(items), [items]);
  const byId = useMemo(() => new Map(all.map((item) => [item.id, item])), [all]);
  // "Seen by" goes under our newest committed message.
  const lastMine = [...items]
    .reverse()
    .find((item) => item.senderId === me && item.seq !== null && item.status !== "DELETED");
  const seenBy = lastMine?.seq != null ? readers(lastMine.seq, marks, users, me) : [];

  const openThread = useCallback((message: ChatMessage) => {
    threadOpener.current = document.activeElement as HTMLElement | null;
    setThreadRootId(message.threadId ?? message.id);
  }, []);
  const closeThread = useCallback(() => {
    setThreadRootId(null);
    threadOpener.current?.focus();
  }, []);

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

  // The history shrinking under a reader at the bottom (files to send above the composer, a
  // taller composer) keeps the newest message in view.
  useEffect(() => {
    const element = scroller.current;
    if (element === null || typeof ResizeObserver === "undefined") return;
    let height = element.clientHeight;
    const observer = new ResizeObserver(() => {
      const shrunk = height - element.clientHeight;
      height = element.clientHeight;
      const fromBottom = element.scrollHeight - element.scrollTop - element.clientHeight;
      if (shrunk > 0 && fromBottom - shrunk < STICK_TO_BOTTOM_PX) {
        element.scrollTop = element.scrollHeight;
      }
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  function onScroll() {
    const element = scroller.current;
    if (element === null) return;
    before.current = { ...before.current, height: element.scrollHeight, top: element.scrollTop };
    if (element.scrollTop < LOAD_OLDER_MARGIN_PX && olderCursor !== null && !loadingOlder) {
      quietly(loadOlder(conversationId));
    }
  }

  return (
    <section class={threadRootId ? "messages with-thread" : "messages"} aria-label="Messages">
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
          {placed.map(({ message, day, first }) => [
            day !== null && (
              <li class="day-separator" key={"day:" + day}>
                <span>{day}</span>
              </li>
            ),
            <MessageItem
              key={messageKey(message)}
              message={message}
              mine={message.senderId === me}
              sender={first ? senderName(message, users) : undefined}
              delivery={deliveryOf(message, marks, me)}
              seenBy={message === lastMine ? seenBy : []}
              replies={replyCounts.get(message.id) ?? 0}
              onOpenThread={openThread}
              repliedTo={message.replyToId !== null ? byId.get(message.replyToId) : undefined}
              me={me}
              users={users}
            />,
          ])}
        </ol>
      </div>
      <p class="typing" aria-live="polite">
        {typingLine(typing, users)}
      </p>
      <Composer conversationId={conversationId} />
      <FileDrop onFiles={(files) => addFiles(trayKey(conversationId), conversationId, files)} />
      {threadRootId !== null && (
        <ThreadPanel conversationId={conversationId} rootId={threadRootId} onClose={closeThread} />
      )}
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
