// A message's files (docs/api.md, Attachments: "In messages"): images as thumbnails in a box
// of the size the server read from the image (nothing moves when it arrives), opened full size
// in a dialog; other files as a row that downloads them. Both are fetched with the token into
// blob URLs (chat/uploads.ts caches them per id).
import { useEffect, useState } from "preact/hooks";
import type { Attachment } from "../api/types";
import {
  acquireAttachment,
  cachedAttachmentUrl,
  formatSize,
  isImage,
  releaseAttachment,
  saveAttachment,
} from "../chat";
import { Dialog } from "./Dialog";

/** The largest side of a thumbnail, in CSS pixels (narrower on a phone: max-width). */
const THUMBNAIL_PX = 240;

export function MessageAttachments({ attachments }: { attachments: Attachment[] }) {
  return (
    <ul class="attachments">
      {attachments.map((attachment) => (
        <li key={attachment.id}>
          {isImage(attachment.mimeType) ? (
            <AttachmentImage attachment={attachment} />
          ) : (
            <AttachmentFile attachment={attachment} />
          )}
        </li>
      ))}
    </ul>
  );
}

/** The attachment's blob URL while the component shows it; `failed` when it cannot be had. */
function useAttachmentUrl(id: string): { url: string | null; failed: boolean } {
  const [url, setUrl] = useState<string | null>(() => cachedAttachmentUrl(id));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    setFailed(false);
    acquireAttachment(id).then(
      (loaded) => {
        if (live) setUrl(loaded);
      },
      () => {
        if (live) setFailed(true);
      },
    );
    return () => {
      live = false;
      releaseAttachment(id);
    };
  }, [id]);
  return { url, failed };
}

/** The thumbnail's box: the image's proportions, at most THUMBNAIL_PX a side. Set through
 * the style object (CSSOM), which the page's CSP allows, unlike a style attribute. */
function thumbnailBox({ width, height }: Attachment): Record<string, string> {
  if (!width || !height) return { width: "12rem", aspectRatio: "4 / 3" };
  const scale = Math.min(1, THUMBNAIL_PX / width, THUMBNAIL_PX / height);
  return {
    width: `${Math.max(1, Math.round(width * scale))}px`,
    aspectRatio: `${width} / ${height}`,
  };
}

function AttachmentImage({ attachment }: { attachment: Attachment }) {
  const { url, failed } = useAttachmentUrl(attachment.id);
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        class="attachment-image"
        style={thumbnailBox(attachment)}
        aria-label={`Open image ${attachment.name}`}
        title={`${attachment.name} (${formatSize(attachment.size)})`}
        disabled={url === null}
        onClick={() => setOpen(true)}
      >
        {url !== null ? (
          <img src={url} alt={attachment.name} />
        ) : (
          <span class="attachment-placeholder">{failed ? "Image not available" : "Loading…"}</span>
        )}
      </button>
      {open && url !== null && (
        <ImageDialog attachment={attachment} url={url} onClose={() => setOpen(false)} />
      )}
    </>
  );
}

function AttachmentFile({ attachment }: { attachment: Attachment }) {
  const [state, setState] = useState<"idle" | "saving" | "failed">("idle");
  return (
    <button
      type="button"
      class="attachment-file"
      aria-label={`Download ${attachment.name}, ${formatSize(attachment.size)}`}
      disabled={state === "saving"}
      onClick={() => {
        setState("saving");
        saveAttachment(attachment).then(
          () => setState("idle"),
          () => setState("failed"),
        );
      }}
    >
      <FileIcon />
      <span class="attachment-name">{attachment.name}</span>
      <span class="attachment-size">
        {state === "failed" ? "Not available" : formatSize(attachment.size)}
      </span>
    </button>
  );
}

/** A sheet with a folded corner (drawn: not every system has an emoji font). */
export function FileIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z M14 3v5h5" />
    </svg>
  );
}

/** A paper clip. */
export function ClipIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path
        transform="rotate(45 12 12)"
        d="M9.5 8v8a2.5 2.5 0 0 0 5 0V5.5a4 4 0 0 0-8 0V16a5.5 5.5 0 0 0 11 0V8"
      />
    </svg>
  );
}

interface DialogProps {
  attachment: Attachment;
  url: string;
  onClose: () => void;
}

/** The full image in a modal dialog (Dialog's: Escape or Close closes it, focus goes back). */
function ImageDialog({ attachment, url, onClose }: DialogProps) {
  return (
    <Dialog title={attachment.name} onClose={onClose} class="image-dialog">
      <img class="attachment-full" src={url} alt={attachment.name} />
      <p class="image-dialog-actions">
        <span>{formatSize(attachment.size)}</span>
        <button type="button" onClick={() => saveAttachment(attachment).catch(() => undefined)}>
          Download
        </button>
      </p>
    </Dialog>
  );
}
