// The login throttle against a persistent attacker (security round 2, M5), on the real local D1
// with a simulated clock: 1 000 guesses an hour at one account from one network neither keep the
// owner (on another network) out nor get more than the documented number of guesses; rotating
// addresses inside one IPv6 /64 buys nothing.

import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  IP_FAILURES_ALLOWED,
  USER_FAILURES_ALLOWED,
  clientNetwork,
  releaseLoginAttempt,
  reserveLoginAttempt,
  throttleKeys,
} from '../../src/accounts/login-throttle'
import { brokenDb } from '../helpers/shards'

const HOUR_SECONDS = 3600
/** One shard for every counter, and the sharded layout: the account's and the network's apart. */
const oneShard = { account: env.SESSIONS_0, network: env.SESSIONS_0 }
const twoShards = { account: env.SESSIONS_0, network: env.SESSIONS_1 }
/** The documented bound per network (src/accounts/login-throttle.ts, docs/RUNBOOK.md). */
const FIRST_HOUR_GUESSES = 13
const LATER_HOUR_GUESSES = 4

function attackerAddress(i: number): string {
  // A fresh /128 each time, all inside 2001:db8:a77:1::/64.
  return `2001:db8:a77:1:${(i % 65536).toString(16)}:${((i * 7) % 65536).toString(16)}::9`
}

describe('login throttle under a persistent single-network attack', () => {
  it('lets 1 000 guesses an hour through only as documented, and never keeps the owner out', async () => {
    const username = `owner-${crypto.randomUUID()}`
    const start = 2_000_000_000
    let allowed = [0, 0, 0]
    for (let i = 0; i < 3000; i++) {
      const now = start + Math.floor(i * 3.6) // 1 000 an hour, for three hours
      const keys = await throttleKeys('acme', username, attackerAddress(i))
      if ((await reserveLoginAttempt(twoShards, keys, now)) === 0) {
        allowed[Math.floor((now - start) / HOUR_SECONDS)]!++
      }
      if (i % 500 === 0) {
        // The owner, from home, every ~30 minutes: always let through to the password check.
        const owner = await throttleKeys('acme', username, '198.51.100.7')
        expect(await reserveLoginAttempt(twoShards, owner, now)).toBe(0)
        await releaseLoginAttempt(twoShards, owner) // the right password
      }
    }
    expect(allowed[0]).toBeGreaterThanOrEqual(USER_FAILURES_ALLOWED)
    expect(allowed[0]).toBeLessThanOrEqual(FIRST_HOUR_GUESSES)
    expect(allowed[1]).toBeLessThanOrEqual(LATER_HOUR_GUESSES)
    expect(allowed[2]).toBeLessThanOrEqual(LATER_HOUR_GUESSES)
    allowed = []
  }, 120_000) // 3 000 attempts, two D1 batches each (two shards): ~7 s alone, far more at load 10

  it('counts an IPv6 client by its /64 and an IPv4 client by its address', () => {
    expect(clientNetwork('2001:db8:a77:1:dead:beef::9')).toBe('2001:db8:a77:1::/64')
    expect(clientNetwork('2001:DB8:A77:1::')).toBe('2001:db8:a77:1::/64')
    expect(clientNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(clientNetwork('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(clientNetwork('192.0.2.1')).toBe('192.0.2.1')
  })

  it('gives an account with an unknown client network 5 free failures, not the global 100', async () => {
    const keys = await throttleKeys('acme', `no-address-${crypto.randomUUID()}`, null)
    const now = 2_100_000_000
    for (let i = 0; i < USER_FAILURES_ALLOWED; i++) {
      expect(await reserveLoginAttempt(oneShard, keys, now + i)).toBe(0)
    }
    // The attempt that took the account over its limit blocks the next one.
    expect(await reserveLoginAttempt(oneShard, keys, now + USER_FAILURES_ALLOWED)).toBe(0)
    expect(
      await reserveLoginAttempt(oneShard, keys, now + USER_FAILURES_ALLOWED + 1),
    ).toBeGreaterThan(0)
  })
})

describe('login throttle with the account and the network on different shards', () => {
  async function failures(db: D1Database, key: string): Promise<number | null> {
    const row = await db
      .prepare('SELECT failures FROM login_throttle WHERE key = ?1')
      .bind(key)
      .first<{ failures: number }>()
    return row?.failures ?? null
  }

  it('counts an attempt the network refuses on no account counter', async () => {
    const ip = `2001:db8:${crypto.randomUUID().slice(0, 4)}:77::1`
    const now = 2_200_000_000
    // Spraying: one guess at each of IP_FAILURES_ALLOWED + 1 accounts takes the network over.
    for (let i = 0; i <= IP_FAILURES_ALLOWED; i++) {
      const keys = await throttleKeys('acme', `spray-${i}-${crypto.randomUUID()}`, ip)
      expect(await reserveLoginAttempt(twoShards, keys, now)).toBe(0)
    }
    const next = await throttleKeys('acme', `spray-next-${crypto.randomUUID()}`, ip)
    expect(await reserveLoginAttempt(twoShards, next, now + 1)).toBeGreaterThan(0)
    // Refused by the network's shard: the account's shard kept nothing of it.
    expect(await failures(env.SESSIONS_0, next.user)).toBe(0)
    expect(await failures(env.SESSIONS_0, next.userNetwork as string)).toBe(0)
  })

  it('counts an attempt the account refuses on no network counter', async () => {
    const username = `locked-${crypto.randomUUID()}`
    const ip = `2001:db8:${crypto.randomUUID().slice(0, 4)}:78::1`
    const now = 2_300_000_000
    const keys = await throttleKeys('acme', username, ip)
    for (let i = 0; i <= USER_FAILURES_ALLOWED; i++) {
      expect(await reserveLoginAttempt(twoShards, keys, now + i)).toBe(0)
    }
    const before = await failures(env.SESSIONS_1, keys.ip as string)
    expect(await reserveLoginAttempt(twoShards, keys, now + 10)).toBeGreaterThan(0)
    expect(await failures(env.SESSIONS_1, keys.ip as string)).toBe(before)
  })

  it('keeps counting the network on the account’s shard while the network’s shard is down', async () => {
    const down = { account: env.SESSIONS_0, network: brokenDb('prepare', env.SESSIONS_1) }
    const keys = await throttleKeys('acme', `outage-${crypto.randomUUID()}`, '192.0.2.200')
    const now = 2_400_000_000
    expect(await reserveLoginAttempt(down, keys, now)).toBe(0)
    expect(await failures(env.SESSIONS_0, keys.ip as string)).toBeGreaterThan(0)
  })
})
