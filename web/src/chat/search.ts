// Message search (docs/api.md, "Search"): pages of hits, the snippet's markup read as text
// and marks, and the jump from a hit to the message in its conversation.
import { manageApi } from "../api/manage";
import type { Page, SearchHit } from "../api/types";
import { navigate } from "../router";
import { emptyList, getState } from "../store";
import { loadOlder } from "./history";

export const searchMessages = (q: string, cursor?: string | null): Promise<Page<SearchHit>> => {
  // `#launch` alone: the messages carrying that tag (the search needs words: the tag's own).
  const tag = /^#([\p{L}\p{N}_][\p{L}\p{N}_-]*)$/u.exec(q.trim())?.[1];
  return tag === undefined
    ? manageApi.searchMessages(q, cursor)
    : manageApi.searchMessages(tag.replace(/-/g, " "), cursor, tag);
};

// A search asked for from elsewhere (a hashtag clicked in a message): the search box shows it.
const searchListeners = new Set<(q: string) => void>();

export function requestSearch(q: string): void {
  for (const listener of searchListeners) listener(q);
}

/** The search box listens; the returned function stops it. */
export function onSearchRequest(listener: (q: string) => void): () => void {
  searchListeners.add(listener);
  return () => searchListeners.delete(listener);
}

/** One piece of a snippet: text, marked (a hit) or not. */
export interface SnippetPart {
  text: string;
  marked: boolean;
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function decode(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const hex = name[1] === "x" || name[1] === "X";
      const code = hex ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The snippet as text and marks. The server escapes the text and adds only `<mark>` tags;
 * this never hands its markup to the browser: any other tag stays visible text. */
export function parseSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let marked = false;
  for (const piece of snippet.split(/(<\/?mark>)/i)) {
    const tag = piece.toLowerCase();
    if (tag === "<mark>") marked = true;
    else if (tag === "</mark>") marked = false;
    else if (piece !== "") parts.push({ text: decode(piece), marked });
  }
  return parts;
}

// How many older pages a jump loads at most looking for the message (of PAGE_SIZE each).
const MAX_PAGES = 20;
const PAGE_SIZE = 50;
const WAIT_MS = 100;
const FLASH_MS = 2500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens the hit's conversation and shows the message in context: older pages load until it
 * is there (the API has no "page around a message"), at most MAX_PAGES. False: not reached. */
export async function jumpToMessage(
  conversationId: string,
  messageId: string,
  seq: number | null,
): Promise<boolean> {
  navigate(`/c/${conversationId}`);
  let pages = 0;
  for (let waited = 0; waited < 200; ) {
    const list = getState().messages[conversationId] ?? emptyList;
    if (list.items.some((item) => item.id === messageId)) return reveal(messageId);
    if (!list.loaded || list.loadingOlder) {
      // The conversation view loads the first page (or a page is on its way).
      await sleep(WAIT_MS);
      waited += 1;
      continue;
    }
    if (list.olderCursor === null || pages >= MAX_PAGES) return false;
    // Its `seq` tells how far back it is: give up at once rather than load pages in vain.
    const oldest = list.items.find((item) => item.seq !== null)?.seq ?? null;
    if (seq !== null && oldest !== null && oldest - seq > (MAX_PAGES - pages) * PAGE_SIZE) {
      return false;
    }
    pages += 1;
    await loadOlder(conversationId);
  }
  return false;
}

async function reveal(messageId: string): Promise<boolean> {
  // Let the view render the page that holds it.
  for (let tries = 0; tries < 20; tries += 1) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const element = document.querySelector<HTMLElement>(`[data-message-id="${messageId}"]`);
    if (element === null) continue;
    element.scrollIntoView({ block: "center" });
    element.classList.add("flash");
    element.tabIndex = -1;
    element.focus({ preventScroll: true });
    setTimeout(() => element.classList.remove("flash"), FLASH_MS);
    return true;
  }
  return false;
}
