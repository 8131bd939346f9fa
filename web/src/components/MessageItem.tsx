import { useEffect, useRef, useState } from "preact/hooks";
import type { JSX } from "preact";
import type { User } from "../api/types";
import { deleteMessage, discard, editMessage, retry, toggleReaction } from "../chat";
import type { ChatMessage } from "../store";
import { MessageAttachments } from "./Attachments";
import { EditHistory } from "./EditHistory";
import { LinkPreviews, MessageText } from "./MessageText";
import { namesList, type Delivery } from "./messageParts";
import { ReactionPicker } from "./ReactionPicker";

interface Props {
  message: ChatMessage;
  mine: boolean;
  /** The sender's name, shown on the first message of a run (undefined: not shown). */
  sender: string | undefined;
  delivery: Delivery;
  /** "Seen by ..." under our latest message. */
  seenBy: string[];
  /** Replies in its thread (undefined inside the thread panel). */
  replies: number | undefined;
  onOpenThread: ((message: ChatMessage) => void) | undefined;
  /** The message this one answers (`replyToId`), when it is loaded. */
  repliedTo?: ChatMessage | undefined;
  me: string | undefined;
  users: Record<string, User>;
}

const DELIVERY_TEXT: Record<Delivery, string> = {
  pending: "Sending…",
  retrying: "Not sent yet",
  failed: "Not sent",
  SENT: "Sent",
  DELIVERED: "Delivered",
  READ: "Read",
};

const TICKS: Partial<Record<Delivery, string>> = { SENT: "✓", DELIVERED: "✓✓", READ: "✓✓" };

/** One message: text, time, ticks, reactions, and what one can do to it. */
export function MessageItem(props: Props) {
  const { message, mine, sender, delivery, seenBy, replies, onOpenThread, repliedTo, me, users } =
    props;
  const [picking, setPicking] = useState(false);
  const [editing, setEditing] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [showingHistory, setShowingHistory] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reactButton = useRef<HTMLButtonElement>(null);
  const state = message.local?.state;
  const deleted = message.status === "DELETED" || message.deletedAt !== null;
  const committed = message.seq !== null && state === undefined;
  const time = new Date(message.clientTimestamp ?? message.serverTimestamp);
  const reactions = Object.entries(message.reactions ?? {});

  function act(work: Promise<unknown>) {
    setError(null);
    work.catch((failure: Error) => setError(failure.message));
  }

  return (
    <li
      class={`message${mine ? " mine" : ""}${state ? " " + state : ""}${sender ? " first" : ""}`}
      data-message-id={message.id}
    >
      {sender !== undefined && !mine && <span class="sender">{sender}</span>}
      {repliedTo !== undefined && (
        <blockquote class="replied-to">
          <span class="sender">
            {(repliedTo.senderId ? users[repliedTo.senderId]?.displayName : undefined) ?? "Someone"}
          </span>
          {repliedTo.status === "DELETED" ? <em>Message deleted</em> : repliedTo.content}
        </blockquote>
      )}
      {editing ? (
        <EditBox
          initial={message.content ?? ""}
          onSave={(content) => {
            setEditing(false);
            if (content !== message.content) act(editMessage(message, content));
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <p class="content">
          {deleted ? (
            <em>Message deleted</em>
          ) : (
            <MessageText message={message} me={me} users={users} />
          )}
        </p>
      )}
      {!deleted && message.attachments !== undefined && message.attachments.length > 0 && (
        <MessageAttachments attachments={message.attachments} />
      )}
      {!deleted && !editing && <LinkPreviews message={message} />}
      <span class="meta">
        <time dateTime={time.toISOString()}>
          {time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
        </time>
        {message.editedAt !== null && !deleted && (
          <>
            {" · "}
            <button
              type="button"
              class="link edited"
              title="Show the edit history"
              onClick={() => setShowingHistory(true)}
            >
              edited
            </button>
          </>
        )}
        {mine && !deleted && (
          <span class={`delivery ${delivery}`} title={DELIVERY_TEXT[delivery]}>
            {" · "}
            {TICKS[delivery] !== undefined ? (
              <>
                <span aria-hidden="true">{TICKS[delivery]}</span>
                <span class="visually-hidden">{DELIVERY_TEXT[delivery]}</span>
              </>
            ) : (
              DELIVERY_TEXT[delivery]
            )}
          </span>
        )}
      </span>
      {state === "retrying" && (
        <span class="failure retrying" role="status">
          Not sent yet{message.local?.error ? `: ${message.local.error}` : ""}. Trying again…{" "}
          <button type="button" onClick={() => retry(message)}>
            Retry now
          </button>
        </span>
      )}
      {state === "failed" && (
        <span class="failure" role="alert">
          Not sent{message.local?.error ? `: ${message.local.error}` : ""}{" "}
          <button type="button" onClick={() => retry(message)}>
            Retry
          </button>{" "}
          <button type="button" onClick={() => discard(message)}>
            Discard
          </button>
        </span>
      )}
      {reactions.length > 0 && !deleted && (
        <div class="reactions">
          {reactions.map(([emoji, summary]) => {
            const minePressed = me !== undefined && summary.userIds.includes(me);
            const who = namesList(
              summary.userIds.map((userId) => users[userId]?.displayName ?? "Someone"),
            );
            return (
              <button
                type="button"
                key={emoji}
                class="reaction"
                aria-pressed={minePressed}
                aria-label={`${emoji} ${summary.count}${who ? ": " + who : ""}`}
                title={who}
                disabled={!committed}
                onClick={() => act(toggleReaction(message, emoji))}
              >
                {emoji} <span class="count">{summary.count}</span>
              </button>
            );
          })}
        </div>
      )}
      {replies !== undefined && replies > 0 && onOpenThread !== undefined && (
        <button type="button" class="link replies" onClick={() => onOpenThread(message)}>
          {replies === 1 ? "1 reply" : `${replies} replies`}
        </button>
      )}
      {seenBy.length > 0 && <p class="seen">Seen by {namesList(seenBy)}</p>}
      {committed && !deleted && !editing && (
        <div class="message-actions">
          <button
            type="button"
            ref={reactButton}
            aria-label="Add reaction"
            aria-expanded={picking}
            title="Add reaction"
            onClick={() => setPicking(!picking)}
          >
            ☺
          </button>
          {onOpenThread !== undefined && (
            <button
              type="button"
              aria-label="Reply in thread"
              title="Reply in thread"
              onClick={() => onOpenThread(message)}
            >
              ↩
            </button>
          )}
          {mine && (
            <>
              <button
                type="button"
                aria-label="Edit message"
                title="Edit"
                onClick={() => setEditing(true)}
              >
                ✎
              </button>
              <button
                type="button"
                aria-label="Delete message"
                title="Delete"
                onClick={() => setConfirmingDelete(true)}
              >
                ✕
              </button>
            </>
          )}
        </div>
      )}
      {picking && (
        <ReactionPicker
          onPick={(emoji) => {
            setPicking(false);
            act(toggleReaction(message, emoji));
          }}
          onClose={() => {
            setPicking(false);
            reactButton.current?.focus();
          }}
        />
      )}
      {confirmingDelete && (
        <div class="confirm" role="group" aria-label="Delete this message?">
          <span>Delete this message?</span>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setConfirmingDelete(false);
              act(deleteMessage(message));
            }}
          >
            Delete
          </button>
          <button type="button" onClick={() => setConfirmingDelete(false)}>
            Cancel
          </button>
        </div>
      )}
      {error !== null && (
        <span class="failure" role="alert">
          {error}
        </span>
      )}
      {showingHistory && (
        <EditHistory messageId={message.id} onClose={() => setShowingHistory(false)} />
      )}
    </li>
  );
}

interface EditProps {
  initial: string;
  onSave: (content: string) => void;
  onCancel: () => void;
}

/** The inline editor: Enter saves, Shift+Enter a new line, Escape cancels. */
function EditBox({ initial, onSave, onCancel }: EditProps) {
  const [text, setText] = useState(initial);
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    box.current?.focus();
  }, []);

  function save() {
    const content = text.trim();
    if (content !== "") onSave(content);
  }

  function onKeyDown(event: JSX.TargetedKeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    }
  }

  return (
    <form
      class="edit-box"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <textarea
        aria-label="Edit message"
        value={text}
        ref={box}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit" class="primary" disabled={text.trim() === ""}>
        Save
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}
