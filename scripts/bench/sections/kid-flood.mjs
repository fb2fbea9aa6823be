// Section 4: the kid flood. A third-party issuer whose JWKS endpoint the bench serves and counts;
// 2 000 tokens with random kids hit the gateway from cold. The target (lib/report.mjs) holds only
// if the gateway fetched that JWKS at least once (the flood reached the key store) and at most
// once per cooldown per isolate (one isolate locally), answered every flood request 401, never
// reached the origin, and still answered 200 for the issuer's real key afterwards.

import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { BENCH_TENANT } from '../lib/auth-client.mjs'
import { startJwksServer } from '../lib/origin.mjs'
import { startGateway } from '../lib/workers.mjs'

export const FLOOD_REQUESTS = 2000
const FLOOD_CONCURRENCY = 16
const AUDIENCE = 'bench-api'
const REAL_KID = 'flood-real-key'
const ISOLATES = 1 // Miniflare serves each Worker from one isolate
const DEFAULT_COOLDOWN_SECONDS = 30

async function token(privateKey, issuer, kid) {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ scope: 'echo:read', client_id: 'bench' })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject('usr_flood')
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(crypto.randomUUID())
    .sign(privateKey)
}

async function flood(url, tokens) {
  const statuses = {}
  let next = 0
  const worker = async () => {
    while (next < tokens.length) {
      const t = tokens[next++]
      const res = await fetch(url, { headers: { authorization: `Bearer ${t}` } })
      await res.arrayBuffer()
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker))
  return statuses
}

/** Runs the flood; resolves to { requests, fetches, allowed, seconds, statuses, … }. */
export async function runKidFlood({ wrangler, builds, secrets, origin }) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA')
  const jwk = { ...(await exportJWK(publicKey)), kid: REAL_KID, alg: 'EdDSA', use: 'sig' }
  const jwks = await startJwksServer(() => ({ keys: [jwk] }))
  const issuer = `${jwks.url}/idp`
  const gateway = await startGateway({
    wrangler,
    build: builds.gatehouse,
    secrets,
    originUrl: origin.url,
    extraIssuers: [
      {
        issuer,
        jwks_uri: `${jwks.url}/jwks.json`,
        audiences: [AUDIENCE],
        algorithms: ['EdDSA'],
        tenant: BENCH_TENANT,
      },
    ],
  })
  try {
    const tokens = []
    for (let i = 0; i < FLOOD_REQUESTS; i++)
      tokens.push(await token(privateKey, issuer, crypto.randomUUID()))
    const url = `${gateway.url}/api/echo/x`
    const originBefore = await origin.count()
    const started = performance.now()
    const statuses = await flood(url, tokens)
    const seconds = (performance.now() - started) / 1000
    const fetches = jwks.fetches()
    const originReached = (await origin.count()) - originBefore
    const valid = await fetch(url, {
      headers: { authorization: `Bearer ${await token(privateKey, issuer, REAL_KID)}` },
    })
    await valid.arrayBuffer()
    const cooldownSeconds =
      wrangler.gatehouse.jwks?.refetch_cooldown_seconds ?? DEFAULT_COOLDOWN_SECONDS
    const allowed = ISOLATES * Math.ceil(seconds / cooldownSeconds)
    return {
      requests: FLOOD_REQUESTS,
      concurrency: FLOOD_CONCURRENCY,
      seconds,
      statuses,
      fetches,
      fetchesAfterValidToken: jwks.fetches(),
      allowed,
      cooldownSeconds,
      isolates: ISOLATES,
      originReached,
      validTokenStatus: valid.status,
    }
  } finally {
    await gateway.close()
    jwks.close()
  }
}
