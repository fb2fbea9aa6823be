// The single-use check of DPoP proofs on a low route (isolate memory only) when that memory is
// full of live proofs: the overflow is claimed in the proof key's Durable Object (the real local
// one), never forgotten, so a replay to the same isolate is still refused.

import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { AuthError } from '../../../src/lib/errors'
import { ProofReplayGuard } from '../../../src/revocation/proof-replay'
import { createProofShardLocator } from '../../../src/revocation/revocation-shard'

const NOW_MS = Date.now()

describe('proof replay on a low route with a full isolate memory', () => {
  it('claims the overflow globally and refuses its replay', async () => {
    let globalClaims = 0
    const locate = createProofShardLocator(env.REVOCATIONS)
    const counting = (jkt: string) => {
      globalClaims++
      return locate(jkt)
    }
    const guard = new ProofReplayGuard(counting, 1000, 60, () => NOW_MS, 2)
    const jkt = `k${crypto.randomUUID()}`
    const proof = (jti: string) => ({ jkt, jti, iat: Math.floor(NOW_MS / 1000) })
    expect(await guard.claim(proof('a'), 'low')).toBe('isolate-only; tier=low')
    expect(await guard.claim(proof('b'), 'low')).toBe('isolate-only; tier=low')
    expect(globalClaims).toBe(0)
    // The memory holds two live proofs: the third is claimed in the Durable Object.
    expect(await guard.claim(proof('c'), 'low')).toBe('checked')
    expect(globalClaims).toBe(1)
    await expect(guard.claim(proof('c'), 'low')).rejects.toSatisfy(
      (err) => err instanceof AuthError && err.reason === 'dpop_replay',
    )
    // And the ones it remembers are refused without asking anyone.
    await expect(guard.claim(proof('a'), 'low')).rejects.toSatisfy(
      (err) => err instanceof AuthError && err.reason === 'dpop_replay',
    )
    expect(globalClaims).toBe(2)
  })
})
