// What stays in this browser (IndexedDB): each collector credential's private key (the key
// file `edap hpke-keygen` writes) and collector token, and the results collected with
// them. None of it is ever sent to the console.

import { CollectorKeyPair } from '@edap/dap';

const DB_NAME = 'edap-console';
const DB_VERSION = 1;

/** A credential's secrets, by its console ID. */
export interface LocalCredential {
  id: string;
  accountId: string;
  name: string;
  /** The key file (JSON text), as `edap hpke-keygen` writes it. */
  keyFile: string;
  /** The collector's bearer token. */
  token: string;
  savedAt: number;
}

/** One collected batch of a task. */
export interface StoredResult {
  /** `${taskId}/${start}/${duration}` or `${taskId}/batch/${collectedAt}`. */
  key: string;
  taskId: string;
  /** POSIX seconds: the batch's interval as the Leader reports it. */
  start: number;
  duration: number;
  /** The interval asked for (time_interval), for the label. */
  queryStart: number | null;
  queryDuration: number | null;
  reportCount: number;
  /** The aggregate: exact decimal strings. */
  values: string[];
  collectedAt: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('credentials')) db.createObjectStore('credentials', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('results')) {
        const s = db.createObjectStore('results', { keyPath: 'key' });
        s.createIndex('byTask', 'taskId');
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB failed to open'));
  });
}

async function tx<T>(store: string, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(store, mode);
      const r = f(t.objectStore(store));
      t.oncomplete = () => resolve(r.result);
      t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
      t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export const keystore = {
  save: (c: LocalCredential): Promise<IDBValidKey> => tx('credentials', 'readwrite', (s) => s.put(c)),
  get: async (id: string): Promise<LocalCredential | undefined> =>
    (await tx<LocalCredential | undefined>('credentials', 'readonly', (s) => s.get(id) as IDBRequest<LocalCredential | undefined>)) ?? undefined,
  all: (): Promise<LocalCredential[]> => tx<LocalCredential[]>('credentials', 'readonly', (s) => s.getAll() as IDBRequest<LocalCredential[]>),
  remove: (id: string): Promise<undefined> => tx('credentials', 'readwrite', (s) => s.delete(id)),
};

export const results = {
  save: (r: StoredResult): Promise<IDBValidKey> => tx('results', 'readwrite', (s) => s.put(r)),
  forTask: async (taskId: string): Promise<StoredResult[]> => {
    const all = await tx<StoredResult[]>('results', 'readonly', (s) => s.index('byTask').getAll(taskId) as IDBRequest<StoredResult[]>);
    return all.sort((a, b) => a.start - b.start || a.collectedAt - b.collectedAt);
  },
  remove: (key: string): Promise<undefined> => tx('results', 'readwrite', (s) => s.delete(key)),
};

/** base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A new collector token: 32 random bytes, base64url. */
export function newToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** SHA-256 of a token, base64url: what the console and the Leader keep. */
export async function tokenHash(token: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return base64url(new Uint8Array(d));
}

/** Loads a key pair from a stored credential. */
export function keyPairOf(c: LocalCredential): CollectorKeyPair {
  return CollectorKeyPair.fromKeyFile(c.keyFile);
}

/** Offers `text` as a file download. */
export function download(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from a display name. */
export function fileName(name: string, suffix: string): string {
  const base = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'collector';
  return `${base}${suffix}`;
}
