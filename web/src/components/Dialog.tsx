import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

interface Props {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Classes beside `dialog` (a dialog's own look). */
  class?: string;
}

/** A modal dialog on the browser's own `<dialog>`: focus moves in and is kept there, Escape
 * closes it (and only it: not a thread panel behind it), and focus goes back to what opened
 * it. */
export function Dialog({ title, onClose, children, class: look }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(`dialog-${Math.random().toString(36).slice(2)}`).current;
  // Set once the owner has closed it (unmounted): the `close` event that follows is ours.
  const closed = useRef(false);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    return () => {
      closed.current = true;
      dialog.close();
      opener?.focus();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      class={look === undefined ? "dialog" : `dialog ${look}`}
      aria-labelledby={titleId}
      onCancel={(event) => {
        // Escape: closed by the owner, so that its state follows.
        event.preventDefault();
        onClose();
      }}
      // The thread panel closes on an Escape that reaches the document.
      onKeyDown={(event) => {
        if (event.key === "Escape") event.stopPropagation();
      }}
      // Closed by the browser itself (a second Escape it does not let the page cancel).
      onClose={() => {
        if (!closed.current) onClose();
      }}
    >
      <header class="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

/** The sentence to show for a failed action: the server's, with what a 403 means. */
export function errorText(error: unknown): string {
  if (error instanceof Error && "status" in error) {
    const status = (error as { status: number }).status;
    if (status === 403) return `Not allowed: ${error.message}`;
    return error.message;
  }
  return "Something went wrong; try again.";
}
