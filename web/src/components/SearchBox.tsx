import { useEffect, useRef, useState } from "preact/hooks";
import type { SearchHit } from "../api/types";
import { conversationTitle, quietly } from "../chat";
import { loadMembers } from "../chat/conversations";
import { jumpToMessage, onSearchRequest, parseSnippet, searchMessages } from "../chat/search";
import { getState, useStore, type State } from "../store";
import { errorText } from "./Dialog";

const DEBOUNCE_MS = 300;

const selectConversations = (state: State) => state.conversations;
const selectUsers = (state: State) => state.users;

/** Loads the members of conversations whose senders the hits name but the client has not met
 * (a named group's members are loaded only when it is opened). */
function learnSenders(hits: SearchHit[]): void {
  const users = getState().users;
  const missing = new Set(
    hits
      .filter((hit) => hit.senderId !== null && users[hit.senderId] === undefined)
      .map((hit) => hit.conversationId),
  );
  for (const conversationId of missing) quietly(loadMembers(conversationId));
}

/** Message search: hits as the user types, best first, with the matched words marked; a hit
 * opens its conversation at the message. Escape closes the results. */
export function SearchBox() {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [status, setStatus] = useState<string>("");
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const conversations = useStore(selectConversations);
  const users = useStore(selectUsers);

  // A hashtag clicked in a message: its search, here.
  useEffect(
    () =>
      onSearchRequest((wanted) => {
        setQ(wanted);
        setOpen(true);
        input.current?.focus();
      }),
    [],
  );

  useEffect(() => {
    const term = q.trim();
    if (term === "") {
      setHits([]);
      setCursor(null);
      setStatus("");
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      setStatus("Searching…");
      searchMessages(term).then(
        (page) => {
          if (!current) return;
          setHits(page.items);
          setCursor(page.nextCursor);
          learnSenders(page.items);
          setError(null);
          const count = `${page.items.length}${page.nextCursor ? "+" : ""}`;
          setStatus(page.items.length === 0 ? "No messages found." : `${count} found.`);
        },
        (reason: unknown) => {
          if (!current) return;
          setError(errorText(reason));
          setStatus("");
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [q]);

  async function more() {
    if (cursor === null) return;
    try {
      const page = await searchMessages(q.trim(), cursor);
      setHits((shown) => [...shown, ...page.items]);
      learnSenders(page.items);
      setCursor(page.nextCursor);
    } catch (reason) {
      setError(errorText(reason));
    }
  }

  async function go(hit: SearchHit) {
    setOpen(false);
    const found = await jumpToMessage(hit.conversationId, hit.id, hit.seq);
    if (!found) {
      setError("That message is too far back to show here.");
      setOpen(true);
    }
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape" && open) {
      event.preventDefault();
      setOpen(false);
      input.current?.focus();
    } else if (event.key === "ArrowDown" && event.target === input.current) {
      setOpen(true);
      const first = box.current?.querySelector<HTMLButtonElement>(".hit");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      // Between hits; up from the first goes back to the search box.
      const hits = [...(box.current?.querySelectorAll<HTMLButtonElement>(".hit") ?? [])];
      const at = hits.indexOf(event.target as HTMLButtonElement);
      if (at === -1) return;
      event.preventDefault();
      const next = at + (event.key === "ArrowDown" ? 1 : -1);
      (next < 0 ? input.current : hits[Math.min(next, hits.length - 1)])?.focus();
    }
  }

  const showing = open && q.trim() !== "";
  return (
    <div
      class="search"
      role="search"
      ref={box}
      onKeyDown={onKeyDown}
      onFocusOut={(event) => {
        // Closes when focus leaves the box (not when it moves to a hit).
        const next = event.relatedTarget as Node | null;
        if (next !== null && !box.current?.contains(next)) setOpen(false);
      }}
    >
      <label class="visually-hidden" for="search-q">
        Search
      </label>
      <input
        id="search-q"
        ref={input}
        type="search"
        placeholder="Search messages"
        autoComplete="off"
        aria-controls="search-results"
        value={q}
        onClick={() => setOpen(true)}
        onInput={(event) => {
          setQ(event.currentTarget.value);
          setOpen(true);
        }}
      />
      <div
        id="search-results"
        class="search-results"
        hidden={!showing}
        aria-label="Search results"
        role="region"
      >
        <p class="hint" role="status">
          {status}
        </p>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <ul>
          {hits.map((hit) => {
            const conversation = conversations[hit.conversationId];
            const sender = hit.senderId ? users[hit.senderId]?.displayName : undefined;
            return (
              <li key={hit.id}>
                <button type="button" class="hit" onClick={() => void go(hit)}>
                  <span class="hit-where">
                    {conversation ? conversationTitle(conversation) : "Conversation"}
                    {sender && ` · ${sender}`}
                    {" · "}
                    <time dateTime={hit.serverTimestamp}>
                      {new Date(hit.serverTimestamp).toLocaleString([], {
                        dateStyle: "short",
                        timeStyle: "short",
                      })}
                    </time>
                  </span>
                  <span class="hit-snippet">
                    {parseSnippet(hit.snippet).map((part, index) =>
                      part.marked ? <mark key={index}>{part.text}</mark> : part.text,
                    )}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
        {cursor !== null && (
          <button type="button" class="more" onClick={() => void more()}>
            More results
          </button>
        )}
      </div>
    </div>
  );
}
