// Drives the real Worker app inside workerd with the real local bindings (KV, D1, Durable
// Objects) and a per-test configuration. Only outbound HTTP is simulated: `installNetwork`
// spies on globalThis.fetch and serves each test issuer's JWKS and an echo origin, recording
// every call so tests can prove a rejected request never reached the origin.

import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { expect, vi } from 'vitest'
import { ConfigError } from '../../src/config/config'
import type { Env } from '../../src/config/env'
import { handleFetch } from '../../src/http/entry'
import { servicesFor, type Services } from '../../src/http/services'
import type { TestKey } from './keys'

export const ORIGIN = 'https://origin.test'
export const ORIGIN_SECRET = env.ORIGIN_SECRET_TEST

let counter = 0
/** A fresh issuer URL per test: the isolate's key cache is shared by the tests of a file. */
export function uniqueIssuer(label = 'idp'): string {
  counter++
  return `https://${label}-${counter}-${crypto.randomUUID().slice(0, 8)}.test`
}

export interface IssuerSpec {
  issuer: string
  audiences?: string[]
  algorithms?: string[]
  token_types?: string[]
  /** A third-party issuer pins a tenant or lists the ones it may assert; default: pinned `acme`. */
  tenant?: string
  tenants?: string[]
}

export interface GatewayOptions {
  issuers: IssuerSpec[]
  routes?: Record<string, unknown>[]
  jwks?: Record<string, unknown>
  extra?: Record<string, unknown>
}

/** Builds a GATEHOUSE config table for tests: third-party issuers, routes to ORIGIN. */
export function testConfig(o: GatewayOptions): Record<string, unknown> {
  return {
    public_url: 'https://gatehouse.test',
    issuers: o.issuers.map((i) => ({
      audiences: ['api'],
      algorithms: ['EdDSA', 'ES256', 'RS256', 'PS256'],
      jwks_uri: `${i.issuer}/jwks.json`,
      ...(i.tenant === undefined && i.tenants === undefined ? { tenant: 'acme' } : {}),
      ...i,
    })),
    jwks: { refetch_cooldown_seconds: 30, isolate_ttl_seconds: 300, ...o.jwks },
    routes: o.routes ?? [
      { prefix: '/api/public', origin: ORIGIN, auth: 'none', origin_secret: 'ORIGIN_SECRET_TEST' },
      {
        prefix: '/api/echo',
        origin: ORIGIN,
        auth: 'token',
        read_scopes: ['echo:read'],
        write_scopes: ['echo:write'],
        origin_secret: 'ORIGIN_SECRET_TEST',
      },
    ],
    ...o.extra,
  }
}

/** A fresh env object (so the isolate parses this config once) over the real bindings. */
export function testEnv(config: unknown, overrides: Record<string, unknown> = {}): typeof env {
  return { ...env, GATEHOUSE: config, ...overrides } as typeof env
}

export interface OriginCall {
  readonly method: string
  readonly url: string
  readonly headers: Headers
  readonly body: string
}

export interface Network {
  readonly originCalls: OriginCall[]
  /** JWKS fetches per issuer URL. */
  readonly jwksFetches: Map<string, number>
  /** Keys served per issuer; tests mutate it to rotate. */
  readonly jwks: Map<string, TestKey[]>
  /** Issuers whose JWKS endpoint is down (answers 503). */
  readonly down: Set<string>
  /** Extra raw JWKs to publish per issuer (for hostile or odd keys). */
  readonly extraJwks: Map<string, unknown[]>
  /** Optional origin behaviour; the default echoes the request as JSON. */
  origin?: (request: Request) => Promise<Response> | Response
}

/** Spies on fetch: JWKS for known issuers, an echo at ORIGIN, anything else is refused. */
export function installNetwork(): Network {
  const net: Network = {
    originCalls: [],
    jwksFetches: new Map(),
    jwks: new Map(),
    down: new Set(),
    extraJwks: new Map(),
  }
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init as RequestInit)
    const url = new URL(request.url)
    const issuer = url.origin
    if (url.pathname === '/jwks.json' && net.jwks.has(issuer)) {
      net.jwksFetches.set(issuer, (net.jwksFetches.get(issuer) ?? 0) + 1)
      if (net.down.has(issuer)) throw new TypeError('Network connection lost.')
      const keys = [
        ...(net.jwks.get(issuer) ?? []).map((k) => k.jwk),
        ...(net.extraJwks.get(issuer) ?? []),
      ]
      return Response.json({ keys })
    }
    if (url.origin === ORIGIN || url.hostname.endsWith('.origin.test')) {
      const body = request.body === null ? '' : await request.text()
      net.originCalls.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body,
      })
      if (net.origin) {
        const copy = new Request(request.url, { method: request.method, headers: request.headers })
        return abortable(
          Promise.resolve().then(() => net.origin!(copy)),
          init?.signal ?? null,
        )
      }
      return Response.json({ method: request.method, path: url.pathname, query: url.search })
    }
    throw new TypeError(`unexpected fetch in test: ${url.origin}`)
  })
  return net
}

/** Like real fetch: an aborted signal rejects the pending answer with its reason. */
function abortable(answer: Promise<Response>, signal: AbortSignal | null): Promise<Response> {
  if (signal === null) return answer
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    answer.then(resolve, reject)
  })
}

/** Sends a request through the Worker's fetch entry (src/http/entry.ts) with a real ExecutionContext. */
export async function send(
  gatewayEnv: typeof env,
  path: string,
  init: RequestInit & { token?: string } = {},
): Promise<Response> {
  const headers = new Headers(init.headers)
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`)
  const ctx = createExecutionContext()
  const response = await handleFetch(
    new Request(`https://gatehouse.test${path}`, { ...init, headers }),
    gatewayEnv,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

/** One issuer with one EdDSA key, its JWKS served, and an env whose config trusts it. */
export async function setupIssuer(
  net: Network,
  keys: TestKey[],
  spec: Partial<IssuerSpec> = {},
  options: Partial<GatewayOptions> = {},
) {
  const issuer = spec.issuer ?? uniqueIssuer()
  net.jwks.set(issuer, keys)
  const config = testConfig({ issuers: [{ issuer, ...spec }], ...options })
  return { issuer, config, env: testEnv(config) }
}

export interface LogCapture {
  readonly lines: Record<string, unknown>[]
  /** The `reason` of the most recent request log line. */
  lastReason(): unknown
}

/** Captures the gateway's JSON log lines (console.log/warn/error) for assertions. */
export function captureLogs(): LogCapture {
  const lines: Record<string, unknown>[] = []
  const record = (...args: unknown[]) => {
    const text = args.map(String).join(' ')
    if (text.startsWith('{"ts":')) lines.push(JSON.parse(text) as Record<string, unknown>)
  }
  vi.spyOn(console, 'log').mockImplementation(record)
  vi.spyOn(console, 'warn').mockImplementation(record)
  vi.spyOn(console, 'error').mockImplementation(record)
  return {
    lines,
    lastReason: () => [...lines].reverse().find((l) => l.event === 'request')?.reason,
  }
}

/**
 * Sends a request that must be refused: asserts its status and that the origin was not called
 * for it (a security check that only looks at the status cannot tell a refusal from a leak).
 */
export async function expectRefused(
  net: Network,
  gatewayEnv: typeof env,
  path: string,
  init: RequestInit & { token?: string },
  status: number,
): Promise<Response> {
  const before = net.originCalls.length
  const res = await send(gatewayEnv, path, init)
  expect(res.status, path).toBe(status)
  expect(net.originCalls.length, `origin reached for refused ${path}`).toBe(before)
  return res
}

/** The services the app builds for this env (its key store, signer, shards): what a test inspects. */
export function servicesOf(gatewayEnv: object): Services {
  const services = servicesFor(gatewayEnv as Env)
  if (services instanceof ConfigError) throw services
  return services
}
