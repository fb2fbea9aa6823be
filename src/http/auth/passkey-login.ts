// Login with a passkey alone (no password): POST /auth/passkeys/login/options {tenant} issues a
// single-use WebAuthn challenge for a discoverable credential (no credential list, so the answer
// says nothing about which accounts exist); POST /auth/passkeys/login answers it. The assertion's
// userHandle is the Gatehouse user id, which names the user's shard. User verification (PIN,
// biometric) is required: possession and verification together count as two factors (amr mfa).

import { AuthError } from '../../lib/errors'
import { optionalStringField, readJsonObject, stringField } from '../../lib/json-body'
import {
  challengeBucket,
  consumeChallenge,
  createChallenge,
  newChallengeToken,
} from '../../factors/challenge-store'
import { assertionIdentity, authenticationOptions } from '../../factors/webauthn'
import { accountBucket, BUCKET_COUNT, networkBucket, userBucket } from '../../storage/placement'
import { clientNetwork, releaseCeremony, reserveCeremony } from '../../accounts/login-throttle'
import { normalizeUsername } from '../../accounts/user-store'
import { tokenEndpointProof } from '../dpop'
import { relyingParty } from './factor-account'
import { nowSeconds, type RequestContext } from '../request-context'
import { lookupUser } from '../shard-lookup'
import { assertBrowserOrigin } from './browser-policy'
import { clientContext, DEVICE_ID } from './client-context'
import { checkFactor, FACTOR_BODY_BYTES } from './factor-answer'
import { startSession } from './issue-session'
import { readClientType, TENANT } from './login'
import { withStoreFailuresAs503 } from './store-failure'

interface PasskeyLoginChallenge {
  readonly tenant: string
  readonly webauthn: string
}

/** POST /auth/passkeys/login/options */
export function passkeyLoginOptions(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('login', async () => {
    const rp = relyingParty(rc)
    const body = await readJsonObject(request)
    const tenant = stringField(body, 'tenant', 64)
    if (!TENANT.test(tenant)) throw new AuthError('bad_request', { detail: 'tenant' })
    const now = nowSeconds(rc)
    // Each ceremony stores a challenge before anyone is known: counted per client network.
    const network = await clientNetworkOf(request)
    if (network !== null) {
      const wait = await reserveCeremony(
        (await rc.services.sessionShards.forNetwork(network)).db,
        network,
        now,
      )
      if (wait > 0) throw new AuthError('rate_limited', { retryAfterSeconds: wait })
    }
    // Not tied to an account yet: the challenge lives on the shard of the network's bucket, so
    // a bucket being moved (frozen) never blocks it.
    const bucket = network === null ? randomBucket() : await networkBucket(network)
    const shard = rc.services.sessionShards.forTransient(bucket)
    const { options, challenge } = await authenticationOptions(rp, undefined, 'required')
    const token = newChallengeToken(bucket)
    const ttl = rc.config.auth.mfa.challengeTtlSeconds
    await createChallenge<PasskeyLoginChallenge>(shard.db, token, {
      kind: 'passkey_login',
      userId: null,
      sid: null,
      payload: { tenant, webauthn: challenge },
      expiresAt: now + ttl,
    })
    return Response.json(
      { challenge_token: token, expires_in: ttl, options },
      { headers: { 'cache-control': 'no-store' } },
    )
  })
}

/** POST /auth/passkeys/login */
export function passkeyLogin(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('login', () => loginWithPasskey(request, rc))
}

async function loginWithPasskey(request: Request, rc: RequestContext): Promise<Response> {
  relyingParty(rc)
  const body = await readJsonObject(request, FACTOR_BODY_BYTES)
  const token = stringField(body, 'challenge_token', 64)
  const tenant = stringField(body, 'tenant', 64)
  const client = readClientType(body.client)
  const deviceId = optionalStringField(body, 'device_id', 128)
  if (deviceId !== null && !DEVICE_ID.test(deviceId)) {
    throw new AuthError('bad_request', { detail: 'device_id' })
  }
  if (client === 'mobile' && deviceId === null) {
    throw new AuthError('bad_request', { detail: 'device_id is required for mobile clients' })
  }
  const credential = body.credential
  if (typeof credential !== 'object' || credential === null || Array.isArray(credential)) {
    throw new AuthError('bad_request', {
      detail: 'credential must be a WebAuthn credential object',
    })
  }
  if (client === 'web') assertBrowserOrigin(request.headers, rc.config.auth, false)
  const proof = await tokenEndpointProof(request, rc, '/auth/passkeys/login')
  if (proof === null && rc.config.auth.dpop.requiredFor.includes(client)) {
    throw new AuthError('invalid_dpop_proof', {
      detail: `DPoP required for ${client} clients`,
      tokenEndpoint: true,
    })
  }
  const now = nowSeconds(rc)
  const bucket = challengeBucket(token)
  if (bucket === null) throw new AuthError('invalid_grant', { detail: 'malformed challenge_token' })
  // A WebAuthn challenge is answered once, right or wrong.
  const challenge = await consumeChallenge<PasskeyLoginChallenge>(
    rc.services.sessionShards.forTransient(bucket).db,
    token,
    'passkey_login',
    now,
  )
  if (challenge === null || challenge.payload.tenant !== tenant) {
    throw new AuthError('invalid_grant', {
      detail: 'challenge unknown, used, expired or another tenant’s',
    })
  }
  const user = await passkeyOwner(rc, credential, tenant)
  rc.record.subject = user.user.id
  rc.record.tenant = tenant
  rc.record.shard = user.shard.name
  const method = await checkFactor(
    request,
    rc,
    user.shard,
    user.user,
    { kind: 'passkey', credential },
    {
      flow: 'passkey_login',
      webauthnChallenge: challenge.payload.webauthn,
      requireUserVerification: true,
    },
    now,
  )
  const home = await accountBucket(tenant, normalizeUsername(user.user.username))
  const network = await clientNetworkOf(request)
  if (network !== null) {
    const db = (await rc.services.sessionShards.forNetwork(network)).db
    rc.waitUntil(releaseCeremony(db, network).catch(() => undefined))
  }
  return startSession(
    request,
    rc,
    {
      user: user.user,
      shard: user.shard,
      bucket: home,
      client,
      deviceId,
      jkt: proof?.jkt ?? null,
      amr: [method, 'mfa'],
    },
    now,
  )
}

async function clientNetworkOf(request: Request): Promise<string | null> {
  const ip = (await clientContext(request)).ip
  return ip === null ? null : clientNetwork(ip)
}

function randomBucket(): number {
  return (crypto.getRandomValues(new Uint16Array(1))[0] as number) % BUCKET_COUNT
}

/** The active user of `tenant` the assertion's userHandle names; invalid_grant otherwise. */
async function passkeyOwner(rc: RequestContext, credential: unknown, tenant: string) {
  const identity = assertionIdentity(credential)
  const userId = identity?.userHandle ?? null
  // Only an id that names its bucket: an unauthenticated request never searches every shard
  // (an account from before sharding uses its passkey as a second factor, after its password).
  if (userId === null || typeof userBucket(userId) !== 'number') {
    throw new AuthError('invalid_grant', { detail: 'assertion names no placed user' })
  }
  const found = await lookupUser(rc.services, userId)
  if (found === null || found.user.tenant !== tenant || found.user.status !== 'active') {
    throw new AuthError('invalid_grant', { detail: 'no active user of this tenant' })
  }
  return found
}
