// Bench-only Worker (never deployed): the verify micro-benchmark. Each request runs one operation
// N times inside workerd — raw crypto.subtle.verify, Gatehouse's verifyAccessToken on the warm
// path, jose jwtVerify, the real KeyStore lookup with 1 or 100 keys, or one Argon2id verification
// — and the Node client times the request from outside, because workerd's clocks stand still
// during CPU work. Keys and tokens are made once per isolate; all three verifiers share one key.

import { SignJWT, exportJWK, jwtVerify } from 'jose'
import type { Algorithm, IssuerConfig, JwksSettings } from '../../src/keys/issuer'
import {
  ALGORITHM_SPECS,
  importVerificationKey,
  type VerificationKey,
} from '../../src/keys/jwk-import'
import { KeyStore, type KeyStoreDeps } from '../../src/keys/key-store'
import { argon2 } from '../../src/accounts/argon2'
import { ARGON2_PARAMS } from '../../src/accounts/password-hash'
import { decodeBase64Url } from '../../src/lib/base64url'
import { verifyAccessToken, type VerifyContext } from '../../src/verify/verify-token'

interface Env {
  readonly JWKS_CACHE: KVNamespace
}

type BenchAlg = 'EdDSA' | 'RS256' | 'ES256'
const ALGS: readonly BenchAlg[] = ['EdDSA', 'RS256', 'ES256']
const AUDIENCE = 'bench-api'
const TOKEN_TTL_SECONDS = 900
const CLOCK_SKEW_SECONDS = 60
const MAX_TOKEN_LIFETIME_SECONDS = 3600
/** Long enough that no background revalidation starts during a run. */
const JWKS_SETTINGS: JwksSettings = {
  refetchCooldownMs: 30_000,
  maxStaleMs: 86_400_000,
  fetchTimeoutMs: 3_000,
  isolateTtlMs: 86_400_000,
}

const GENERATE: Record<BenchAlg, Parameters<SubtleCrypto['generateKey']>[0]> = {
  EdDSA: { name: 'Ed25519' },
  RS256: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
}

interface Fixture {
  readonly alg: BenchAlg
  readonly token: string
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
  readonly key: VerificationKey
  readonly cryptoKey: CryptoKey
  readonly issuer: IssuerConfig
  readonly issuers: ReadonlyMap<string, IssuerConfig>
}

interface KeyStoreFixture {
  readonly token: string
  readonly issuer: IssuerConfig
  readonly issuers: ReadonlyMap<string, IssuerConfig>
  readonly store: KeyStore
  readonly jwks: unknown[]
}

interface Fixtures {
  readonly byAlg: ReadonlyMap<BenchAlg, Fixture>
  readonly keyStores: ReadonlyMap<string, KeyStoreFixture>
  readonly argon2Hash: string
  readonly argon2Input: string
}

function issuerConfig(issuer: string, alg: Algorithm): IssuerConfig {
  return {
    issuer,
    self: false,
    jwksUri: `${issuer}/jwks.json`,
    audiences: [AUDIENCE],
    algorithms: [alg],
    tokenTypes: ['at+jwt'],
    tenant: null,
    tenants: null,
  }
}

/** An access token shaped like the ones Gatehouse mints (signer.ts): same header and claims. */
async function signToken(alg: BenchAlg, kid: string, issuer: string, key: CryptoKey) {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sid: 'bench-session-0001',
    tid: 'bench',
    scope: 'echo:read echo:write',
    client_id: 'gatehouse-mobile',
  })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject('usr_bench_0001')
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(key)
}

async function newKeyPair(alg: BenchAlg): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(GENERATE[alg], true, ['sign', 'verify'])) as CryptoKeyPair
}

async function publicJwk(pair: CryptoKeyPair, kid: string): Promise<Record<string, unknown>> {
  return { ...(await exportJWK(pair.publicKey)), kid, use: 'sig' }
}

async function algFixture(alg: BenchAlg): Promise<Fixture> {
  const kid = `bench-${alg}`
  const issuer = issuerConfig(`https://${alg.toLowerCase()}.bench`, alg)
  const pair = await newKeyPair(alg)
  const key = await importVerificationKey(await publicJwk(pair, kid), [alg])
  if (typeof key === 'string') throw new Error(`import ${alg}: ${key}`)
  const token = await signToken(alg, kid, issuer.issuer, pair.privateKey)
  const dot = token.lastIndexOf('.')
  return {
    alg,
    token,
    signingInput: new TextEncoder().encode(token.slice(0, dot)),
    signature: decodeBase64Url(token.slice(dot + 1)) as Uint8Array,
    key,
    cryptoKey: key.byAlg.get(alg) as CryptoKey,
    issuer,
    issuers: new Map([[issuer.issuer, issuer]]),
  }
}

/** An issuer whose JWKS holds `size` EdDSA keys; the token's key is published last. */
async function keyStoreFixture(size: number): Promise<KeyStoreFixture> {
  const issuer = issuerConfig(`https://keys${size}.bench`, 'EdDSA')
  const signing = await newKeyPair('EdDSA')
  const jwks: unknown[] = []
  for (let i = 0; i < size - 1; i++)
    jwks.push(await publicJwk(await newKeyPair('EdDSA'), `other-${i}`))
  jwks.push(await publicJwk(signing, 'signing'))
  const token = await signToken('EdDSA', 'signing', issuer.issuer, signing.privateKey)
  return { token, issuer, issuers: new Map([[issuer.issuer, issuer]]), store: new KeyStore(), jwks }
}

async function makeFixtures(): Promise<Fixtures> {
  const byAlg = new Map<BenchAlg, Fixture>()
  for (const alg of ALGS) byAlg.set(alg, await algFixture(alg))
  const keyStores = new Map<string, KeyStoreFixture>()
  for (const size of [1, 100]) keyStores.set(`keystore-${size}`, await keyStoreFixture(size))
  const a = await argon2()
  const argon2Input = 'bench-peppered-password-0123456789abcdefghi' // 43 chars, like a peppered input
  const { encoded } = a.hash(argon2Input, {
    memoryCost: ARGON2_PARAMS.m,
    timeCost: ARGON2_PARAMS.t,
    parallelism: ARGON2_PARAMS.p,
    hashLength: 32,
  })
  return { byAlg, keyStores, argon2Hash: encoded, argon2Input }
}

/** Mirrors authenticate.ts: a fresh context (and resolver closures) per request. */
function verifyContext(
  issuers: ReadonlyMap<string, IssuerConfig>,
  resolve: VerifyContext['resolveKey'],
  peek: VerifyContext['peekKey'],
): VerifyContext {
  return {
    issuers,
    nowSeconds: Date.now() / 1000,
    clockSkewSeconds: CLOCK_SKEW_SECONDS,
    maxTokenLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    resolveKey: resolve,
    peekKey: peek,
  }
}

async function runAlgOp(kind: string, f: Fixture, n: number): Promise<number> {
  let ok = 0
  if (kind === 'raw') {
    const params = ALGORITHM_SPECS[f.alg].verifyParams
    for (let i = 0; i < n; i++) {
      if (await crypto.subtle.verify(params, f.cryptoKey, f.signature, f.signingInput)) ok++
    }
  } else if (kind === 'gatehouse') {
    for (let i = 0; i < n; i++) {
      const verified = await verifyAccessToken(
        f.token,
        // The warm path: authenticate.ts peeks the isolate's key store synchronously.
        verifyContext(
          f.issuers,
          async () => f.key,
          () => f.key,
        ),
      )
      if (verified.subject !== '') ok++
    }
  } else if (kind === 'jose') {
    const options = {
      issuer: f.issuer.issuer,
      audience: AUDIENCE,
      algorithms: [f.alg],
      typ: 'at+jwt',
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'sub'],
    }
    for (let i = 0; i < n; i++) {
      const { payload } = await jwtVerify(f.token, f.cryptoKey, options)
      if (payload.sub !== undefined) ok++
    }
  }
  return ok
}

async function runKeyStoreOp(
  f: KeyStoreFixture,
  n: number,
  env: Env,
  ctx: ExecutionContext,
): Promise<number> {
  let ok = 0
  for (let i = 0; i < n; i++) {
    // Like authenticate.ts: the deps object is built per request.
    const deps: KeyStoreDeps = {
      kv: env.JWKS_CACHE,
      source: async () => f.jwks,
      settings: JWKS_SETTINGS,
      now: Date.now,
      waitUntil: (p) => ctx.waitUntil(p),
    }
    const verified = await verifyAccessToken(
      f.token,
      verifyContext(
        f.issuers,
        (issuer, kid) => f.store.getKey(issuer, kid, deps),
        (issuer, kid) => f.store.peekKey(issuer, kid, JWKS_SETTINGS, Date.now()),
      ),
    )
    if (verified.subject !== '') ok++
  }
  return ok
}

async function runOp(
  op: string,
  n: number,
  fx: Fixtures,
  env: Env,
  ctx: ExecutionContext,
): Promise<number> {
  if (op === 'noop') return n
  if (op === 'argon2') {
    const a = await argon2()
    let ok = 0
    for (let i = 0; i < n; i++) if (a.tryVerify(fx.argon2Hash, fx.argon2Input).success) ok++
    return ok
  }
  const store = fx.keyStores.get(op)
  if (store !== undefined) return runKeyStoreOp(store, n, env, ctx)
  const [kind, alg] = op.split('-') as [string, BenchAlg]
  const fixture = fx.byAlg.get(alg)
  if (fixture === undefined) throw new Error(`unknown op ${op}`)
  return runAlgOp(kind, fixture, n)
}

let fixtures: Promise<Fixtures> | null = null

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const op = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    fixtures ??= makeFixtures()
    try {
      const ok = await runOp(op, n, await fixtures, env, ctx)
      return Response.json({ op, n, ok }, { status: ok === n ? 200 : 500 })
    } catch (err) {
      return Response.json({ op, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
