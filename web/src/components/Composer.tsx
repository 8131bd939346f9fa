import { useState } from "preact/hooks";
import type { JSX } from "preact";
import { composing, sendMessage, sendThreadReply, stopTyping } from "../chat";
import { useAutocomplete } from "./Autocomplete";

interface Props {
  conversationId: string;
  /** Replies go into this thread (the thread panel's box). */
  threadId?: string;
}

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function Composer({ conversationId, threadId }: Props) {
  const [text, setText] = useState("");
  const inputId = threadId === undefined ? "composer-text" : "thread-composer-text";
  const complete = useAutocomplete(conversationId, inputId + "-suggestions", text, setText);

  function send() {
    const content = text.trim();
    if (content === "") return;
    if (threadId === undefined) sendMessage(conversationId, content);
    else sendThreadReply(conversationId, threadId, content);
    setText("");
    stopTyping(conversationId);
  }

  function onKeyDown(event: JSX.TargetedKeyboardEvent<HTMLTextAreaElement>) {
    if (complete.onKeyDown(event)) return; // @name, #tag: the suggestions' keys first
    // isComposing: Enter that ends an IME composition (Japanese, Chinese...) is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <label class="visually-hidden" for={inputId}>
        {threadId === undefined ? "Message" : "Reply in thread"}
      </label>
      <textarea
        id={inputId}
        rows={1}
        placeholder={threadId === undefined ? "Write a message…" : "Reply…"}
        title="Enter sends, Shift+Enter starts a new line"
        value={text}
        {...complete.inputProps}
        onInput={(event) => {
          setText(event.currentTarget.value);
          composing(conversationId, event.currentTarget.value);
          complete.onInput(event.currentTarget);
        }}
        onBlur={() => {
          stopTyping(conversationId);
          complete.close();
        }}
        onKeyDown={onKeyDown}
      />
      {complete.popup}
      <button type="submit" class="primary" disabled={text.trim() === ""}>
        Send
      </button>
    </form>
  );
}
