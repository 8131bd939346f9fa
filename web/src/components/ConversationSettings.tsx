import { useCallback, useEffect, useState } from "preact/hooks";
import type {
  Conversation,
  FoundUser,
  Participant,
  ParticipantStatus,
  Role,
} from "../api/types";
import { conversationTitle } from "../chat";
import {
  addMembers,
  changeRole,
  changeStatus,
  listMembers,
  newDraft,
  removeMember,
  updateConversation,
} from "../chat/people";
import { currentSocket } from "../chat/connection";
import { byStanding, mayEditSettings, memberActions, roleLabel } from "../chat/permissions";
import { getState, useStore, type State } from "../store";
import { Dialog, errorText } from "./Dialog";
import { PeoplePicker, PresenceDot } from "./PeoplePicker";

interface Props {
  conversationId: string;
  onClose: () => void;
}

const SETTINGS = [
  ["typingIndicators", "Show who is typing"],
  ["readReceipts", "Read receipts"],
  ["linkPreviews", "Link previews"],
] as const;

const selectUsers = (state: State) => state.users;

/** A conversation's details, settings and members, with the actions the caller's role allows
 * (docs/permissions.md); the server's refusals are shown as they come. */
export default function ConversationSettings({ conversationId, onClose }: Props) {
  const conversation = useStore(
    useCallback((state: State) => state.conversations[conversationId], [conversationId]),
  );
  if (conversation === undefined) {
    return (
      <Dialog title="Conversation" onClose={onClose}>
        <p class="dialog-body">This conversation is no longer yours.</p>
      </Dialog>
    );
  }
  return (
    <Dialog title={`${conversationTitle(conversation)}: settings`} onClose={onClose}>
      <div class="dialog-body">
        {mayEditSettings(conversation) && <Details conversation={conversation} />}
        <Members conversation={conversation} />
      </div>
    </Dialog>
  );
}

function Details({ conversation }: { conversation: Conversation }) {
  const [name, setName] = useState(conversation.name ?? "");
  const [description, setDescription] = useState(conversation.description ?? "");
  const [status, setStatus] = useState(conversation.status);
  const [settings, setSettings] = useState(() =>
    Object.fromEntries(SETTINGS.map(([key]) => [key, conversation.settings[key] !== false])),
  );
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const direct = conversation.type === "DIRECT";

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await updateConversation(conversation.id, {
        ...(direct
          ? {}
          : {
              name: name.trim() || undefined,
              description: description.trim() === "" ? null : description,
              status: status === "DELETED" ? undefined : status,
            }),
        settings,
      });
      setMessage({ error: false, text: "Saved." });
    } catch (reason) {
      setMessage({ error: true, text: errorText(reason) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="settings" onSubmit={save} aria-label="Conversation settings">
      {!direct && (
        <>
          <label class="field">
            Name
            <input
              value={name}
              maxLength={128}
              onInput={(event) => setName(event.currentTarget.value)}
            />
          </label>
          <label class="field">
            Description
            <textarea
              rows={2}
              maxLength={2000}
              value={description}
              onInput={(event) => setDescription(event.currentTarget.value)}
            />
          </label>
          <label class="field">
            Status
            <select
              value={status}
              onChange={(event) => setStatus(event.currentTarget.value as Conversation["status"])}
            >
              <option value="ACTIVE">Active</option>
              <option value="MUTED">Muted (only moderators and above may send)</option>
              <option value="ARCHIVED">Archived (read-only)</option>
            </select>
          </label>
        </>
      )}
      <fieldset>
        <legend>Settings</legend>
        {SETTINGS.map(([key, label]) => (
          <label key={key} class="check">
            <input
              type="checkbox"
              checked={settings[key]}
              onChange={(event) => setSettings({ ...settings, [key]: event.currentTarget.checked })}
            />
            {label}
          </label>
        ))}
      </fieldset>
      <div class="actions">
        {message !== null && (
          <span class={message.error ? "error" : "hint"} role={message.error ? "alert" : "status"}>
            {message.text}
          </span>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

function Members({ conversation }: { conversation: Conversation }) {
  const me = useStore((state) => state.session?.user.id);
  const users = useStore(selectUsers);
  const [members, setMembers] = useState<Participant[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState<FoundUser[]>([]);
  const [draft, setDraft] = useState(newDraft);
  const mine = conversation.myRole;
  const direct = conversation.type === "DIRECT";

  const reload = useCallback(() => {
    // The role as it is now: an event that changed ours may arrive before a re-render.
    const role = getState().conversations[conversation.id]?.myRole ?? null;
    const withBanned = !direct && role !== null && role !== "MEMBER";
    listMembers(conversation.id, withBanned).then(
      (found) => setMembers(found.sort(byStanding)),
      (reason: unknown) => setError(errorText(reason)),
    );
  }, [conversation.id, direct]);
  useEffect(reload, [reload, mine]);
  useEffect(() => {
    // Changes others make while the list is open.
    const socket = currentSocket();
    const changed = ({ conversationId }: { conversationId: string }) => {
      if (conversationId === conversation.id) reload();
    };
    socket?.on("participant_added", changed);
    socket?.on("participant_updated", changed);
    socket?.on("participant_removed", changed);
    return () => {
      socket?.off("participant_added", changed);
      socket?.off("participant_updated", changed);
      socket?.off("participant_removed", changed);
    };
  }, [conversation.id, reload]);

  async function act(work: () => Promise<unknown>) {
    setError(null);
    try {
      await work();
    } catch (reason) {
      setError(errorText(reason));
    }
    reload();
  }

  const setStatus = (userId: string, status: ParticipantStatus) =>
    changeStatus(conversation.id, userId, status);

  const exclude = new Set(
    (members ?? [])
      .filter((member) => member.status === "ACTIVE" || member.status === "MUTED")
      .map((member) => member.userId),
  );

  return (
    <section class="members" aria-labelledby="members-heading">
      <h3 id="members-heading">Members{members !== null ? ` (${exclude.size})` : ""}</h3>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {members === null && error === null && <p class="hint">Loading…</p>}
      <ul>
        {(members ?? []).map((member) => {
          const user = member.user ?? users[member.userId];
          const name = user?.displayName ?? "Someone";
          const can = memberActions(conversation, member, me);
          return (
            <li key={member.id} class="member">
              <PresenceDot status={users[member.userId]?.status ?? user?.status} />
              <span class="name">
                {name}
                {member.userId === me && " (you)"}
              </span>
              <span class="role">{roleLabel(member.role)}</span>
              {member.status !== "ACTIVE" && (
                <span class="member-status">{member.status.toLowerCase()}</span>
              )}
              <span class="member-actions">
                {can.roles.length > 0 && (
                  <select
                    aria-label={`Role of ${name}`}
                    value={member.role}
                    onChange={(event) => {
                      const role = event.currentTarget.value as Role;
                      if (
                        role === "OWNER" &&
                        !confirm(`Hand ownership to ${name}? You will become an admin.`)
                      ) {
                        event.currentTarget.value = member.role;
                        return;
                      }
                      void act(() => changeRole(conversation.id, member.userId, role));
                    }}
                  >
                    <option value={member.role}>{roleLabel(member.role)}</option>
                    {can.roles.map((role) => (
                      <option key={role} value={role}>
                        {role === "OWNER" ? "Owner (hand over)" : roleLabel(role)}
                      </option>
                    ))}
                  </select>
                )}
                {can.mute && (
                  <button
                    type="button"
                    onClick={() => act(() => setStatus(member.userId, "MUTED"))}
                  >
                    Mute<span class="visually-hidden"> {name}</span>
                  </button>
                )}
                {can.unmute && (
                  <button
                    type="button"
                    onClick={() => act(() => setStatus(member.userId, "ACTIVE"))}
                  >
                    Unmute<span class="visually-hidden"> {name}</span>
                  </button>
                )}
                {can.ban && (
                  <button
                    type="button"
                    class="danger"
                    onClick={() =>
                      confirm(`Ban ${name}? They cannot be added again until unbanned.`) &&
                      act(() => setStatus(member.userId, "BANNED"))
                    }
                  >
                    Ban<span class="visually-hidden"> {name}</span>
                  </button>
                )}
                {can.unban && (
                  <button
                    type="button"
                    onClick={() => act(() => setStatus(member.userId, "ACTIVE"))}
                  >
                    Unban<span class="visually-hidden"> {name}</span>
                  </button>
                )}
                {can.remove && (
                  <button
                    type="button"
                    class="danger"
                    onClick={() =>
                      confirm(`Remove ${name} from the conversation?`) &&
                      act(() =>
                        member.status === "BANNED"
                          ? setStatus(member.userId, "REMOVED")
                          : removeMember(conversation.id, member.userId),
                      )
                    }
                  >
                    Remove<span class="visually-hidden"> {name}</span>
                  </button>
                )}
              </span>
            </li>
          );
        })}
      </ul>
      {!direct && conversation.status !== "ARCHIVED" && (
        <form
          class="add-members"
          onSubmit={(event) => {
            event.preventDefault();
            if (adding.length === 0) return;
            void act(async () => {
              await addMembers(
                conversation.id,
                adding.map((user) => user.id),
                draft,
              );
              setAdding([]);
              setDraft(newDraft());
            });
          }}
        >
          <h3>Add people</h3>
          <PeoplePicker
            id="add-members"
            picked={adding}
            onChange={(people) => {
              setAdding(people);
              setDraft(newDraft());
            }}
            exclude={exclude}
          />
          <button type="submit" class="primary" disabled={adding.length === 0}>
            Add
          </button>
        </form>
      )}
    </section>
  );
}
