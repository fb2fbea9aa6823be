// Where the DPoP key pair lives. In a browser: IndexedDB, which keeps CryptoKey objects by
// structured clone, so the non-extractable private key survives a reload without ever being
// exported, and every tab of the origin signs with the same key. Elsewhere (Node, or on
// request): memory, gone with the process. The IndexedDB store also keeps a small non-secret
// marker per gateway — is there a session, and how many times did its tokens change — that
// tabs read under the refresh lock (tabs.js); no token is ever written to storage.

const DB_NAME = 'gatehouse'
const DB_VERSION = 1
const STORE = 'client'

/**
 * @typedef {object} KeyStore
 * @property {() => Promise<CryptoKeyPair | null>} load
 * @property {(pair: CryptoKeyPair) => Promise<void>} save replaces any stored pair
 * @property {() => Promise<void>} clear
 */

/**
 * @typedef {object} SessionMarker
 * @property {boolean} active whether this browser holds a session with the gateway
 * @property {number} seq bumped whenever the session's tokens change (login, rotation, end)
 */

/**
 * @typedef {KeyStore & {
 *   readMarker(): Promise<SessionMarker>,
 *   bumpMarker(active: boolean): Promise<SessionMarker>,
 * }} SharedKeyStore
 */

/**
 * The store a client uses: the one it was given, else IndexedDB for a browser client where it
 * exists, else memory.
 * @param {'indexeddb' | 'memory' | KeyStore | undefined} choice
 * @param {'web' | 'mobile'} kind
 * @param {string} scope the gateway's origin
 * @returns {KeyStore | SharedKeyStore}
 */
export function chooseKeyStore(choice, kind, scope) {
  if (typeof choice === 'object') return choice
  const idb = typeof indexedDB !== 'undefined'
  if (choice === 'indexeddb' && !idb) throw new TypeError('gatehouse: no IndexedDB here')
  const useIdb = choice === 'indexeddb' || (choice === undefined && kind === 'web' && idb)
  return useIdb ? indexedDbKeyStore(scope) : memoryKeyStore()
}

/**
 * Whether tabs share this store (and its session marker).
 * @param {KeyStore | SharedKeyStore} store
 * @returns {store is SharedKeyStore}
 */
export const isShared = (store) => 'bumpMarker' in store && 'readMarker' in store

/**
 * A mobile client's refresh token in memory: gone with the process.
 * @returns {import('./index.js').RefreshTokenStorage}
 */
export function memoryTokenStorage() {
  /** @type {string | null} */
  let value = null
  return {
    get: () => value,
    set: (token) => {
      value = token
    },
    delete: () => {
      value = null
    },
  }
}

/** @returns {KeyStore} */
function memoryKeyStore() {
  /** @type {CryptoKeyPair | null} */
  let stored = null
  return {
    load: async () => stored,
    save: async (pair) => {
      stored = pair
    },
    clear: async () => {
      stored = null
    },
  }
}

/** @returns {Promise<IDBDatabase>} */
function openDatabase() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, DB_VERSION)
    open.onupgradeneeded = () => open.result.createObjectStore(STORE)
    open.onsuccess = () => resolve(open.result)
    open.onerror = () => reject(open.error)
    open.onblocked = () => reject(new Error('gatehouse: IndexedDB upgrade blocked'))
  })
}

/**
 * The IndexedDB store for one gateway (`scope`: its origin). Each operation is one transaction,
 * so a read-modify-write of the marker is atomic across tabs.
 * @param {string} scope
 * @returns {SharedKeyStore}
 */
function indexedDbKeyStore(scope) {
  const keyName = `dpop-key ${scope}`
  const markerName = `session ${scope}`
  /** @type {Promise<IDBDatabase> | null} */
  let database = null

  /**
   * Runs `body` in one transaction; resolves with what it passed to `done` once committed.
   * @template T
   * @param {IDBTransactionMode} mode
   * @param {(store: IDBObjectStore, done: (value: T) => void) => void} body
   * @returns {Promise<T>}
   */
  async function transact(mode, body) {
    database ??= openDatabase().catch((err) => {
      database = null
      throw err
    })
    const db = await database
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      /** @type {T} */
      let result
      tx.oncomplete = () => resolve(result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error ?? new Error('gatehouse: IndexedDB transaction aborted'))
      body(tx.objectStore(STORE), (value) => {
        result = value
      })
    })
  }

  /** @param {unknown} value @returns {SessionMarker} */
  const marker = (value) => {
    const m = /** @type {Partial<SessionMarker> | undefined} */ (value)
    return { active: m?.active === true, seq: typeof m?.seq === 'number' ? m.seq : 0 }
  }

  return {
    load: () =>
      transact('readonly', (store, done) => {
        const got = store.get(keyName)
        got.onsuccess = () => done(got.result ?? null)
      }),
    save: (pair) =>
      transact('readwrite', (store, done) => {
        store.put(pair, keyName)
        done(undefined)
      }),
    clear: () =>
      transact('readwrite', (store, done) => {
        store.delete(keyName)
        done(undefined)
      }),
    readMarker: () =>
      transact('readonly', (store, done) => {
        const got = store.get(markerName)
        got.onsuccess = () => done(marker(got.result))
      }),
    bumpMarker: (active) =>
      transact('readwrite', (store, done) => {
        const got = store.get(markerName)
        got.onsuccess = () => {
          const next = { active, seq: marker(got.result).seq + 1 }
          store.put(next, markerName)
          done(next)
        }
      }),
  }
}
