import { useCallback, useEffect, useRef } from "preact/hooks";
import { loadThread, quietly } from "../chat";
import { emptyList, useStore, type State } from "../store";
import { Composer } from "./Composer";
import { FileDrop } from "./UploadTray";
import { addFiles, trayKey } from "../chat";
import { MessageItem } from "./MessageItem";
import { deliveryOf, messageKey, placeMessages, senderName } from "./messageParts";

interface Props {
  conversationId: string;
  rootId: string;
  onClose: () => void;
}

const selectUsers = (state: State) => state.users;

/** A thread beside the conversation: its root, its replies, and a box to reply.
 * It takes the focus when it opens; Escape or the close button closes it. */
export function ThreadPanel({ conversationId, rootId, onClose }: Props) {
  const list = useStore(useCallback((state: State) => state.messages[conversationId], [conversationId]));
  const marks = useStore(
    useCallback((state: State) => state.watermarks[conversationId], [conversationId]),
  );
  const users = useStore(selectUsers);
  const me = useStore((state) => state.session?.user.id);
  const panel = useRef<HTMLElement>(null);
  const items = (list ?? emptyList).items;
  const root = items.find((item) => item.id === rootId);
  const replies = items.filter((item) => item.threadId === rootId);

  useEffect(() => {
    panel.current?.focus();
    quietly(loadThread(rootId));
  }, [rootId]);

  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key === "Escape" && !event.defaultPrevented) {
        event.preventDefault();
        onClose();
      }
    };
    document.addEventListener("keydown", onKeyDown);
    return () => document.removeEventListener("keydown", onKeyDown);
  }, [onClose]);

  return (
    <aside class="thread-panel" aria-labelledby="thread-title" tabIndex={-1} ref={panel}>
      <header>
        <h3 id="thread-title">Thread</h3>
        <button type="button" class="close" aria-label="Close thread" onClick={onClose}>
          ×
        </button>
      </header>
      <ol class="thread-messages">
        {root === undefined ? (
          <li class="history-status">Loading…</li>
        ) : (
          placeMessages([root, ...replies]).map(({ message, first }) => (
            <MessageItem
              key={messageKey(message)}
              message={message}
              mine={message.senderId === me}
              sender={first ? senderName(message, users) : undefined}
              delivery={deliveryOf(message, marks, me)}
              seenBy={[]}
              replies={undefined}
              onOpenThread={undefined}
              me={me}
              users={users}
            />
          ))
        )}
      </ol>
      <Composer conversationId={conversationId} threadId={rootId} />
      <FileDrop
        onFiles={(files) => addFiles(trayKey(conversationId, rootId), conversationId, files)}
      />
    </aside>
  );
}
