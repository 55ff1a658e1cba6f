import type { Coordination, CoordinationMessage, SharedState } from './coordination.js';
import type { TokenSet } from './tokens.js';

/** The browser APIs cross-tab coordination needs; injectable for tests. */
export interface TabApis {
  locks: Pick<LockManager, 'request'> | undefined;
  BroadcastChannel: (new (name: string) => BroadcastChannel) | undefined;
  indexedDB: IDBFactory | undefined;
}

export const browserTabApis = (): TabApis => ({
  locks: (globalThis.navigator as Navigator | undefined)?.locks,
  BroadcastChannel: globalThis.BroadcastChannel,
  indexedDB: globalThis.indexedDB,
});

/** Which of the APIs are missing (empty when tabs can coordinate). */
export function missingTabApis(apis: TabApis): string[] {
  const missing: string[] = [];
  if (!apis.locks) missing.push('navigator.locks');
  if (!apis.BroadcastChannel) missing.push('BroadcastChannel');
  if (!apis.indexedDB) missing.push('indexedDB');
  return missing;
}

/**
 * Shared state in IndexedDB. localStorage is not consistent with Web Locks (each renderer caches it and other
 * tabs' writes arrive late), so a tab just granted the lock could read a refresh token its predecessor already
 * spent; IndexedDB reads go through the browser process and see the previous holder's committed write.
 */
export function indexedDbState(factory: IDBFactory, key: string): SharedState {
  let db: Promise<IDBDatabase> | undefined;
  const open = () => {
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('apifetch', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('tokens');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return db;
  };
  const run = async <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>) => {
    const database = await open();
    return new Promise<T>((resolve, reject) => {
      const tx = database.transaction('tokens', mode);
      const request = op(tx.objectStore('tokens'));
      // Resolve on commit, not on the request: the next lock holder must see the write.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    read: async () => ((await run('readonly', (s) => s.get(key))) as { tokens?: TokenSet | null } | undefined)?.tokens,
    write: async (tokens) => {
      await run('readwrite', (s) => s.put({ tokens }, key));
    },
  };
}

/**
 * Coordination of the browser tabs of one origin that share the tokens named `key` (use the key of the
 * `storageTokenStore`): Web Locks, the state in IndexedDB, BroadcastChannel messages. Where one of them is missing
 * (old browsers, Node) it coordinates nothing beyond the tab, never polls storage as a lock, and the session reports
 * the `coordination:fallback` event.
 * @example createTokenSession({ store: storageTokenStore(localStorage, 'tokens'), coordination: tabCoordination('tokens'), refresh })
 */
export function tabCoordination(key: string): Coordination {
  return tabCoordinationWith(key, browserTabApis());
}

/** `tabCoordination` over the given APIs (injectable for tests). */
export function tabCoordinationWith(key: string, apis: TabApis): Coordination {
  const missing = missingTabApis(apis);
  if (missing.length > 0) return { lock: (fn) => fn(), post() {}, listen() {}, missing };
  return createCoordinator(key, apis);
}

/** A coordination over Web Locks, BroadcastChannel and IndexedDB for the store named `key`. */
export function createCoordinator(key: string, apis: TabApis, state?: SharedState): Coordination {
  const { locks, BroadcastChannel: Channel, indexedDB } = apis;
  if (!locks || !Channel || (!indexedDB && !state)) throw new TypeError('cross-tab APIs missing');
  const channel = new Channel(`apifetch:${key}`);
  const lockName = `apifetch:refresh:${key}`;
  return {
    lock: (fn, signal) => locks.request(lockName, { signal }, fn) as Promise<Awaited<ReturnType<typeof fn>>>,
    state: state ?? indexedDbState(indexedDB as IDBFactory, key),
    post: (message) => channel.postMessage(message),
    listen: (listener) => {
      channel.onmessage = (event: MessageEvent<CoordinationMessage>) => listener(event.data);
    },
  };
}
