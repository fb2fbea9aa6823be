// Coordination between the tabs of one origin that share a DPoP key (IndexedDB) and a refresh
// cookie. A Web Lock serializes everything that changes the session (login, refresh, logout),
// so one rotation serves every tab; a BroadcastChannel hands the new access token to the other
// tabs, and answers a tab that just opened, instead of each of them rotating again. Where a
// platform lacks one of them it degrades: without Web Locks, concurrent refreshes from several
// tabs reach the gateway, whose reuse window gives them one successor; without a channel, each
// tab refreshes for itself.

/** The Web Lock every tab takes around login, refresh and logout. */
export const REFRESH_LOCK = 'gatehouse-refresh'
/** The BroadcastChannel the tabs talk on; messages carry their gateway's origin. */
export const CHANNEL_NAME = 'gatehouse'

/**
 * @typedef {object} SharedToken
 * @property {string} value
 * @property {string} type
 * @property {string} scope
 * @property {number} expiresAt epoch milliseconds
 * @property {string | null} jkt the key the token is bound to
 */

/**
 * @typedef {{ type: 'token', seq: number, token: SharedToken }
 *   | { type: 'ended', seq: number }
 *   | { type: 'want' }} TabMessage
 */

/**
 * @typedef {object} Tabs
 * @property {<T>(run: () => Promise<T>) => Promise<T>} exclusive runs `run` holding the lock
 * @property {(message: TabMessage) => void} post
 * @property {(accept: () => boolean, ms: number) => Promise<boolean>} settle resolves true as soon
 *   as `accept()` holds after a message was handled, false if it still does not after `ms`
 * @property {() => void} close
 */

/**
 * @param {string} scope the gateway's origin: tabs talking to another gateway ignore the messages
 * @param {(message: TabMessage) => Promise<void>} handle applies a message from another tab
 * @returns {Tabs}
 */
export function createTabs(scope, handle) {
  const locks = /** @type {LockManager | undefined} */ (globalThis.navigator?.locks)
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null
  /** @type {Set<() => void>} */
  const handled = new Set()
  if (channel !== null) {
    channel.onmessage = (event) => {
      const data = event.data
      if (typeof data !== 'object' || data === null || data.scope !== scope) return
      handle(data.message)
        .catch(() => undefined)
        .then(() => {
          for (const notify of handled) notify()
        })
    }
  }
  return {
    // The lock is held until `run` settles, and its promise is what request() resolves to.
    exclusive: (run) => (locks ? /** @type {any} */ (locks.request(REFRESH_LOCK, run)) : run()),
    post: (message) => channel?.postMessage({ scope, message }),
    settle: (accept, ms) =>
      new Promise((resolve) => {
        if (accept() || channel === null) return resolve(accept())
        const finish = (/** @type {boolean} */ ok) => {
          handled.delete(check)
          clearTimeout(timer)
          resolve(ok)
        }
        const check = () => {
          if (accept()) finish(true)
        }
        const timer = setTimeout(() => finish(accept()), ms)
        handled.add(check)
      }),
    close: () => channel?.close(),
  }
}
