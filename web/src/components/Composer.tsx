import { useState } from "preact/hooks";
import type { JSX } from "preact";
import { composing, sendMessage, sendThreadReply, stopTyping } from "../chat";
import { useAutocomplete } from "./Autocomplete";
import { AttachButton, UploadTray, useComposerUploads } from "./UploadTray";

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
  const tray = useComposerUploads(conversationId, threadId);
  const { attachments } = tray;

  function send() {
    const content = text.trim();
    if ((content === "" && attachments.length === 0) || tray.busy) return;
    if (threadId === undefined) sendMessage(conversationId, content, { attachments });
    else sendThreadReply(conversationId, threadId, content, attachments);
    tray.sent(attachments);
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
      <UploadTray tray={tray} />
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
        onPaste={tray.onPaste}
      />
      {complete.popup}
      <AttachButton onFiles={tray.add} />
      <button
        type="submit"
        class="primary"
        disabled={(text.trim() === "" && attachments.length === 0) || tray.busy}
      >
        Send
      </button>
    </form>
  );
}
