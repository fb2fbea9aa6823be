// Shared by the profile Workers' operations (bench only, never deployed): one Ed25519 token of a
// bench third-party issuer, the parsed bench configuration, realistic client and origin headers,
// and a stub fetch that answers the JWKS and the origin in-isolate, so no socket is timed.

import { SignJWT, exportJWK } from 'jose'
import { ConfigError, type Config } from '../../src/config/config'
import type { Env } from '../../src/config/env'
import { servicesFor, type Services } from '../../src/http/services'

export type { Env }
export type IncomingRequest = Request<unknown, IncomingRequestCfProperties>

export const BENCH_ISSUER = 'https://idp.bench'
export const BENCH_ORIGIN = 'https://origin.bench'
const GATEWAY_URL = 'https://gatehouse.bench'
/** What the demo origin answers, roughly: ~700 bytes of JSON and the usual headers. */
export const ORIGIN_BODY = JSON.stringify({
  method: 'GET',
  path: '/api/echo/x',
  query: '',
  headers: Object.fromEntries(
    Array.from({ length: 18 }, (_, i) => [`x-header-${i}`, 'v'.repeat(24)]),
  ),
  gateway: null,
})

export interface Fixture {
  readonly token: string
  /** The bench issuer's signing key (for the mint step). */
  readonly signingKey: CryptoKey
  readonly jwks: unknown
  readonly config: Config
  /** The isolate's services, as the app builds them for this env. */
  readonly services: Services
  readonly clientHeaders: Record<string, string>
  readonly originHeaders: Headers
}

/** Keys, token and config, made once per isolate. */
export async function makeFixture(env: Env): Promise<Fixture> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'profile-key', use: 'sig' }
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({
    sid: 'sess-profile-0001',
    tid: 'bench',
    scope: 'echo:read echo:write',
    client_id: 'gatehouse-mobile',
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'profile-key', typ: 'at+jwt' })
    .setIssuer(BENCH_ISSUER)
    .setSubject('usr_profile_0001')
    .setAudience('bench-api')
    .setIssuedAt(now)
    .setExpirationTime(now + 900)
    .setJti(crypto.randomUUID())
    .sign(pair.privateKey)
  const services = servicesFor(env)
  if (services instanceof ConfigError) throw new Error(`bench config invalid: ${services.message}`)
  const config = services.config
  const clientHeaders = {
    host: 'gatehouse.bench',
    'user-agent': 'bench/1.0',
    accept: '*/*',
    'accept-encoding': 'gzip, br',
    'cf-connecting-ip': '127.0.0.1',
    authorization: `Bearer ${token}`,
  }
  const originHeaders = new Headers({
    'content-type': 'application/json',
    'content-length': String(ORIGIN_BODY.length),
    date: new Date().toUTCString(),
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
  })
  return {
    token,
    signingKey: pair.privateKey,
    jwks: { keys: [jwk] },
    config,
    services,
    clientHeaders,
    originHeaders,
  }
}

/** Stands in for the network: JWKS for the bench issuer, a canned echo for the origin. */
export function installStubFetch(fx: Fixture): void {
  globalThis.fetch = async (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.startsWith(BENCH_ISSUER)) return Response.json(fx.jwks)
    return new Response(ORIGIN_BODY, { status: 200, headers: fx.originHeaders })
  }
}

/** A client request as workerd hands it to the Worker. */
export function request(fx: Fixture, path: string, withToken: boolean): IncomingRequest {
  const headers = { ...fx.clientHeaders }
  if (!withToken) delete (headers as Partial<typeof headers>).authorization
  return new Request(GATEWAY_URL + path, { headers }) as IncomingRequest
}

/** Reads the whole body, as the client would; true for a 200. */
export async function consume(res: Response): Promise<boolean> {
  await res.arrayBuffer()
  return res.status === 200
}

/** The path a request takes once split from the URL. */
export const ECHO_URL = `${GATEWAY_URL}/api/echo/x`
