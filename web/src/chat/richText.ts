// Mentions, hashtags and links in a message's text, found by the server's rules
// (parley/messages/extract.py, docs/api.md "Mentions and hashtags"), for showing them: the
// text is cut into parts that the message view renders as text nodes and elements, never
// as HTML. Pure functions; what the server resolved (message.metadata) decides what is
// highlighted.
import type { MessageMetadata, MessageWithMetadata, User } from "../api/types";

/** One piece of a message's text, in order; joined, the parts give back the text. */
export type TextPart =
  | { kind: "text"; text: string }
  | { kind: "link"; text: string; href: string }
  /** `user`: whom it names, when the client knows them. */
  | { kind: "mention"; text: string; username: string; user: User | undefined; me: boolean }
  | { kind: "hashtag"; text: string; tag: string };

// Python's `\w` on text (letters, digits of any script, `_`) as a JavaScript class.
const W = "\\p{L}\\p{N}_";
// extract.py's three patterns, in one scan so that a link wins over a `@` or `#` inside it
// (the server extracts those too, but a link is one thing to click). Groups: 1 link,
// 2 mention's name, 3 hashtag's tag.
const TOKENS = new RegExp(
  `((?<![${W}])https?://[^\\s<>"'\`]+` +
    `|(?<![${W}.@/:-])www\\.[a-z0-9-]+(?:\\.[a-z0-9-]+)+(?:[/?#:][^\\s<>"'\`]*)?)` +
    `|(?<![${W}@])@([A-Za-z0-9_][A-Za-z0-9_.-]{1,31})` +
    `|(?<![${W}#&])#([${W}][${W}-]{0,99})`,
  "giu",
);
const URL_TRAILING = /[.,;:!?)\]}'"]+$/;
const ALL_DIGITS = /^\p{N}+$/u;

/** The parts of `text`: links, mentions and hashtags among plain text. `isMention` and
 * `isHashtag` say which of those the rules find are shown as such (resolved ones). */
export function splitText(
  text: string,
  mention: (username: string) => { user: User | undefined; me: boolean } | null,
  isHashtag: (tag: string) => boolean,
): TextPart[] {
  const parts: TextPart[] = [];
  let plain = "";
  let at = 0;
  const flush = () => {
    if (plain !== "") parts.push({ kind: "text", text: plain });
    plain = "";
  };
  for (const match of text.matchAll(TOKENS)) {
    const start = match.index ?? 0;
    plain += text.slice(at, start);
    let whole = match[0];
    let rest = "";
    const [, link, name, tag] = match;
    if (link !== undefined) {
      rest = URL_TRAILING.exec(link)?.[0] ?? "";
      whole = link.slice(0, link.length - rest.length);
      flush();
      const href = /^https?:/i.test(whole) ? whole : "https://" + whole;
      parts.push({ kind: "link", text: whole, href });
    } else if (name !== undefined) {
      // extract.py: trailing `.` and `-` are not part of the name, which needs 3 characters.
      const username = name.replace(/[.-]+$/, "");
      rest = name.slice(username.length);
      const found = username.length >= 3 ? mention(username.toLowerCase()) : null;
      if (found === null) {
        plain += whole;
        rest = "";
      } else {
        whole = "@" + username;
        flush();
        parts.push({ kind: "mention", text: whole, username: username.toLowerCase(), ...found });
      }
    } else if (tag !== undefined && !ALL_DIGITS.test(tag) && isHashtag(tag.toLowerCase())) {
      flush();
      parts.push({ kind: "hashtag", text: whole, tag: tag.toLowerCase() });
    } else {
      plain += whole;
    }
    plain += rest;
    at = start + match[0].length;
  }
  plain += text.slice(at);
  flush();
  return parts;
}

/** The parts of a message's text, highlighting what the server resolved: a mention only
 * where its name is a user (`metadata.mentionedUserIds`, set at the commit), a hashtag only
 * where `metadata.hashtags` has it. A message the server has not answered yet (ours, being
 * sent) is read by the rules alone, a mention where the client knows the user. */
export function messageParts(
  message: MessageWithMetadata,
  byUsername: Map<string, User>,
  me: string | undefined,
): TextPart[] {
  const metadata: MessageMetadata | null | undefined = message.metadata;
  const known = (username: string) => {
    const user = byUsername.get(username);
    return { user, me: user !== undefined && user.id === me };
  };
  if (metadata === undefined || metadata === null) {
    const mention = (name: string) => (byUsername.has(name) ? known(name) : null);
    return splitText(message.content ?? "", mention, () => true);
  }
  const mentions = metadata.mentions ?? [];
  const resolved = metadata.mentionedUserIds;
  const tags = new Set(metadata.hashtags ?? []);
  const mention = (name: string) => {
    if (!mentions.includes(name)) return null;
    if (resolved === undefined) {
      // Not committed yet: resolved at the commit (message_confirmed brings the ids).
      return message.seq === null && byUsername.has(name) ? known(name) : null;
    }
    const found = known(name);
    if (found.user !== undefined) return resolved.includes(found.user.id) ? found : null;
    // Someone the client has not met: resolved when every name was (ids follow the names'
    // order, without the unknown ones).
    return resolved.length === mentions.length ? found : null;
  };
  return splitText(message.content ?? "", mention, (tag) => tags.has(tag));
}

/** A lookup by lower-case username, for `messageParts`. */
export function usersByUsername(users: Record<string, User>): Map<string, User> {
  const found = new Map<string, User>();
  for (const user of Object.values(users)) found.set(user.username.toLowerCase(), user);
  return found;
}

/** What is being typed at the caret: `@na` or `#ta` (the rules of `splitText`). */
export interface Trigger {
  kind: "mention" | "hashtag";
  /** Where the `@` or `#` is. */
  start: number;
  /** Where the token ends (the caret, or further when the caret is inside it). */
  end: number;
  /** What follows the `@` or `#` up to the caret. */
  query: string;
}

const MENTION_BEFORE_CARET = new RegExp(`(?<![${W}@])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,31})$`, "u");
const HASHTAG_BEFORE_CARET = new RegExp(`(?<![${W}#&])#([${W}][${W}-]{0,99})$`, "u");
const MENTION_AFTER_CARET = /^[A-Za-z0-9_.-]*/;
const HASHTAG_AFTER_CARET = new RegExp(`^[${W}-]*`, "u");

/** The mention or hashtag being typed at `caret`, if any. */
export function triggerAt(text: string, caret: number): Trigger | null {
  const before = text.slice(0, caret);
  const after = text.slice(caret);
  const mention = MENTION_BEFORE_CARET.exec(before);
  if (mention !== null) {
    const tail = MENTION_AFTER_CARET.exec(after)?.[0] ?? "";
    return { kind: "mention", start: mention.index, end: caret + tail.length, query: mention[1]! };
  }
  const hashtag = HASHTAG_BEFORE_CARET.exec(before);
  if (hashtag !== null) {
    const tail = HASHTAG_AFTER_CARET.exec(after)?.[0] ?? "";
    return { kind: "hashtag", start: hashtag.index, end: caret + tail.length, query: hashtag[1]! };
  }
  return null;
}

/** `text` with the trigger's token replaced by `@value ` or `#value `; the caret after it. */
export function insertAt(
  text: string,
  trigger: Trigger,
  value: string,
): { text: string; caret: number } {
  const sign = trigger.kind === "mention" ? "@" : "#";
  const after = text.slice(trigger.end);
  const space = after.startsWith(" ") ? "" : " ";
  const head = text.slice(0, trigger.start) + sign + value + space;
  return { text: head + after, caret: head.length + (space === "" ? 1 : 0) };
}
