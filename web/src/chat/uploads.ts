// Attachments (docs/api.md, "Attachments"). Files dropped, pasted or picked are uploaded at once
// with `POST /attachments` and wait as a tray of chips above their composer until a message
// carries their ids. XMLHttpRequest, not fetch: only it reports upload progress. Downloads
// (`GET /attachments/{id}`) need the bearer token, so they are fetched into blob URLs, cached
// per id while something shows them.
import { ApiError, reportUnauthorized, toApiError } from "../api/client";
import type { Attachment } from "../api/types";
import { getState } from "../store";

/** docs/api.md: up to 10 attachments per message. */
export const MAX_FILES_PER_MESSAGE = 10;
/** The types the server serves `inline` and every browser shows: thumbnails and IMAGE sends. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
/** A blob nobody shows any more is kept this long (the same message coming back on screen). */
const KEEP_UNUSED_MS = 60_000;

export function isImage(mimeType: string): boolean {
  return IMAGE_TYPES.has(mimeType.toLowerCase());
}

/** A message with files is IMAGE when they all are images, else FILE. */
export function messageTypeFor(attachments: Attachment[]): "IMAGE" | "FILE" {
  return attachments.every((attachment) => isImage(attachment.mimeType)) ? "IMAGE" : "FILE";
}

/** "48 KB", "1.2 MB": sizes as people read them (1 KB = 1024 bytes). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// ---- The composers' trays ----

export interface PendingUpload {
  /** This tab's id for it (the server's comes with `attachment`). */
  id: string;
  name: string;
  size: number;
  /** An object URL of the local file, for an image's thumbnail. */
  preview: string | null;
  /** Sent so far, 0 to 1. */
  progress: number;
  state: "uploading" | "done" | "failed";
  attachment: Attachment | null;
  error: string | null;
}

const NONE: PendingUpload[] = [];
const trays = new Map<string, PendingUpload[]>();
const requests = new Map<string, XMLHttpRequest>();
const listeners = new Set<() => void>();
let lastId = 0;

/** The tray of a conversation's composer, or of the composer of one of its threads. */
export function trayKey(conversationId: string, threadId?: string): string {
  return threadId === undefined ? conversationId : `${conversationId}/${threadId}`;
}

/** A tray's files, oldest first (the same array until it changes). */
export function pendingUploads(key: string): PendingUpload[] {
  return trays.get(key) ?? NONE;
}

/** Calls `listener` on every change of any tray; returns the unsubscribe. */
export function subscribeUploads(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function setTray(key: string, uploads: PendingUpload[]): void {
  if (uploads.length === 0) trays.delete(key);
  else trays.set(key, uploads);
  for (const listener of listeners) listener();
}

function patch(key: string, id: string, fields: Partial<PendingUpload>): void {
  const tray = trays.get(key);
  if (tray === undefined || !tray.some((upload) => upload.id === id)) return;
  setTray(
    key,
    tray.map((upload) => (upload.id === id ? { ...upload, ...fields } : upload)),
  );
}

/** Starts uploading `files` for the tray `key` (beyond 10 a file is refused in the tray). */
export function addFiles(key: string, conversationId: string, files: Iterable<File>): void {
  const added: PendingUpload[] = [];
  let room = MAX_FILES_PER_MESSAGE - pendingUploads(key).length;
  for (const file of files) {
    const upload: PendingUpload = {
      id: `upload-${++lastId}`,
      name: file.name || "file",
      size: file.size,
      preview: null,
      progress: 0,
      state: "uploading",
      attachment: null,
      error: null,
    };
    if (room <= 0) {
      added.push({
        ...upload,
        state: "failed",
        error: `Not added: a message carries up to ${MAX_FILES_PER_MESSAGE} files`,
      });
      continue;
    }
    room -= 1;
    if (isImage(file.type)) upload.preview = URL.createObjectURL(file);
    requests.set(upload.id, startUpload(key, upload.id, conversationId, file));
    added.push(upload);
  }
  if (added.length > 0) setTray(key, [...pendingUploads(key), ...added]);
}

function startUpload(
  key: string,
  id: string,
  conversationId: string,
  file: File,
): XMLHttpRequest {
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/attachments");
  xhr.setRequestHeader("Accept", "application/json");
  const token = getState().session?.token;
  if (token !== undefined) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable && event.total > 0) {
      patch(key, id, { progress: event.loaded / event.total });
    }
  };
  xhr.onload = () => {
    requests.delete(id);
    let payload: unknown = null;
    try {
      payload = JSON.parse(xhr.responseText);
    } catch {
      // A body that is not JSON (a proxy's error page): the status says enough.
    }
    if (xhr.status === 201 || xhr.status === 200) {
      patch(key, id, { state: "done", progress: 1, attachment: payload as Attachment });
      return;
    }
    const error = toApiError(xhr.status, payload);
    if (xhr.status === 401) reportUnauthorized(error);
    patch(key, id, { state: "failed", error: uploadErrorText(error) });
  };
  xhr.onerror = () => {
    requests.delete(id);
    patch(key, id, { state: "failed", error: "Not uploaded: the connection failed" });
  };
  const form = new FormData();
  // Before the file: the server checks canUploadFiles there before the file's bytes arrive.
  form.append("conversationId", conversationId);
  form.append("file", file, file.name || "file");
  xhr.send(form);
  return xhr;
}

/** What a refused upload means, in words (docs/api.md, the table of `POST /attachments`). */
export function uploadErrorText(error: ApiError): string {
  const details = error.details;
  switch (error.code) {
    case "FILE_TOO_LARGE":
    case "PAYLOAD_TOO_LARGE": {
      // PAYLOAD_TOO_LARGE's limit is the request's: MAX_FILE_SIZE plus 64 KiB of form framing.
      const framing = error.code === "PAYLOAD_TOO_LARGE" ? 64 * 1024 : 0;
      return typeof details.maxBytes === "number" && details.maxBytes > framing
        ? `Too large: files may be up to ${formatSize(details.maxBytes - framing)}`
        : "Too large for this server";
    }
    case "RATE_LIMITED":
      return typeof details.retryAfterSeconds === "number"
        ? `Too many uploads: try again in ${waitText(details.retryAfterSeconds)}`
        : "Too many uploads: try again later";
    case "PERMISSION_DENIED":
      return details.flag === "canUploadFiles"
        ? "Not allowed: you may not share files in this conversation"
        : `Not allowed: ${error.message}`;
    case "CONVERSATION_NOT_FOUND":
      return "Not uploaded: this conversation is not available";
    case "VALIDATION_ERROR":
      return `Not uploaded: ${error.message}`;
    default:
      return `Not uploaded: ${error.message}`;
  }
}

function waitText(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.round(seconds / 60)} min`;
}

/** Takes a file out of its tray, cancelling its upload if it is still going. */
export function removeUpload(key: string, id: string): void {
  const tray = pendingUploads(key);
  const upload = tray.find((item) => item.id === id);
  if (upload === undefined) return;
  cancel(upload);
  setTray(
    key,
    tray.filter((item) => item.id !== id),
  );
}

function cancel(upload: PendingUpload): void {
  const xhr = requests.get(upload.id);
  requests.delete(upload.id);
  xhr?.abort();
  if (upload.preview !== null) URL.revokeObjectURL(upload.preview);
}

/** The tray's uploaded files, in the order they were added. */
export function readyAttachments(uploads: PendingUpload[]): Attachment[] {
  return uploads.flatMap((upload) => (upload.attachment === null ? [] : [upload.attachment]));
}

/** After a send: its files leave the tray (refused ones stay, to be read and removed). The
 * thumbnails already on this machine become the sent images' views, downloaded from nowhere. */
export function takeSent(key: string, sent: Attachment[]): void {
  const ids = new Set(sent.map((attachment) => attachment.id));
  const tray = pendingUploads(key);
  for (const upload of tray) {
    if (upload.attachment !== null && ids.has(upload.attachment.id) && upload.preview !== null) {
      adopt(upload.attachment.id, upload.preview);
    }
  }
  setTray(
    key,
    tray.filter((upload) => upload.attachment === null || !ids.has(upload.attachment.id)),
  );
}

/** The session ended: uploads stop, trays empty, downloaded files are let go. */
export function forgetUploads(): void {
  for (const tray of trays.values()) tray.forEach(cancel);
  trays.clear();
  for (const cached of blobs.values()) {
    if (cached.drop !== null) clearTimeout(cached.drop);
    if (cached.url !== null) URL.revokeObjectURL(cached.url);
  }
  blobs.clear();
  for (const listener of listeners) listener();
}

// ---- Downloads ----

interface Cached {
  loading: Promise<string>;
  url: string | null;
  users: number;
  drop: ReturnType<typeof setTimeout> | null;
}

const blobs = new Map<string, Cached>();

/** The blob URL of an attachment already downloaded, if any (for a first render). */
export function cachedAttachmentUrl(id: string): string | null {
  return blobs.get(id)?.url ?? null;
}

/** The attachment as a blob URL, downloaded once per id; `releaseAttachment` when it is no
 * longer shown. Rejects with an `ApiError` (404 ATTACHMENT_NOT_FOUND for a file withdrawn). */
export function acquireAttachment(id: string): Promise<string> {
  let cached = blobs.get(id);
  if (cached === undefined) {
    const made: Cached = { loading: Promise.resolve(""), url: null, users: 0, drop: null };
    made.loading = download(id).then(
      (url) => {
        if (blobs.get(id) === made) made.url = url;
        else URL.revokeObjectURL(url);
        return url;
      },
      (error: unknown) => {
        // Not kept: the next look at it asks again.
        if (blobs.get(id) === made) blobs.delete(id);
        throw error;
      },
    );
    blobs.set(id, made);
    cached = made;
  }
  cached.users += 1;
  if (cached.drop !== null) clearTimeout(cached.drop);
  cached.drop = null;
  return cached.loading;
}

export function releaseAttachment(id: string): void {
  const cached = blobs.get(id);
  if (cached === undefined) return;
  cached.users = Math.max(0, cached.users - 1);
  if (cached.users === 0) scheduleDrop(id, cached);
}

function scheduleDrop(id: string, cached: Cached): void {
  if (cached.drop !== null) clearTimeout(cached.drop);
  cached.drop = setTimeout(() => {
    if (blobs.get(id) !== cached || cached.users > 0) return;
    blobs.delete(id);
    if (cached.url !== null) URL.revokeObjectURL(cached.url);
  }, KEEP_UNUSED_MS);
}

function adopt(id: string, url: string): void {
  const existing = blobs.get(id);
  if (existing !== undefined) {
    URL.revokeObjectURL(url);
    return;
  }
  const cached: Cached = { loading: Promise.resolve(url), url, users: 0, drop: null };
  blobs.set(id, cached);
  scheduleDrop(id, cached);
}

async function download(id: string): Promise<string> {
  const headers: Record<string, string> = {};
  const token = getState().session?.token;
  if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(`/attachments/${encodeURIComponent(id)}`, { headers });
  if (!response.ok) {
    const payload: unknown = await response.json().catch(() => null);
    const error = toApiError(response.status, payload);
    if (response.status === 401) reportUnauthorized(error);
    throw error;
  }
  return URL.createObjectURL(await response.blob());
}

/** Saves an attachment as a file: the same authenticated download, handed to the browser. */
export async function saveAttachment(attachment: Attachment): Promise<void> {
  const url = await acquireAttachment(attachment.id);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = attachment.name;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // Let go, not revoked at once: the browser reads the blob after the click.
    releaseAttachment(attachment.id);
  }
}
