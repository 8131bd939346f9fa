import { useState } from "preact/hooks";
import type { FoundUser } from "../api/types";
import { newDraft, startConversation } from "../chat/people";
import { Dialog, errorText } from "./Dialog";
import { PeoplePicker } from "./PeoplePicker";

/** "New conversation": pick one person (direct) or several and a name (group). */
export default function NewConversation({ onClose }: { onClose: () => void }) {
  const [picked, setPicked] = useState<FoundUser[]>([]);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // One action, one key: a retry after an error cannot create a second conversation.
  const [draft, setDraft] = useState(newDraft);
  const group = picked.length > 1;

  async function submit(event: Event) {
    event.preventDefault();
    if (picked.length === 0 || busy) return;
    setBusy(true);
    setError(null);
    try {
      await startConversation(draft, picked, group ? name : "");
      onClose();
    } catch (reason) {
      setError(errorText(reason));
      setBusy(false);
    }
  }

  function change(people: FoundUser[]) {
    setPicked(people);
    setDraft(newDraft()); // another choice is another action
  }

  return (
    <Dialog title="New conversation" onClose={onClose}>
      <form class="dialog-body" onSubmit={submit}>
        <PeoplePicker id="new-conversation" picked={picked} onChange={change} autoFocus />
        {group && (
          <label class="field">
            Group name
            <input
              value={name}
              maxLength={128}
              required
              onInput={(event) => {
                setName(event.currentTarget.value);
                setDraft(newDraft());
              }}
            />
          </label>
        )}
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={picked.length === 0 || busy}>
            {group ? "Create group" : "Start conversation"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
