import { useState } from "preact/hooks";
import { useLazy } from "./lazy";

/** The conversation header's "Settings and members" button and its dialog (loaded on use). */
export function ConversationMenu({ conversationId }: { conversationId: string }) {
  const [Settings, load] = useLazy(() => import("./ConversationSettings"));
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        class="settings-button"
        aria-haspopup="dialog"
        onClick={() => void load().then(() => setOpen(true))}
      >
        Settings and members
      </button>
      {open && Settings && (
        <Settings conversationId={conversationId} onClose={() => setOpen(false)} />
      )}
    </>
  );
}
