import { useMemo } from "preact/hooks";
import type { LinkPreview, MessageWithMetadata, User } from "../api/types";
import { requestSearch } from "../chat/search";
import { messageParts, usersByUsername } from "../chat/richText";
import type { ChatMessage } from "../store";

interface Props {
  message: ChatMessage;
  me: string | undefined;
  users: Record<string, User>;
}

// One lookup per users object (it is replaced when anyone's profile or presence changes).
let lookup: { users: Record<string, User>; byUsername: Map<string, User> } | null = null;
function byUsernameOf(users: Record<string, User>): Map<string, User> {
  if (lookup?.users !== users) lookup = { users, byUsername: usersByUsername(users) };
  return lookup.byUsername;
}

/** A message's text with its links, mentions and hashtags: every part a text node or an
 * element made here, never the text as HTML. Links open in a new tab (http and https only,
 * by the rules that find them); a hashtag searches for its messages. */
export function MessageText({ message, me, users }: Props) {
  const parts = useMemo(
    () => messageParts(message as MessageWithMetadata, byUsernameOf(users), me),
    [message, users, me],
  );
  return (
    <>
      {parts.map((part, index) => {
        switch (part.kind) {
          case "text":
            return part.text;
          case "link":
            return (
              <a key={index} href={part.href} target="_blank" rel="noopener noreferrer">
                {part.text}
              </a>
            );
          case "mention":
            // A mention of the reader stands out (a mark: it is why they should look).
            return part.me ? (
              <mark key={index} class="mention mention-me" title="Mentions you">
                {part.text}
              </mark>
            ) : (
              <span key={index} class="mention" title={part.user?.displayName}>
                {part.text}
              </span>
            );
          case "hashtag":
            return (
              <button
                key={index}
                type="button"
                class="hashtag"
                title={`Search ${part.text}`}
                onClick={() => requestSearch("#" + part.tag)}
              >
                {part.text}
              </button>
            );
        }
      })}
    </>
  );
}

const SAFE_LINK = /^https?:\/\//i;

/**
 * The link previews the server found (`metadata.urlPreviews`, docs/api.md "Link previews"),
 * as text cards: site, title (the link), description.
 *
 * `imageUrl` is not shown, on purpose: loading it would make the reader's browser ask a
 * third-party site, telling it the reader's IP address and that the link was seen (a
 * tracking pixel in all but name), and the client's Content-Security-Policy (`img-src 'self'
 * data: blob:`, parley/web/routes.py) refuses remote images anyway. Showing images would
 * need the server to fetch and serve them itself (a media proxy), which it does not.
 */
export function LinkPreviews({ message }: { message: ChatMessage }) {
  const previews = (message as MessageWithMetadata).metadata?.urlPreviews ?? [];
  const shown = previews.filter((preview) => SAFE_LINK.test(preview.url));
  if (shown.length === 0) return null;
  return (
    <div class="link-previews">
      {shown.map((preview) => (
        <PreviewCard key={preview.url} preview={preview} />
      ))}
    </div>
  );
}

function PreviewCard({ preview }: { preview: LinkPreview }) {
  const title = preview.title ?? preview.url;
  return (
    <div class="link-preview">
      {preview.siteName !== null && <span class="link-preview-site">{preview.siteName}</span>}
      <a class="link-preview-title" href={preview.url} target="_blank" rel="noopener noreferrer">
        {title}
      </a>
      {preview.description !== null && (
        <p class="link-preview-description">{preview.description}</p>
      )}
    </div>
  );
}
