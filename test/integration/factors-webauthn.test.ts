// Passkeys through src/factors/webauthn.ts, driven by a software authenticator that produces real
// attestations and signatures: the happy ceremonies, then each refusal reaching the check it
// names (only the property under test differs from an honest response), with its reason code.

import { describe, expect, it } from 'vitest'
import { encodeBase64UrlString } from '../../src/lib/base64url'
import {
  assertionIdentity,
  authenticationOptions,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
  type RelyingParty,
} from '../../src/factors/webauthn'
import { SoftAuthenticator, type SoftOverrides } from '../helpers/soft-authenticator'

const ORIGIN = 'http://localhost:8787'
const RP: RelyingParty = { id: 'localhost', name: 'Gatehouse test', origins: [ORIGIN] }
let userCount = 0
const newUserId = () => `usr_0a1_factors${++userCount}`

/** A registered credential: the authenticator and what the store would keep. */
async function registered(options: { algorithm?: 'ES256' | 'EdDSA'; backedUp?: boolean } = {}) {
  const auth = await SoftAuthenticator.create(options)
  const userId = newUserId()
  const { options: create, challenge } = await registrationOptions(
    RP,
    { id: userId, name: 'alice', displayName: 'Alice' },
    [],
  )
  const result = await verifyRegistration(RP, await auth.register(create, ORIGIN), challenge)
  if (!result.ok) throw new Error(`registration failed: ${result.reason}`)
  const stored = {
    credentialId: result.credentialId,
    publicKey: result.publicKey,
    signCount: result.signCount,
    transports: result.transports,
  }
  return { auth, userId, result, stored }
}

/** One authentication ceremony against `stored`, with the authenticator's deviations `o`. */
async function authenticate(
  auth: SoftAuthenticator,
  stored: Parameters<typeof verifyAuthentication>[3],
  o: SoftOverrides = {},
  requireUserVerification = false,
) {
  const { options, challenge } = await authenticationOptions(RP)
  const response = await auth.authenticate(options, ORIGIN, o)
  return verifyAuthentication(RP, response, challenge, stored, requireUserVerification)
}

describe('registrationOptions', () => {
  it('asks for a discoverable credential whose user.id is the user id bytes', async () => {
    const exclude = [{ credentialId: 'AAECAw', transports: ['usb'] }]
    const user = { id: 'usr_0a1_alice', name: 'alice', displayName: 'Alice' }
    const { options, challenge } = await registrationOptions(RP, user, exclude)
    expect(challenge).toBe(options.challenge)
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(options.rp).toEqual({ id: 'localhost', name: 'Gatehouse test' })
    expect(options.user).toEqual({
      id: encodeBase64UrlString('usr_0a1_alice'),
      name: 'alice',
      displayName: 'Alice',
    })
    expect(options.attestation).toBe('none')
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: 'preferred',
    })
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7, -257])
    expect(options.excludeCredentials).toEqual([
      { id: 'AAECAw', transports: ['usb'], type: 'public-key' },
    ])
    expect(options.timeout).toBe(300_000)
  })

  it('makes a new challenge every time', async () => {
    const user = { id: newUserId(), name: 'a', displayName: 'A' }
    const a = await registrationOptions(RP, user, [])
    const b = await registrationOptions(RP, user, [])
    expect(a.challenge).not.toBe(b.challenge)
  })

  it('refuses a user id longer than a 64-byte user handle', async () => {
    const user = { id: 'u'.repeat(65), name: 'a', displayName: 'A' }
    await expect(registrationOptions(RP, user, [])).rejects.toThrow(RangeError)
  })
})

describe('authenticationOptions', () => {
  it('leaves allowCredentials out for discoverable credentials', async () => {
    const { options, challenge } = await authenticationOptions(RP, undefined, 'required')
    expect(options.allowCredentials).toBeUndefined()
    expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'required', challenge })
    expect(options.timeout).toBe(300_000)
  })

  it('lists the allowed credentials, user verification preferred by default', async () => {
    const allow = [{ credentialId: 'AAECAw', transports: ['internal'] }]
    const { options } = await authenticationOptions(RP, allow)
    expect(options.allowCredentials).toEqual([
      { id: 'AAECAw', transports: ['internal'], type: 'public-key' },
    ])
    expect(options.userVerification).toBe('preferred')
  })
})

describe('registration then authentication', () => {
  it('registers an ES256 passkey and signs in with it', async () => {
    const { auth, result, stored } = await registered()
    expect(result).toEqual({
      ok: true,
      credentialId: auth.credentialId,
      publicKey: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      signCount: 0,
      transports: ['internal', 'hybrid'],
      backedUp: false,
      userVerified: true,
    })
    expect(await authenticate(auth, stored, {}, true)).toEqual({
      ok: true,
      newSignCount: 1,
      userVerified: true,
      backedUp: false,
    })
  })

  it('registers a synced Ed25519 passkey and reports it backed up', async () => {
    const { auth, result, stored } = await registered({ algorithm: 'EdDSA', backedUp: true })
    expect(result).toMatchObject({ ok: true, backedUp: true })
    expect(await authenticate(auth, stored)).toMatchObject({ ok: true, backedUp: true })
  })

  it('accepts an authenticator that always reports counter 0', async () => {
    const { auth, stored } = await registered()
    expect(await authenticate(auth, stored, { counter: 0 })).toMatchObject({
      ok: true,
      newSignCount: 0,
    })
  })

  it('accepts a missing UV flag when verification is not required, and says so', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { userVerified: false }, false)
    expect(result).toMatchObject({ ok: true, userVerified: false })
  })
})

describe('verifyRegistration refuses', () => {
  async function register(o: SoftOverrides, challengeOverride?: string) {
    const auth = await SoftAuthenticator.create()
    const user = { id: newUserId(), name: 'a', displayName: 'A' }
    const { options, challenge } = await registrationOptions(RP, user, [])
    const response = await auth.register(options, ORIGIN, o)
    return verifyRegistration(RP, response, challengeOverride ?? challenge)
  }

  it('a response to another challenge', async () => {
    const { challenge } = await authenticationOptions(RP)
    expect(await register({ challenge })).toEqual({ ok: false, reason: 'wrong_challenge' })
  })

  it('a response made on another origin', async () => {
    const result = await register({ origin: 'https://evil.example' })
    expect(result).toEqual({ ok: false, reason: 'wrong_origin' })
  })

  it('a credential scoped to another RP ID', async () => {
    expect(await register({ rpId: 'evil.example' })).toEqual({ ok: false, reason: 'wrong_rp_id' })
  })

  it('an assertion presented as an attestation', async () => {
    expect(await register({ type: 'webauthn.get' })).toEqual({ ok: false, reason: 'wrong_type' })
  })

  it('a response without user presence', async () => {
    const result = await register({ userPresent: false })
    expect(result).toEqual({ ok: false, reason: 'user_not_present' })
  })

  it('input that is not a RegistrationResponseJSON', async () => {
    const { options, challenge } = await registrationOptions(
      RP,
      { id: 'u', name: 'a', displayName: 'A' },
      [],
    )
    const good = await (await SoftAuthenticator.create()).register(options, ORIGIN)
    const bad: unknown[] = [
      null,
      'x',
      {},
      { ...good, rawId: 'AAAA' },
      { ...good, type: 'password' },
      { ...good, response: { clientDataJSON: good.response.clientDataJSON } },
      { ...good, response: { ...good.response, clientDataJSON: 'not-json' } },
      { ...good, response: { ...good.response, attestationObject: 'AAAA' } },
    ]
    for (const response of bad) {
      expect(await verifyRegistration(RP, response, challenge)).toEqual({
        ok: false,
        reason: 'malformed',
      })
    }
  })

  it('but accepts a registration without user verification (not required to register)', async () => {
    expect(await register({ userVerified: false })).toMatchObject({ ok: true, userVerified: false })
  })
})

describe('verifyAuthentication refuses', () => {
  it('an assertion made on another origin', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { origin: 'https://evil.example' })
    expect(result).toEqual({ ok: false, reason: 'wrong_origin' })
  })

  it('an assertion scoped to another RP ID', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { rpId: 'evil.example' })
    expect(result).toEqual({ ok: false, reason: 'wrong_rp_id' })
  })

  it('an assertion over another challenge', async () => {
    const { auth, stored } = await registered()
    const { challenge } = await authenticationOptions(RP)
    expect(await authenticate(auth, stored, { challenge })).toEqual({
      ok: false,
      reason: 'wrong_challenge',
    })
  })

  it('an attestation presented as an assertion', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { type: 'webauthn.create' })
    expect(result).toEqual({ ok: false, reason: 'wrong_type' })
  })

  it('a signature by another key', async () => {
    const { auth, stored } = await registered()
    const signer = await SoftAuthenticator.create()
    expect(await authenticate(auth, stored, { signer })).toEqual({
      ok: false,
      reason: 'bad_signature',
    })
  })

  it('a missing UV flag when user verification is required', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { userVerified: false }, true)
    expect(result).toEqual({ ok: false, reason: 'user_not_verified' })
  })

  it('a missing UP flag', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, stored, { userPresent: false })
    expect(result).toEqual({ ok: false, reason: 'user_not_present' })
  })

  it.each([5, 3, 0])('a counter of %i after a stored 5 (a cloned authenticator)', async (n) => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, { ...stored, signCount: 5 }, { counter: n })
    expect(result).toEqual({ ok: false, reason: 'counter_regressed' })
  })

  it('a forged assertion with a regressed counter as a bad signature, not a clone', async () => {
    const { auth, stored } = await registered()
    const signer = await SoftAuthenticator.create()
    const result = await authenticate(auth, { ...stored, signCount: 5 }, { counter: 3, signer })
    expect(result).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('an assertion by another credential than the stored one', async () => {
    const { stored } = await registered()
    const other = await registered()
    expect(await authenticate(other.auth, stored)).toEqual({
      ok: false,
      reason: 'wrong_credential',
    })
  })

  it('a stored public key that is not base64url', async () => {
    const { auth, stored } = await registered()
    const result = await authenticate(auth, { ...stored, publicKey: 'not base64url!' })
    expect(result).toEqual({ ok: false, reason: 'bad_stored_key' })
  })

  it('input that is not an AuthenticationResponseJSON', async () => {
    const { auth, stored } = await registered()
    const { options, challenge } = await authenticationOptions(RP)
    const good = await auth.authenticate(options, ORIGIN)
    const bad: unknown[] = [
      undefined,
      [],
      { ...good, rawId: undefined },
      { ...good, response: { ...good.response, signature: 42 } },
      { ...good, response: { ...good.response, authenticatorData: 'AAAA' } },
    ]
    for (const response of bad) {
      expect(await verifyAuthentication(RP, response, challenge, stored, false)).toEqual({
        ok: false,
        reason: 'malformed',
      })
    }
  })
})

describe('assertionIdentity', () => {
  it('reads the credential id and the user id the userHandle names, without verifying', async () => {
    const { auth, userId } = await registered()
    const response = await auth.authenticate({ challenge: 'AAAA', rpId: 'localhost' }, ORIGIN)
    expect(assertionIdentity(response)).toEqual({
      credentialId: auth.credentialId,
      userHandle: userId,
    })
  })

  it('reports a null userHandle when the authenticator sends none', async () => {
    const { auth } = await registered()
    const response = await auth.authenticate({ challenge: 'AAAA' }, ORIGIN, { userHandle: null })
    expect(assertionIdentity(response)).toEqual({
      credentialId: auth.credentialId,
      userHandle: null,
    })
  })

  it('returns null for malformed input', async () => {
    const { auth } = await registered()
    const good = await auth.authenticate({ challenge: 'AAAA' }, ORIGIN)
    const withHandle = (userHandle: unknown) => ({
      ...good,
      response: { ...good.response, userHandle },
    })
    const bad: unknown[] = [
      null,
      'x',
      { ...good, id: 'AAAA', rawId: 'AAAB' },
      { ...good, id: 'not base64url!', rawId: 'not base64url!' },
      { ...good, id: '', rawId: '' },
      { ...good, response: null },
      withHandle('not base64url!'),
      withHandle(42),
      withHandle('_w'), // the byte 0xff: not UTF-8
      withHandle(encodeBase64UrlString('u'.repeat(65))),
    ]
    for (const response of bad) expect(assertionIdentity(response)).toBeNull()
  })
})
