import { useEffect, useRef, useState } from "preact/hooks";
import type { MessageHistory } from "../api/types";
import { messageHistory } from "../chat";

interface Props {
  messageId: string;
  onClose: () => void;
}

/** A message's versions, oldest first, in a modal dialog (Escape or Close closes it). */
export function EditHistory({ messageId, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [history, setHistory] = useState<MessageHistory | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    dialog.current?.showModal();
    messageHistory(messageId).then(setHistory, (failure: Error) => setError(failure.message));
  }, [messageId]);

  return (
    <dialog
      ref={dialog}
      class="edit-history"
      aria-labelledby="edit-history-title"
      onClose={onClose}
      // Escape closes the dialog only, not the panel behind it.
      onKeyDown={(event) => {
        if (event.key === "Escape") event.stopPropagation();
      }}
    >
      <h3 id="edit-history-title">Edit history</h3>
      {error !== null && <p role="alert">Could not load the history: {error}</p>}
      {history === null && error === null && <p>Loading…</p>}
      {history !== null && (
        <ol class="versions">
          {history.items.map((version) => (
            <li key={version.version}>
              <span class="version-meta">
                Version {version.version}
                {version.current && " (current)"} ·{" "}
                <time dateTime={version.createdAt}>
                  {new Date(version.createdAt).toLocaleString([], {
                    dateStyle: "medium",
                    timeStyle: "short",
                  })}
                </time>
              </span>
              <p class="content">{version.content ?? <em>No text</em>}</p>
            </li>
          ))}
        </ol>
      )}
      <button type="button" onClick={() => dialog.current?.close()}>
        Close
      </button>
    </dialog>
  );
}
