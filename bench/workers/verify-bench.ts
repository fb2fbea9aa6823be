// Bench-only Worker (never deployed): the verify micro-benchmark. Each request runs one operation
// N times inside workerd and the Node client times the request from outside (workerd's clocks
// stand still during CPU work). Verification runs the cache-miss path a real request pays for a
// token the isolate has not seen: the isolate's Verifier (verified-token cache get/set, the
// layered KeyStore lookup, the full check, metrics) over more distinct tokens than the cache
// holds, taken in a cycle, so the oldest-first cache never hits; each answer reports the hits and
// misses the verifier counted. Raw crypto.subtle.verify and jose verify the same tokens. Also: the
// KeyStore lookup alone with 1 vs 100 keys in the issuer's JWKS, and one Argon2id verification.

import { SignJWT, exportJWK, jwtVerify } from 'jose'
import type { Algorithm, IssuerConfig, JwksSettings } from '../../src/keys/issuer'
import { ALGORITHM_SPECS, importVerificationKey } from '../../src/keys/jwk-import'
import { KeyStore, type KeyStoreDeps } from '../../src/keys/key-store'
import { argon2 } from '../../src/accounts/argon2'
import { ARGON2_PARAMS } from '../../src/accounts/password-hash'
import { decodeBase64Url } from '../../src/lib/base64url'
import { drainMetrics } from '../../src/observability/metrics'
import { TOKEN_CACHE_MAX_ENTRIES } from '../../src/verify/verified-token-cache'
import { Verifier } from '../../src/verify/verifier'

interface Env {
  readonly JWKS_CACHE: KVNamespace
}

type BenchAlg = 'EdDSA' | 'RS256' | 'ES256'
const ALGS: readonly BenchAlg[] = ['EdDSA', 'RS256', 'ES256']
const AUDIENCE = 'bench-api'
const TOKEN_TTL_SECONDS = 3600
const CLOCK_SKEW_SECONDS = 60
const MAX_TOKEN_LIFETIME_SECONDS = 3600
/** Distinct tokens per algorithm: a cycle longer than the cache, so every verification misses. */
const DISTINCT_TOKENS = Math.ceil(TOKEN_CACHE_MAX_ENTRIES * 1.25)
/** Keys in the large JWKS of the lookup-growth measurement. */
const LARGE_JWKS_KEYS = 100
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
  readonly tokens: readonly string[]
  readonly signingInputs: readonly Uint8Array[]
  readonly signatures: readonly Uint8Array[]
  readonly cryptoKey: CryptoKey
  readonly issuer: IssuerConfig
  readonly verifier: Verifier
  /**
   * The next token of each verifier's cycle: its own, so the Gatehouse verifier sees every token
   * once per cycle (DISTINCT_TOKENS apart, more than its cache holds) whatever runs in between.
   */
  readonly next: Record<'raw' | 'gatehouse' | 'jose', number>
}

interface KeyStoreFixture {
  readonly issuer: IssuerConfig
  readonly store: KeyStore
  readonly kids: readonly string[]
  readonly jwks: unknown[]
}

interface Fixtures {
  readonly byAlg: ReadonlyMap<BenchAlg, Fixture>
  readonly keyStores: ReadonlyMap<string, KeyStoreFixture>
}

interface Argon2Fixture {
  readonly hash: string
  readonly input: string
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
    scopeClaim: 'scope',
    scopeFormat: 'space',
  }
}

/** An access token shaped like the ones Gatehouse mints (signer.ts): same header and claims. */
async function signToken(alg: BenchAlg, kid: string, issuer: string, key: CryptoKey, i: number) {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sid: `bench-session-${String(i).padStart(6, '0')}`,
    tid: 'bench',
    scope: 'echo:read echo:write',
    client_id: 'gatehouse-mobile',
  })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject(`usr_bench_${String(i).padStart(6, '0')}`)
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

async function algFixture(alg: BenchAlg, env: Env): Promise<Fixture> {
  const kid = `bench-${alg}`
  const issuer = issuerConfig(`https://${alg.toLowerCase()}.bench`, alg)
  const pair = await newKeyPair(alg)
  const jwk = await publicJwk(pair, kid)
  const key = await importVerificationKey(jwk, [alg])
  if (typeof key === 'string') throw new Error(`import ${alg}: ${key}`)
  const tokens: string[] = []
  for (let i = 0; i < DISTINCT_TOKENS; i++)
    tokens.push(await signToken(alg, kid, issuer.issuer, pair.privateKey, i))
  const split = tokens.map((t) => t.lastIndexOf('.'))
  const verifier = new Verifier({
    issuers: [issuer],
    clockSkewSeconds: CLOCK_SKEW_SECONDS,
    maxTokenLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    jwks: JWKS_SETTINGS,
    keyStore: new KeyStore(),
    kv: env.JWKS_CACHE,
    source: async () => [jwk],
    now: Date.now,
  })
  return {
    alg,
    tokens,
    signingInputs: tokens.map((t, i) => new TextEncoder().encode(t.slice(0, split[i]))),
    signatures: tokens.map((t, i) => decodeBase64Url(t.slice((split[i] as number) + 1))!),
    cryptoKey: key.byAlg.get(alg) as CryptoKey,
    issuer,
    verifier,
    next: { raw: 0, gatehouse: 0, jose: 0 },
  }
}

/** An issuer whose JWKS holds `size` EdDSA keys; the looked-up key is published last. */
async function keyStoreFixture(size: number): Promise<KeyStoreFixture> {
  const issuer = issuerConfig(`https://keys${size}.bench`, 'EdDSA')
  const jwks: unknown[] = []
  const kids: string[] = []
  for (let i = 0; i < size; i++) {
    const kid = i === size - 1 ? 'signing' : `other-${i}`
    kids.push(kid)
    jwks.push(await publicJwk(await newKeyPair('EdDSA'), kid))
  }
  return { issuer, store: new KeyStore(), kids, jwks }
}

async function makeFixtures(env: Env): Promise<Fixtures> {
  const byAlg = new Map<BenchAlg, Fixture>()
  for (const alg of ALGS) byAlg.set(alg, await algFixture(alg, env))
  const keyStores = new Map<string, KeyStoreFixture>()
  for (const size of [1, LARGE_JWKS_KEYS])
    keyStores.set(`keylookup-${size}`, await keyStoreFixture(size))
  return { byAlg, keyStores }
}

/** A stored hash of a peppered password, with the parameters login uses. */
async function makeArgon2Fixture(): Promise<Argon2Fixture> {
  const a = await argon2()
  const input = 'bench-peppered-password-0123456789abcdefghi' // 43 chars, like a peppered input
  const { encoded } = a.hash(input, {
    memoryCost: ARGON2_PARAMS.m,
    timeCost: ARGON2_PARAMS.t,
    parallelism: ARGON2_PARAMS.p,
    hashLength: 32,
  })
  return { hash: encoded, input }
}

/** Cache hits and misses the verifiers counted since the last drain. */
function verifyCacheCounts(): { hits: number; misses: number } {
  let hits = 0
  let misses = 0
  for (const d of drainMetrics()) {
    if (d.name !== 'gatehouse_verify_total') continue
    if (d.labels.cache === 'hit') hits += d.value
    else if (d.labels.cache === 'miss') misses += d.value
  }
  return { hits, misses }
}

/** Runs one of raw / gatehouse / jose n times over the algorithm's token cycle. */
async function runAlgOp(
  kind: string,
  f: Fixture,
  n: number,
  ctx: ExecutionContext,
): Promise<number> {
  let ok = 0
  const count = f.tokens.length
  if (kind === 'raw') {
    const params = ALGORITHM_SPECS[f.alg].verifyParams
    for (let i = 0; i < n; i++) {
      const t = f.next.raw++ % count
      const signature = f.signatures[t] as Uint8Array
      const input = f.signingInputs[t] as Uint8Array
      if (await crypto.subtle.verify(params, f.cryptoKey, signature, input)) ok++
    }
  } else if (kind === 'gatehouse') {
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p)
    for (let i = 0; i < n; i++) {
      const verified = await f.verifier.verify(
        f.tokens[f.next.gatehouse++ % count] as string,
        waitUntil,
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
      const { payload } = await jwtVerify(
        f.tokens[f.next.jose++ % count] as string,
        f.cryptoKey,
        options,
      )
      if (payload.sub !== undefined) ok++
    }
  }
  return ok
}

function keyStoreDeps(f: KeyStoreFixture, env: Env, ctx: ExecutionContext): KeyStoreDeps {
  return {
    kv: env.JWKS_CACHE,
    source: async () => f.jwks,
    settings: JWKS_SETTINGS,
    now: Date.now,
    waitUntil: (p) => ctx.waitUntil(p),
  }
}

/**
 * The operation that grows with the JWKS: the key store's lookup of one kid as verify makes it on
 * a warm isolate (verify-token.ts: peekKey, synchronous; getKey only when that misses).
 */
async function runKeyLookup(
  f: KeyStoreFixture,
  n: number,
  env: Env,
  ctx: ExecutionContext,
): Promise<number> {
  await f.store.getKey(f.issuer, 'signing', keyStoreDeps(f, env, ctx)) // loaded once
  const now = Date.now()
  let ok = 0
  for (let i = 0; i < n; i++) {
    if (f.store.peekKey(f.issuer, 'signing', JWKS_SETTINGS, now) !== undefined) ok++
  }
  return ok
}

/** Keys each lookup fixture's store holds (kids it answers from the isolate layer). */
async function keysHeld(fx: Fixtures, env: Env, ctx: ExecutionContext) {
  const held: Record<string, number> = {}
  for (const [name, f] of fx.keyStores) {
    await f.store.getKey(f.issuer, 'signing', keyStoreDeps(f, env, ctx))
    held[name] = f.kids.filter(
      (kid) => f.store.peekKey(f.issuer, kid, JWKS_SETTINGS, Date.now()) !== null,
    ).length
  }
  return held
}

/** One Argon2id verification n times (what login spends on the password). */
async function runArgon2(n: number): Promise<number> {
  argon2Fixture ??= makeArgon2Fixture()
  const fx = await argon2Fixture
  const a = await argon2()
  let ok = 0
  for (let i = 0; i < n; i++) if (a.tryVerify(fx.hash, fx.input).success) ok++
  return ok
}

async function runOp(op: string, n: number, env: Env, ctx: ExecutionContext): Promise<number> {
  if (op === 'noop') return n
  if (op === 'argon2') return runArgon2(n)
  fixtures ??= makeFixtures(env)
  const fx = await fixtures
  const store = fx.keyStores.get(op)
  if (store !== undefined) return runKeyLookup(store, n, env, ctx)
  const [kind, alg] = op.split('-') as [string, BenchAlg]
  const fixture = fx.byAlg.get(alg)
  if (fixture === undefined) throw new Error(`unknown op ${op}`)
  return runAlgOp(kind, fixture, n, ctx)
}

let fixtures: Promise<Fixtures> | null = null
let argon2Fixture: Promise<Argon2Fixture> | null = null

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const op = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    try {
      if (op === 'keys-held') {
        fixtures ??= makeFixtures(env)
        return Response.json({ op, held: await keysHeld(await fixtures, env, ctx) })
      }
      verifyCacheCounts() // start from zero: count only this request's verifications
      const ok = await runOp(op, n, env, ctx)
      const cache = verifyCacheCounts()
      return Response.json(
        { op, n, ok, cache, distinctTokens: DISTINCT_TOKENS },
        { status: ok === n ? 200 : 500 },
      )
    } catch (err) {
      return Response.json({ op, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
