import { useEffect, useRef, useState } from "preact/hooks";
import type { SearchHit } from "../api/types";
import { conversationTitle } from "../chat";
import { jumpToMessage, parseSnippet, searchMessages } from "../chat/search";
import { useStore, type State } from "../store";
import { errorText } from "./Dialog";

const DEBOUNCE_MS = 300;

const selectConversations = (state: State) => state.conversations;
const selectUsers = (state: State) => state.users;

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
          setError(null);
          setStatus(page.items.length === 0 ? "No messages found." : `${page.items.length}${page.nextCursor ? "+" : ""} found.`);
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
      setCursor(page.nextCursor);
    } catch (reason) {
      setError(errorText(reason));
    }
  }

  async function go(hit: SearchHit) {
    setOpen(false);
    const found = await jumpToMessage(hit.conversationId, hit.id);
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
      const first = box.current?.querySelector<HTMLButtonElement>(".hit");
      if (first) {
        event.preventDefault();
        first.focus();
      }
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
        aria-expanded={showing}
        aria-controls="search-results"
        value={q}
        onFocus={() => setOpen(true)}
        onInput={(event) => {
          setQ(event.currentTarget.value);
          setOpen(true);
        }}
      />
      <div id="search-results" class="search-results" hidden={!showing} aria-label="Search results" role="region">
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
