import { useEffect, useRef, useState } from "preact/hooks";
import type { FoundUser } from "../api/types";
import { findPeople } from "../chat/people";
import { errorText } from "./Dialog";

interface Props {
  /** For the input's label and ids: unique on the page. */
  id: string;
  picked: FoundUser[];
  onChange: (picked: FoundUser[]) => void;
  /** People who may not be picked (already members). */
  exclude?: Set<string>;
  /** Focus the search when the dialog opens. */
  autoFocus?: boolean;
}

const DEBOUNCE_MS = 250;

/** Finds people by name (`GET /users?q=`) and keeps the ones picked, as removable chips. */
export function PeoplePicker({ id, picked, onChange, exclude, autoFocus }: Props) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<FoundUser[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [searching, setSearching] = useState(false);
  // A picked person's button (or a removed chip) goes away: focus goes back to the search.
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const term = q.trim();
    if (term === "") {
      setFound([]);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      setSearching(true);
      findPeople(term).then(
        (people) => {
          if (!current) return;
          setFound(people);
          setError(null);
          setSearching(false);
        },
        (reason: unknown) => {
          if (!current) return;
          setError(errorText(reason));
          setSearching(false);
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [q]);

  const pickedIds = new Set(picked.map((user) => user.id));
  const choices = found.filter((user) => !pickedIds.has(user.id) && !exclude?.has(user.id));

  return (
    <div class="people-picker">
      {picked.length > 0 && (
        <ul class="chips" aria-label="Picked">
          {picked.map((user) => (
            <li key={user.id}>
              {user.displayName}
              <button
                type="button"
                aria-label={`Remove ${user.displayName}`}
                onClick={() => {
                  onChange(picked.filter((other) => other.id !== user.id));
                  input.current?.focus();
                }}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <label for={`${id}-q`}>Find people</label>
      <input
        id={`${id}-q`}
        ref={input}
        type="search"
        autoComplete="off"
        autoFocus={autoFocus}
        placeholder="Name or username"
        value={q}
        onInput={(event) => setQ(event.currentTarget.value)}
      />
      <p class="hint" aria-live="polite">
        {searching
          ? "Searching…"
          : q.trim() !== "" && choices.length === 0 && error === null
            ? "Nobody found."
            : ""}
      </p>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {choices.length > 0 && (
        <ul class="found" aria-label="People found">
          {choices.map((user) => (
            <li key={user.id}>
              <button
                type="button"
                class="person"
                onClick={() => {
                  onChange([...picked, user]);
                  setQ("");
                  input.current?.focus();
                }}
              >
                <PresenceDot status={user.status} />
                <span class="name">{user.displayName}</span>
                <span class="username">@{user.username}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

interface DotProps {
  status: FoundUser["status"] | undefined;
  lastSeenAt?: string | null;
}

/** A presence dot with its meaning for screen readers (no dot when presence is not told). */
export function PresenceDot({ status, lastSeenAt }: DotProps) {
  if (status === null || status === undefined) return null;
  const online = status === "ONLINE";
  const when = lastSeenAt
    ? new Date(lastSeenAt).toLocaleString([], { dateStyle: "short", timeStyle: "short" })
    : null;
  const seen = !online && when !== null ? `, last seen ${when}` : "";
  return (
    <span
      class={online ? "presence online" : "presence"}
      role="img"
      aria-label={online ? "Online" : "Offline"}
      title={(online ? "Online" : "Offline") + seen}
    />
  );
}
