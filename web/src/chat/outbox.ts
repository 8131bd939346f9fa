// The outbox kept in IndexedDB (docs/api.md, "Client rules for healing"): every send not yet
// confirmed, so that a reload or a network drop loses none. One database per signed-in user,
// so that a shared browser never shows one person's unsent messages to another.
import type { Attachment } from "../api/types";

/** One unconfirmed send, as stored. */
export interface OutboxEntry {
  clientMessageId: string;
  conversationId: string;
  content: string;
  threadId: string | null;
  clientTimestamp: string;
  /** Send order across the outbox (resends keep it). */
  order: number;
  /** Refused for good: shown failed with Retry until the user retries or discards it. */
  failed: string | null;
  /** The uploaded files it carries (their ids are sent) and the type they make it. Entries
   * stored before attachments existed have neither. */
  attachments?: Attachment[];
  type?: "IMAGE" | "FILE";
}

const STORE = "entries";

function databaseName(userId: string): string {
  return `parley-outbox:${userId}`;
}

function request<T>(made: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    made.onsuccess = () => resolve(made.result);
    made.onerror = () => reject(made.error);
  });
}

const opened = new Map<string, Promise<IDBDatabase>>();

function open(userId: string): Promise<IDBDatabase> {
  let database = opened.get(userId);
  if (database === undefined) {
    const made = indexedDB.open(databaseName(userId), 1);
    made.onupgradeneeded = () => {
      made.result.createObjectStore(STORE, { keyPath: "clientMessageId" });
    };
    database = request(made);
    opened.set(userId, database);
  }
  return database;
}

async function write(userId: string, change: (store: IDBObjectStore) => void): Promise<void> {
  const transaction = (await open(userId)).transaction(STORE, "readwrite");
  change(transaction.objectStore(STORE));
  await new Promise<void>((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** The user's stored entries, in send order. */
export async function loadEntries(userId: string): Promise<OutboxEntry[]> {
  const transaction = (await open(userId)).transaction(STORE, "readonly");
  const entries = await request(transaction.objectStore(STORE).getAll());
  return (entries as OutboxEntry[]).sort((a, b) => a.order - b.order);
}

/** Stores (or replaces) an entry; resolves once it is written. */
export function putEntry(userId: string, entry: OutboxEntry): Promise<void> {
  return write(userId, (store) => store.put(entry));
}

export function deleteEntry(userId: string, clientMessageId: string): Promise<void> {
  return write(userId, (store) => store.delete(clientMessageId));
}

/** Forgets the user's outbox (logging out on this browser). */
export async function clearOutbox(userId: string): Promise<void> {
  const database = opened.get(userId);
  opened.delete(userId);
  (await database)?.close();
  await request(indexedDB.deleteDatabase(databaseName(userId)));
}
