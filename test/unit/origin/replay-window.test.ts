import { describe, expect, it } from 'vitest'
import { createIdentityVerifier } from '../../../src/origin/verify-identity'
import { signIdentityHeaders } from '../../../src/proxy/identity-signing'

const NOW = 1_700_000_000
const SECRET = 'origin-secret-current-0123456789abcdef'
const TARGET = '/api/echo/hello'

async function signedAt(nowSeconds: number): Promise<Headers> {
  const headers = new Headers()
  await signIdentityHeaders(headers, {
    method: 'GET',
    target: TARGET,
    secret: SECRET,
    identity: {
      issuer: 'https://issuer.test',
      subject: 'user-1',
      tenant: 'acme',
      scope: 'echo:read',
      sessionId: 'sid-1',
      clientId: 'web',
      dpopKey: null,
    },
    revocation: 'checked',
    requestId: '6f1c2b9e-0000-4000-8000-000000000001',
    nowSeconds,
  })
  return headers
}

/**
 * Delivers one signed request at NOW (which must pass), then the very same headers again when
 * the clock reads `againAtMs`; returns the verifier's answer to the second delivery.
 */
async function deliveredTwice(againAtMs: number) {
  let nowMs = NOW * 1000
  const verify = createIdentityVerifier({ secrets: [SECRET], maxAgeSeconds: 60, now: () => nowMs })
  const headers = await signedAt(NOW)
  expect((await verify({ method: 'GET', target: TARGET, headers })).ok).toBe(true)
  nowMs = againAtMs
  return verify({ method: 'GET', target: TARGET, headers })
}

describe('origin replay window', () => {
  it('refuses a replay in the very millisecond the nonce window ends', async () => {
    // Still fresh (exactly maxAgeSeconds old), so its nonce must still be remembered.
    expect(await deliveredTwice((NOW + 60) * 1000)).toEqual({
      ok: false,
      reason: 'replayed',
    })
  })

  it('refuses the same headers one millisecond before the window ends', async () => {
    expect(await deliveredTwice((NOW + 60) * 1000 - 1)).toEqual({
      ok: false,
      reason: 'replayed',
    })
  })

  it('calls the headers stale, not replayed, once the window has passed', async () => {
    expect(await deliveredTwice((NOW + 60) * 1000 + 1)).toEqual({
      ok: false,
      reason: 'stale',
    })
  })
})
