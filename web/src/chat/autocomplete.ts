// What the composer suggests while `@name` or `#tag` is typed: the conversation's members
// (loaded once a while per conversation), and the tags in use (`GET /hashtags?prefix=`,
// docs/api.md "Mentions and hashtags"), each question aborted when a newer one replaces it.
import { query, request } from "../api/client";
import type { HashtagCount, Page, User } from "../api/types";
import { getState } from "../store";
import { listMembers } from "./people";
import type { Trigger } from "./richText";

export type { Trigger } from "./richText";
export { insertAt, triggerAt } from "./richText";

/** One line of the list: what it inserts (`value`, without `@`/`#`) and how it reads. */
export interface Suggestion {
  value: string;
  label: string;
  detail: string;
}

// At most this many lines; the list narrows as one types.
const MAX_SUGGESTIONS = 8;
// Members are asked again after this long (people join and leave).
const MEMBERS_FRESH_MS = 60_000;

const members = new Map<string, { at: number; users: Promise<User[]> }>();

function membersOf(conversationId: string): Promise<User[]> {
  const known = members.get(conversationId);
  if (known !== undefined && Date.now() - known.at < MEMBERS_FRESH_MS) return known.users;
  const users = listMembers(conversationId, false).then((participants) =>
    participants.flatMap((participant) => (participant.user === null ? [] : [participant.user])),
  );
  members.set(conversationId, { at: Date.now(), users });
  users.catch(() => members.delete(conversationId));
  return users;
}

/** Members whose username or a word of whose name starts with `prefix` (any case), the
 * username matches first; never oneself. */
export function matchMembers(users: User[], prefix: string, me: string | undefined): User[] {
  const wanted = prefix.toLowerCase();
  const byName = (user: User) =>
    user.displayName
      .toLowerCase()
      .split(/\s+/)
      .some((word) => word.startsWith(wanted));
  const rank = (user: User) => (user.username.toLowerCase().startsWith(wanted) ? 0 : 1);
  return users
    .filter((user) => user.id !== me)
    .filter((user) => user.username.toLowerCase().startsWith(wanted) || byName(user))
    .sort((a, b) => rank(a) - rank(b) || a.username.localeCompare(b.username))
    .slice(0, MAX_SUGGESTIONS);
}

/** The tags in use starting with `prefix` (the server's, most used first). */
export async function findHashtags(prefix: string, signal: AbortSignal): Promise<HashtagCount[]> {
  const page = await request<Page<HashtagCount>>(
    "GET",
    "/hashtags" + query({ prefix, limit: MAX_SUGGESTIONS }),
    undefined,
    {},
    signal,
  );
  return page.items;
}

/** What to offer for `trigger` in `conversationId`. */
export async function suggest(
  conversationId: string,
  trigger: Trigger,
  signal: AbortSignal,
): Promise<Suggestion[]> {
  if (trigger.kind === "hashtag") {
    const tags = await findHashtags(trigger.query, signal);
    return tags.map(({ tag, count }) => ({
      value: tag,
      label: "#" + tag,
      detail: count === 1 ? "1 message" : `${count} messages`,
    }));
  }
  const users = await membersOf(conversationId);
  return matchMembers(users, trigger.query, getState().session?.user.id).map((user) => ({
    value: user.username,
    label: user.displayName,
    detail: "@" + user.username,
  }));
}

/** Of the suggestions shown, those still fitting what is typed now (while a newer answer is
 * on its way). */
export function stillMatching(shown: Suggestion[], trigger: Trigger): Suggestion[] {
  const wanted = trigger.query.toLowerCase();
  if (trigger.kind === "hashtag") return shown.filter((item) => item.value.startsWith(wanted));
  return shown.filter(
    (item) =>
      item.value.toLowerCase().startsWith(wanted) ||
      item.label
        .toLowerCase()
        .split(/\s+/)
        .some((word) => word.startsWith(wanted)),
  );
}
