// Login throttling in D1, decided before any password hash runs. Three counters per attempt:
// the account from this client network (5 free failures: what stops one attacker), the account
// from everywhere (a far higher ceiling: what bounds a distributed attack), and the client
// network across accounts (password spraying). A network is an IPv4 address or an IPv6 /64 (a
// subscriber gets a whole /64, so a /128 budget would be free to multiply). An attacker on one
// network blocks only that network's attempts on the account, never the owner's from elsewhere,
// and a refused attempt counts nowhere; locking the owner out takes the global ceiling, i.e.
// USER_GLOBAL_FAILURES_ALLOWED guesses from many networks. Past the free attempts each attempt
// blocks its key for a doubling delay (30 s … 15 min); a count starts over only after a quiet
// period longer than the longest block, so a persistent attacker on one network gets at most 13
// guesses in its first hour and 4 an hour after (docs/RUNBOOK.md § Login throttle). Attempts are
// reserved before hashing in one transaction per database, so a concurrent burst gets no more
// than one guess past a limit. Keys hold a hash of the username, not the username. With sharded
// storage the account's counters live on the account's shard and the network's counter on the
// shard of the network's own bucket (one shard would count a sprayed network once per shard).

import { logLine } from '../observability/log'

/**
 * A key's count starts over after this long without a counted attempt. Longer than the longest
 * block, so an attacker who keeps trying never gets a fresh set of free attempts.
 */
const QUIET_SECONDS = 30 * 60
const MAX_BLOCK_SECONDS = 15 * 60
/** The first block after the free attempts; each further attempt doubles it. */
const BASE_BLOCK_SECONDS = 30
/** Free failures of one account from one client network. */
export const USER_FAILURES_ALLOWED = 5
/** Free failures of one account from all networks together. */
export const USER_GLOBAL_FAILURES_ALLOWED = 100
/** Free failures from one client network across all accounts. */
export const IP_FAILURES_ALLOWED = 20
/** IPv6 addresses are counted by their /64: the smallest block one subscriber is given. */
const IPV6_NETWORK_HEXTETS = 4

/** Where the counters live: the account's shard, and the client network's shard. */
export interface ThrottleStores {
  readonly account: D1Database
  readonly network: D1Database
}

export interface ThrottleKeys {
  /** The account, from every network. */
  readonly user: string
  /** The account, from this client network (the account key when the network is unknown). */
  readonly userNetwork: string | null
  /** This client network, across accounts. */
  readonly ip: string | null
}

const encoder = new TextEncoder()

/** The throttle keys of a login attempt. */
export function throttleKeys(
  tenant: string,
  normalizedUsername: string,
  ip: string | null,
): Promise<ThrottleKeys> {
  return keysFor('u', `${tenant}\n${normalizedUsername}`, ip)
}

/**
 * The throttle keys of a second-factor attempt (a TOTP or recovery code, a passkey): the same
 * budgets as passwords, on the account's own factor counters (a password guess does not spend
 * a factor guess), and the client network's counter shared with password attempts.
 */
export function factorThrottleKeys(userId: string, ip: string | null): Promise<ThrottleKeys> {
  return keysFor('f', userId, ip)
}

async function keysFor(kind: 'u' | 'f', account: string, ip: string | null): Promise<ThrottleKeys> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(account))
  const hex = [...new Uint8Array(digest).subarray(0, 16)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  const network = ip === null ? null : clientNetwork(ip)
  return {
    user: `${kind}:${hex}`,
    userNetwork: network === null ? null : `${kind}n:${hex}:${network}`,
    ip: network === null ? null : `ip:${network}`,
  }
}

/** The network an address counts as: IPv4 as is, IPv6 as its /64 (`2001:db8:0:1::/64`). */
export function clientNetwork(ip: string): string {
  if (!ip.includes(':')) return ip
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return mapped[1] as string
  const [head = '', tail] = ip.toLowerCase().split('::', 2)
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros =
    tail === undefined ? [] : Array(Math.max(0, 8 - left.length - right.length)).fill('0')
  const hextets = [...left, ...zeros, ...right].slice(0, IPV6_NETWORK_HEXTETS)
  return `${hextets.map((h) => h.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

type Entry = readonly [key: string, allowed: number]

function accountEntries(keys: ThrottleKeys): Entry[] {
  return keys.userNetwork === null
    ? [[keys.user, USER_FAILURES_ALLOWED]] // no network known: the strict per-account budget
    : [
        [keys.userNetwork, USER_FAILURES_ALLOWED],
        [keys.user, USER_GLOBAL_FAILURES_ALLOWED],
      ]
}

function networkEntries(keys: ThrottleKeys): Entry[] {
  return keys.ip === null ? [] : [[keys.ip, IP_FAILURES_ALLOWED]]
}

/**
 * Reserves one attempt against every key. Returns 0 when the attempt may proceed to the password
 * check, else the seconds until it may be tried again. A refused attempt is counted nowhere (so
 * an attacker blocked on one network cannot run up the account-wide counter): when the account's
 * and the network's counters live on different shards and only one of them refused, the other's
 * reservation is withdrawn.
 */
export async function reserveLoginAttempt(
  stores: ThrottleStores,
  keys: ThrottleKeys,
  now: number,
): Promise<number> {
  const attempt = crypto.randomUUID()
  const account = accountEntries(keys)
  const network = networkEntries(keys)
  if (stores.account === stores.network || network.length === 0) {
    return reserveOn(stores.account, [...account, ...network], now, attempt)
  }
  // The network's counter is kept on the account's shard while its own shard is down: split over
  // shards for the outage, but still counted, and no login fails for another shard's outage.
  let networkStore = stores.network
  const [onAccount, onNetwork] = await Promise.allSettled([
    reserveOn(stores.account, account, now, attempt),
    reserveOn(stores.network, network, now, attempt).catch((err: unknown) => {
      logLine('warn', 'throttle_shard_unavailable', {
        error: err instanceof Error ? err.name : 'unknown',
      })
      networkStore = stores.account
      return reserveOn(stores.account, network, now, attempt)
    }),
  ])
  const counted = (r: PromiseSettledResult<number>) => r.status === 'fulfilled' && r.value === 0
  const refusedOrFailed = !counted(onAccount) || !counted(onNetwork)
  if (refusedOrFailed && counted(onAccount)) await withdraw(stores.account, account, attempt)
  if (refusedOrFailed && counted(onNetwork)) await withdraw(networkStore, network, attempt)
  for (const r of [onAccount, onNetwork]) if (r.status === 'rejected') throw r.reason
  const wait = (r: PromiseSettledResult<number>) => (r.status === 'fulfilled' ? r.value : 0)
  return Math.max(wait(onAccount), wait(onNetwork))
}

/**
 * One database's part of a reservation, in one D1 batch (a transaction, so concurrent logins
 * are serialised): read each key's block; count the attempt on every key, but only when no key
 * is blocked; then block, for the next attempt, each key this attempt took over its limit. So
 * after a block one try is possible, and a burst can never get more than one guess past it.
 */
async function reserveOn(
  db: D1Database,
  entries: readonly Entry[],
  now: number,
  attempt: string,
): Promise<number> {
  const [k1, k2 = null, k3 = null] = entries.map(([key]) => key)
  const reads = entries.map(([key]) =>
    db.prepare('SELECT blocked_until FROM login_throttle WHERE key = ?1').bind(key),
  )
  const counts = entries.map(([key]) =>
    db
      .prepare(
        `INSERT INTO login_throttle (key, failures, window_started_at, blocked_until, last_attempt)
           SELECT ?1, 1, ?2, 0, ?4
            WHERE NOT EXISTS (SELECT 1 FROM login_throttle
                               WHERE key IN (?5, ?6, ?7) AND blocked_until > ?2)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN window_started_at <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
           window_started_at = ?2,
           last_attempt = ?4`,
      )
      .bind(key, now, QUIET_SECONDS, attempt, k1, k2, k3),
  )
  const blocks = entries.map(([key, allowed]) =>
    db
      .prepare(
        `UPDATE login_throttle
            SET blocked_until = ?2 + MIN(?5, ?4 * (1 << MIN(20, failures - ?3 - 1)))
          WHERE key = ?1 AND last_attempt = ?6 AND failures > ?3`,
      )
      .bind(key, now, allowed, BASE_BLOCK_SECONDS, MAX_BLOCK_SECONDS, attempt),
  )
  const results = await db.batch<{ blocked_until: number }>([...reads, ...counts, ...blocks])
  let wait = 0
  for (let i = 0; i < entries.length; i++) {
    const before = results[i]?.results[0]?.blocked_until ?? 0
    if (before > now) wait = Math.max(wait, before - now)
  }
  return wait
}

/**
 * Takes back an attempt's count (and the block it set for the next attempt) from keys no later
 * attempt has counted on since; a key whose last attempt is another one is left alone.
 */
async function withdraw(db: D1Database, entries: readonly Entry[], attempt: string): Promise<void> {
  await db.batch(
    entries.map(([key]) =>
      db
        .prepare(
          `UPDATE login_throttle SET failures = MAX(0, failures - 1), blocked_until = 0
            WHERE key = ?1 AND last_attempt = ?2`,
        )
        .bind(key, attempt),
    ),
  )
}

/**
 * A successful login: the account's counter from this network is cleared; the account-wide and
 * network-wide counters get this attempt's reservation back (one success vouches neither for
 * the other networks' attempts on the account nor for this network's attempts on others).
 */
export async function releaseLoginAttempt(
  stores: ThrottleStores,
  keys: ThrottleKeys,
): Promise<void> {
  const giveBack = (db: D1Database, key: string) =>
    db.prepare('UPDATE login_throttle SET failures = MAX(0, failures - 1) WHERE key = ?1').bind(key)
  const remove = (key: string) =>
    stores.account.prepare('DELETE FROM login_throttle WHERE key = ?1').bind(key)
  const onAccount =
    keys.userNetwork === null
      ? [remove(keys.user)]
      : [remove(keys.userNetwork), giveBack(stores.account, keys.user)]
  const onNetwork = keys.ip === null ? [] : [giveBack(stores.network, keys.ip)]
  if (stores.account === stores.network) {
    await stores.account.batch([...onAccount, ...onNetwork])
    return
  }
  await Promise.all([
    stores.account.batch(onAccount),
    onNetwork.length === 0 ? undefined : stores.network.batch(onNetwork),
  ])
}

/** Deletes counters quiet for longer than QUIET_SECONDS and not blocked (cron). */
export async function pruneThrottle(db: D1Database, now: number): Promise<void> {
  await db
    .prepare('DELETE FROM login_throttle WHERE window_started_at <= ?1 AND blocked_until <= ?2')
    .bind(now - QUIET_SECONDS, now)
    .run()
}

/**
 * A passkey login's first step from a client network (it names no account yet, and stores a
 * challenge): IP_FAILURES_ALLOWED free ceremonies, then blocks as for logins; a ceremony that
 * logs in gives its count back. Returns 0 or the seconds to wait.
 */
export function reserveCeremony(db: D1Database, network: string, now: number): Promise<number> {
  return reserveOn(db, [[ceremonyKey(network), IP_FAILURES_ALLOWED]], now, crypto.randomUUID())
}

/** A passkey login succeeded from this network: one ceremony's count back. */
export async function releaseCeremony(db: D1Database, network: string): Promise<void> {
  await db
    .prepare('UPDATE login_throttle SET failures = MAX(0, failures - 1) WHERE key = ?1')
    .bind(ceremonyKey(network))
    .run()
}

const ceremonyKey = (network: string) => `pk:${network}`
