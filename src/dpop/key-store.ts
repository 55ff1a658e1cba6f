import type { DpopKeyStore } from '../auth/binder.js';

/** The browser APIs the IndexedDB key store needs; injectable for tests. */
export interface KeyStoreApis {
  /** Where the key pair is kept (`globalThis.indexedDB`). */
  indexedDB: IDBFactory;
  /** The lock held while the key is created (`navigator.locks`); without it, tabs starting at once may race. */
  locks: Pick<LockManager, 'request'> | undefined;
}

/**
 * The DPoP key pair in IndexedDB (a `CryptoKey` is structured-cloneable: the private key stays non-extractable), so it
 * survives reloads and every tab of one token session signs with the same key. The first tab creates it while holding
 * a Web Lock, so two tabs starting at once cannot each make their own. Use the name of the session's token store.
 * @example createDpop({ store: indexedDbKeyStore('tokens') })
 */
export function indexedDbKeyStore(
  name: string,
  apis: KeyStoreApis = { indexedDB: globalThis.indexedDB, locks: globalThis.navigator?.locks },
): DpopKeyStore {
  const run = <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>) =>
    new Promise<T>((resolve, reject) => {
      const open = apis.indexedDB.open('apifetch-dpop', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('keys');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction('keys', mode);
        const request = op(tx.objectStore('keys'));
        // Resolve on commit, so the next holder of the lock reads the key this one wrote.
        tx.oncomplete = () => {
          db.close();
          resolve(request.result);
        };
        tx.onerror = tx.onabort = () => {
          db.close();
          reject(tx.error);
        };
      };
    });
  const getOrCreate = async (create: () => Promise<CryptoKeyPair>) => {
    const stored = (await run('readonly', (s) => s.get(name))) as CryptoKeyPair | undefined;
    if (stored) return stored;
    const created = await create();
    await run('readwrite', (s) => s.put(created, name));
    return created;
  };
  return {
    getOrCreate: (create) =>
      apis.locks
        ? (apis.locks.request(`apifetch:dpop:${name}`, () => getOrCreate(create)) as Promise<CryptoKeyPair>)
        : getOrCreate(create),
  };
}
