// Files on their way into a message: the composer's tray of chips (name, size, progress,
// thumbnail, remove), its Attach button, pasting files into it, and dropping files onto the
// conversation. The uploads themselves are chat/uploads.ts.
import type { JSX } from "preact";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import type { Attachment } from "../api/types";
import {
  addFiles,
  formatSize,
  pendingUploads,
  readyAttachments,
  removeUpload,
  subscribeUploads,
  takeSent,
  trayKey,
  type PendingUpload,
} from "../chat";
import { ClipIcon, FileIcon } from "./Attachments";

export interface ComposerUploads {
  key: string;
  uploads: PendingUpload[];
  /** Uploaded, ready to be sent. */
  attachments: Attachment[];
  /** An upload is still running: sending waits for it. */
  busy: boolean;
  add: (files: Iterable<File>) => void;
  /** The composer's paste handler: files on the clipboard go into the tray. */
  onPaste: (event: JSX.TargetedClipboardEvent<HTMLElement>) => void;
  /** The message went out with `attachments`: they leave the tray. */
  sent: (attachments: Attachment[]) => void;
}

/** A composer's tray (the conversation's, or a thread's), re-rendered as uploads move. */
export function useComposerUploads(conversationId: string, threadId?: string): ComposerUploads {
  const key = trayKey(conversationId, threadId);
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  const uploads = pendingUploads(key);
  const shown = useRef(uploads);
  shown.current = uploads;
  useEffect(() => {
    const listener = () => {
      if (pendingUploads(key) !== shown.current) rerender(undefined);
    };
    const unsubscribe = subscribeUploads(listener);
    listener(); // a change between the render and this effect (after the paint) told no one
    return unsubscribe;
  }, [key]);
  return {
    key,
    uploads,
    attachments: readyAttachments(uploads),
    busy: uploads.some((upload) => upload.state === "uploading"),
    add: (files) => addFiles(key, conversationId, files),
    onPaste: (event) => {
      const files = Array.from(event.clipboardData?.files ?? []);
      if (files.length === 0) return;
      // The files win over the text beside them (a file manager puts its name there too).
      event.preventDefault();
      addFiles(key, conversationId, files);
    },
    sent: (attachments) => takeSent(key, attachments),
  };
}

/** The chips above the composer; nothing when the tray is empty. */
export function UploadTray({ tray }: { tray: ComposerUploads }) {
  if (tray.uploads.length === 0) return null;
  return (
    <ul class="upload-tray" aria-label="Files to send">
      {tray.uploads.map((upload) => (
        <li key={upload.id} class={`upload-chip ${upload.state}`}>
          {upload.preview !== null ? (
            <img class="upload-thumbnail" src={upload.preview} alt="" />
          ) : (
            <span class="upload-thumbnail upload-icon">
              <FileIcon />
            </span>
          )}
          <span class="upload-text">
            <span class="upload-name" title={upload.name}>
              {upload.name}
            </span>
            <span class="upload-size">{formatSize(upload.size)}</span>
            {upload.state === "uploading" && (
              <progress
                max={100}
                value={Math.round(upload.progress * 100)}
                aria-label={`Uploading ${upload.name}`}
              />
            )}
            {upload.state === "failed" && (
              <span class="upload-error" role="alert">
                {upload.error}
              </span>
            )}
          </span>
          <button
            type="button"
            class="upload-remove"
            aria-label={`${upload.state === "uploading" ? "Cancel" : "Remove"} ${upload.name}`}
            title={upload.state === "uploading" ? "Cancel the upload" : "Remove"}
            onClick={() => removeUpload(tray.key, upload.id)}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

/** A button that opens the file picker (the input itself stays hidden). */
export function AttachButton({ onFiles }: { onFiles: (files: File[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        onChange={(event) => {
          const files = Array.from(event.currentTarget.files ?? []);
          // Emptied, so that picking the same file again is a change too.
          event.currentTarget.value = "";
          if (files.length > 0) onFiles(files);
        }}
      />
      <button
        type="button"
        class="attach"
        aria-label="Attach files"
        title="Attach files (or drop them here, or paste them)"
        onClick={() => input.current?.click()}
      >
        <ClipIcon />
      </button>
    </>
  );
}

/**
 * Files dragged over its parent element show a drop zone over it; dropped there, they go to
 * `onFiles`. Render it inside the element that takes the drop (positioned: it covers it).
 */
export function FileDrop({ onFiles }: { onFiles: (files: File[]) => void }) {
  const zone = useRef<HTMLDivElement>(null);
  const latest = useRef(onFiles);
  latest.current = onFiles;
  const [over, setOver] = useState(false);

  useEffect(() => {
    const target = zone.current?.parentElement;
    if (target === null || target === undefined) return;
    // dragenter/dragleave fire for every child crossed: count them.
    let depth = 0;
    // Handled here only: a drop zone inside another (the thread panel's) keeps its drops.
    const carriesFiles = (event: DragEvent) => {
      const files =
        event.dataTransfer !== null && Array.from(event.dataTransfer.types).includes("Files");
      if (files) event.stopPropagation();
      return files;
    };
    const enter = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      setOver(true);
    };
    const overIt = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      if (event.dataTransfer !== null) event.dataTransfer.dropEffect = "copy";
    };
    const leave = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const drop = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      setOver(false);
      const files = Array.from(event.dataTransfer?.files ?? []);
      if (files.length > 0) latest.current(files);
    };
    // Files dropped beside the zone: ignored, not opened by the browser in place of the app.
    const missed = (event: DragEvent) => {
      if (event.dataTransfer !== null && Array.from(event.dataTransfer.types).includes("Files")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "none";
      }
    };
    target.addEventListener("dragenter", enter);
    target.addEventListener("dragover", overIt);
    target.addEventListener("dragleave", leave);
    target.addEventListener("drop", drop);
    window.addEventListener("dragover", missed);
    window.addEventListener("drop", missed);
    return () => {
      target.removeEventListener("dragenter", enter);
      target.removeEventListener("dragover", overIt);
      target.removeEventListener("dragleave", leave);
      target.removeEventListener("drop", drop);
      window.removeEventListener("dragover", missed);
      window.removeEventListener("drop", missed);
    };
  }, []);

  return (
    <div ref={zone} class="drop-zone" hidden={!over}>
      <p>Drop files to attach them</p>
    </div>
  );
}
