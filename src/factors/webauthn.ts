// Passkeys (WebAuthn Level 3) through @simplewebauthn/server: options to hand a browser, and the
// verification of what it sends back, as plain data (no HTTP, no storage). The library throws on
// every failed check with an English message; this module turns each into one closed reason code,
// in one table, so a caller never parses prose and never sees credential bytes in a reason.

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'

export interface RelyingParty {
  readonly id: string
  readonly name: string
  readonly origins: readonly string[]
}

export interface CredentialDescriptor {
  readonly credentialId: string
  readonly transports: readonly string[]
}

export type WebAuthnFailure =
  | 'malformed'
  | 'wrong_type'
  | 'wrong_challenge'
  | 'wrong_origin'
  | 'wrong_rp_id'
  | 'wrong_credential'
  | 'user_not_present'
  | 'user_not_verified'
  | 'unsupported_algorithm'
  | 'bad_attestation'
  | 'bad_signature'
  | 'counter_regressed'
  | 'bad_stored_key'

type Failure = { ok: false; reason: WebAuthnFailure }

export type RegistrationResult =
  | {
      ok: true
      credentialId: string
      publicKey: string
      signCount: number
      transports: string[]
      backedUp: boolean
      userVerified: boolean
    }
  | Failure

export type AuthenticationResult =
  | { ok: true; newSignCount: number; userVerified: boolean; backedUp: boolean }
  | Failure

/** How long a browser lets the user answer; matches the challenge's 300 s lifetime. */
const WEBAUTHN_TIMEOUT_MS = 300_000
/** COSE algorithms we accept (IANA COSE registry): EdDSA, ES256, RS256, in preference order. */
const SUPPORTED_COSE_ALGORITHMS = [-8, -7, -257]
/** WebAuthn §5.4.3: a user handle is at most 64 bytes. */
const MAX_USER_HANDLE_BYTES = 64
/** WebAuthn §4 (Credential ID): at most 1023 bytes. */
const MAX_CREDENTIAL_ID_BYTES = 1023
const KNOWN_TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])

/**
 * simplewebauthn 14.0.3's failure messages, anchored at their start (the rest of a message may
 * quote attacker-chosen text such as an origin), mapped to our reasons. First match wins.
 */
const LIBRARY_FAILURES: readonly [RegExp, WebAuthnFailure][] = [
  [/^Unexpected (registration|authentication) response challenge /, 'wrong_challenge'],
  [/^Custom challenge verifier returned false/, 'wrong_challenge'],
  [/^Unexpected (registration|authentication) response origin /, 'wrong_origin'],
  [/^(Detected cross-origin|Unexpected cross-origin|Unexpected top origin)/, 'wrong_origin'],
  [/^Unexpected RP ID hash$/, 'wrong_rp_id'],
  [/^User verification (was )?required/, 'user_not_verified'],
  [/^User (presence was required|not present)/, 'user_not_present'],
  [/^Response counter value /, 'counter_regressed'],
  [/^Unexpected (registration|authentication) response type/, 'wrong_type'],
  [/^(Unexpected public key alg|Credential public key was missing)/, 'unsupported_algorithm'],
  [/^(Unsupported Attestation Format|None attestation had unexpected)/, 'bad_attestation'],
]

/** The one place a thrown library error becomes a reason; anything unrecognised is malformed. */
function failureOf(error: unknown): WebAuthnFailure {
  const message = error instanceof Error ? error.message : ''
  for (const [pattern, reason] of LIBRARY_FAILURES) if (pattern.test(message)) return reason
  return 'malformed'
}

const fail = (reason: WebAuthnFailure): Failure => ({ ok: false, reason })
const isKnownTransport = (t: unknown): t is string =>
  typeof t === 'string' && KNOWN_TRANSPORTS.has(t)

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The outer PublicKeyCredential JSON shape shared by both ceremonies, its id checked. */
function credentialShape(
  value: unknown,
  fields: readonly string[],
): { id: string; inner: Record<string, unknown> } | null {
  if (!isRecord(value) || value['type'] !== 'public-key') return null
  const { id, rawId, response: inner } = value
  if (typeof id !== 'string' || id !== rawId || !isRecord(inner)) return null
  const idBytes = decodeBase64Url(id)
  if (idBytes === null || idBytes.length === 0 || idBytes.length > MAX_CREDENTIAL_ID_BYTES) {
    return null
  }
  for (const field of fields) if (typeof inner[field] !== 'string') return null
  return { id, inner }
}

const toDescriptors = (list: readonly CredentialDescriptor[]) =>
  list.map((c) => ({ id: c.credentialId, transports: [...c.transports] }))

/**
 * Options for navigator.credentials.create(): a discoverable credential (residentKey required)
 * whose user.id is the Gatehouse user id's UTF-8 bytes, so the userHandle a later assertion
 * carries names the user. Returns the options and their challenge (base64url) to keep.
 * Throws RangeError when the user id exceeds WebAuthn's 64-byte user handle.
 */
export async function registrationOptions(
  rp: RelyingParty,
  user: { id: string; name: string; displayName: string },
  exclude: readonly CredentialDescriptor[],
): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; challenge: string }> {
  const userId = new Uint8Array(new TextEncoder().encode(user.id))
  if (userId.length > MAX_USER_HANDLE_BYTES) throw new RangeError('user id exceeds 64 bytes')
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.name,
    userID: userId,
    userDisplayName: user.displayName,
    timeout: WEBAUTHN_TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: toDescriptors(exclude),
    // A fresh object per call: the library writes requireResidentKey into it.
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    supportedAlgorithmIDs: SUPPORTED_COSE_ALGORITHMS,
  })
  return { options, challenge: options.challenge }
}

/**
 * Verifies a RegistrationResponseJSON against our RP (origin in rp.origins, RP ID hash of rp.id),
 * the expected challenge, user presence and an accepted algorithm ('none' attestation; user
 * verification is not required to register). Never throws: every failure is a reason.
 */
export async function verifyRegistration(
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string,
): Promise<RegistrationResult> {
  const shape = credentialShape(response, ['clientDataJSON', 'attestationObject'])
  if (shape === null) return fail('malformed')
  try {
    const result = await verifyRegistrationResponse({
      response: response as RegistrationResponseJSON,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: SUPPORTED_COSE_ALGORITHMS,
    })
    if (!result.verified) return fail('bad_attestation')
    const info = result.registrationInfo
    // The id the browser reports must be the one the authenticator attested.
    if (info.credential.id !== shape.id) return fail('malformed')
    const listed: unknown = shape.inner['transports']
    return {
      ok: true,
      credentialId: info.credential.id,
      publicKey: encodeBase64Url(info.credential.publicKey),
      signCount: info.credential.counter,
      transports: Array.isArray(listed) ? listed.filter(isKnownTransport) : [],
      backedUp: info.credentialBackedUp,
      userVerified: info.userVerified,
    }
  } catch (error) {
    return fail(failureOf(error))
  }
}

/**
 * Options for navigator.credentials.get(). Without `allow`, any discoverable credential for the
 * RP may answer (passkey-only login). Returns the options and their challenge (base64url).
 */
export async function authenticationOptions(
  rp: RelyingParty,
  allow?: readonly CredentialDescriptor[],
  userVerification: 'required' | 'preferred' = 'preferred',
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challenge: string }> {
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    ...(allow === undefined ? {} : { allowCredentials: toDescriptors(allow) }),
    userVerification,
    timeout: WEBAUTHN_TIMEOUT_MS,
  })
  return { options, challenge: options.challenge }
}

/**
 * The credential id and userHandle (decoded to the UTF-8 user id) an assertion names, read
 * without verifying anything, to find the stored credential. Null when the shape is wrong, the
 * ids are not canonical base64url, or the userHandle is not UTF-8 of at most 64 bytes.
 */
export function assertionIdentity(
  response: unknown,
): { credentialId: string; userHandle: string | null } | null {
  const shape = credentialShape(response, [])
  if (shape === null) return null
  const handle = shape.inner['userHandle']
  if (handle === undefined || handle === null || handle === '') {
    return { credentialId: shape.id, userHandle: null }
  }
  if (typeof handle !== 'string') return null
  const bytes = decodeBase64Url(handle)
  if (bytes === null || bytes.length > MAX_USER_HANDLE_BYTES) return null
  try {
    const userHandle = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
    return { credentialId: shape.id, userHandle }
  } catch {
    return null
  }
}

/**
 * Verifies an AuthenticationResponseJSON for the stored credential: same credential id, our
 * origin and RP ID hash, the expected challenge, user presence (and verification when required),
 * the signature by the stored public key, and a counter that moved forward (WebAuthn §6.1.1:
 * when either counter is non-zero the new one must exceed the stored one; 'counter_regressed' is
 * reported only for a correctly signed assertion, the sign of a cloned authenticator).
 * Never throws: every failure is a reason.
 */
export async function verifyAuthentication(
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string,
  stored: { credentialId: string; publicKey: string; signCount: number; transports: string[] },
  requireUserVerification: boolean,
): Promise<AuthenticationResult> {
  const shape = credentialShape(response, ['clientDataJSON', 'authenticatorData', 'signature'])
  if (shape === null) return fail('malformed')
  if (shape.id !== stored.credentialId) return fail('wrong_credential')
  const decodedKey = decodeBase64Url(stored.publicKey)
  if (decodedKey === null || decodedKey.length === 0) return fail('bad_stored_key')
  const publicKey = new Uint8Array(decodedKey)
  const verify = (counter: number) =>
    verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      credential: {
        id: stored.credentialId,
        publicKey,
        counter,
        transports: [...stored.transports],
      },
      requireUserVerification,
    })
  try {
    const result = await verify(stored.signCount)
    if (!result.verified) return fail('bad_signature')
    const info = result.authenticationInfo
    return {
      ok: true,
      newSignCount: info.newCounter,
      userVerified: info.userVerified,
      backedUp: info.credentialBackedUp,
    }
  } catch (error) {
    const reason = failureOf(error)
    if (reason !== 'counter_regressed') return fail(reason)
    // The library checks the counter before the signature: verify again with the counter check
    // out of the way (any new counter passes a stored 0) so a forgery reads as bad_signature.
    return signedAnyway(() => verify(0))
  }
}

async function signedAnyway(
  verify: () => Promise<{ verified: boolean }>,
): Promise<AuthenticationResult> {
  try {
    return fail((await verify()).verified ? 'counter_regressed' : 'bad_signature')
  } catch (error) {
    return fail(failureOf(error))
  }
}
