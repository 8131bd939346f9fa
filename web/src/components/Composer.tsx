import { useState } from "preact/hooks";
import type { JSX } from "preact";
import { sendMessage } from "../chat";

interface Props {
  conversationId: string;
}

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function Composer({ conversationId }: Props) {
  const [text, setText] = useState("");

  function send() {
    const content = text.trim();
    if (content === "") return;
    sendMessage(conversationId, content);
    setText("");
  }

  function onKeyDown(event: JSX.TargetedKeyboardEvent<HTMLTextAreaElement>) {
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
      <label class="visually-hidden" for="composer-text">
        Message
      </label>
      <textarea
        id="composer-text"
        rows={1}
        placeholder="Write a message…"
        title="Enter sends, Shift+Enter starts a new line"
        value={text}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit" class="primary" disabled={text.trim() === ""}>
        Send
      </button>
    </form>
  );
}
