import { describe, expect, it } from 'vitest'
import type { VerifiedToken } from '../../../src/verify/verify-token'
import {
  TOKEN_CACHE_MAX_ENTRIES,
  VerifiedTokenCache,
} from '../../../src/verify/verified-token-cache'

const NOW = 1_700_000_000
const SKEW = 60

/** Only what the cache reads (expiresAt) matters; the rest identifies the entry. */
function entry(subject: string, expiresAt = NOW + 300): VerifiedToken {
  return { subject, expiresAt } as VerifiedToken
}

const held = (): boolean => true
const lookup = (cache: VerifiedTokenCache, token: string) => cache.get(token, NOW, SKEW, held)

describe('VerifiedTokenCache', () => {
  it('answers a cached verification for the exact token only', () => {
    const cache = new VerifiedTokenCache()
    const a = entry('a')
    cache.set('token-a', a)
    expect(lookup(cache, 'token-a')).toBe(a)
    expect(lookup(cache, 'token-b')).toBeNull()
  })

  it('drops an entry whose exp (with skew) has passed', () => {
    const cache = new VerifiedTokenCache()
    cache.set('token-a', entry('a', NOW - SKEW))
    expect(lookup(cache, 'token-a')).toBeNull()
    // Dropped, not just hidden: a later clock that would accept it finds nothing.
    expect(cache.get('token-a', NOW - 2 * SKEW, SKEW, held)).toBeNull()
  })

  it('drops an entry whose key is no longer held', () => {
    const cache = new VerifiedTokenCache()
    cache.set('token-a', entry('a'))
    expect(cache.get('token-a', NOW, SKEW, () => false)).toBeNull()
    expect(lookup(cache, 'token-a')).toBeNull()
  })

  it('holds at most TOKEN_CACHE_MAX_ENTRIES, evicting the oldest first', () => {
    const cache = new VerifiedTokenCache()
    for (let i = 0; i <= TOKEN_CACHE_MAX_ENTRIES; i++) cache.set(`t${i}`, entry(`s${i}`))
    expect(lookup(cache, 't0')).toBeNull()
    expect(lookup(cache, 't1')?.subject).toBe('s1')
    expect(lookup(cache, `t${TOKEN_CACHE_MAX_ENTRIES}`)?.subject).toBe(
      `s${TOKEN_CACHE_MAX_ENTRIES}`,
    )
    cache.set('one-more', entry('x'))
    expect(lookup(cache, 't1')).toBeNull()
    expect(lookup(cache, 't2')?.subject).toBe('s2')
  })

  it('replaces the verification of a token cached again, keeping its place', () => {
    const cache = new VerifiedTokenCache()
    cache.set('token-a', entry('first'))
    cache.set('token-b', entry('b'))
    cache.set('token-a', entry('second'))
    expect(lookup(cache, 'token-a')?.subject).toBe('second')
    for (let i = 0; i < TOKEN_CACHE_MAX_ENTRIES - 2; i++) cache.set(`t${i}`, entry(`s${i}`))
    // Full now; token-a is still the oldest entry, so it goes first, then token-b.
    cache.set('next-1', entry('n1'))
    expect(lookup(cache, 'token-a')).toBeNull()
    expect(lookup(cache, 'token-b')?.subject).toBe('b')
    cache.set('next-2', entry('n2'))
    expect(lookup(cache, 'token-b')).toBeNull()
  })

  it('does not evict a token cached again after it was dropped when its old place comes round', () => {
    const cache = new VerifiedTokenCache()
    cache.set('token-a', entry('a'))
    expect(cache.get('token-a', NOW, SKEW, () => false)).toBeNull() // dropped
    cache.set('token-a', entry('again'))
    // Fill every other place; the dropped entry's old place is reused first.
    for (let i = 0; i < TOKEN_CACHE_MAX_ENTRIES - 1; i++) cache.set(`t${i}`, entry(`s${i}`))
    expect(lookup(cache, 'token-a')?.subject).toBe('again')
    expect(lookup(cache, 't0')?.subject).toBe('s0')
    // The next entry takes token-a's (now oldest) place.
    cache.set('next', entry('n'))
    expect(lookup(cache, 'token-a')).toBeNull()
    expect(lookup(cache, 't0')?.subject).toBe('s0')
  })
})
