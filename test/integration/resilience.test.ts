// Fault injection without touching the code under test: the REVOCATIONS binding is replaced by
// a namespace whose stubs fail or hang, and the origin fetch fails, hangs or recovers. Each case
// asserts the degraded behaviour DESIGN.md states for it.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { drainMetrics } from '../../src/observability/metrics'
import { backoffDelayMs } from '../../src/proxy/forward'
import { authConfig, webSession } from '../helpers/auth'
import { installNetwork, send, testEnv, type Network } from '../helpers/gateway'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

/** A REVOCATIONS namespace whose shards answer with `behaviour` (reject, hang, or succeed). */
function fakeRevocations(behaviour: () => Promise<unknown>) {
  const counter = { calls: 0 }
  const namespace = {
    idFromName: () => ({}),
    get: () => ({
      check: () => {
        counter.calls++
        return behaviour()
      },
    }),
  }
  return { namespace, counter }
}

function envWith(overrides: Record<string, unknown>, routes?: Record<string, unknown>[]) {
  const config = authConfig()
  if (routes) config.routes = routes
  return testEnv(config, overrides)
}

function revocationCounts(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const d of drainMetrics()) {
    if (d.name === 'gatehouse_revocation_checks_total')
      out[`${d.labels.tier}:${d.labels.result}`] = d.value
  }
  return out
}

describe('revocation store down', () => {
  it('fails closed on critical routes (503 + Retry-After) and open on standard ones, counted', async () => {
    const { namespace } = fakeRevocations(() => Promise.reject(new Error('shard unreachable')))
    const gw = envWith({ REVOCATIONS: namespace })
    const token = (await webSession(gw)).access
    drainMetrics()
    const critical = await send(gw, '/api/secure/x', { token })
    expect(critical.status).toBe(503)
    expect(Number(critical.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(net.originCalls).toHaveLength(0)
    const standard = await send(gw, '/api/standard/x', { token })
    expect(standard.status).toBe(200)
    expect(net.originCalls.at(-1)?.headers.get('x-auth-revocation')).toBe(
      'unavailable; policy=fail-open',
    )
    expect(revocationCounts()).toEqual({ 'critical:fail_closed': 1, 'standard:fail_open': 1 })
  })

  it('treats a shard slower than the timeout as down', async () => {
    const { namespace } = fakeRevocations(() => new Promise(() => undefined))
    const config = { ...authConfig(), revocation_timeout_ms: 150 }
    const gw = testEnv(config, { REVOCATIONS: namespace })
    const token = (await webSession(gw)).access
    expect((await send(gw, '/api/secure/x', { token })).status).toBe(503)
  })

  it('opens the breaker after consecutive failures, then recovers through one probe', async () => {
    let down = true
    const { namespace, counter } = fakeRevocations(() =>
      down ? Promise.reject(new Error('down')) : Promise.resolve({ revoked: false, by: null }),
    )
    const gw = envWith({ REVOCATIONS: namespace })
    const token = (await webSession(gw)).access
    for (let i = 0; i < 3; i++)
      expect((await send(gw, '/api/secure/x', { token })).status).toBe(503)
    expect(counter.calls).toBe(3)
    // Open: answered at once, the store is not asked.
    expect((await send(gw, '/api/secure/x', { token })).status).toBe(503)
    expect(counter.calls).toBe(3)
    down = false
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6_000 })
    expect((await send(gw, '/api/secure/x', { token })).status).toBe(200)
    expect(counter.calls).toBe(4)
    expect((await send(gw, '/api/secure/x', { token })).status).toBe(200)
    expect(counter.calls).toBe(5)
  })
})

describe('origin failures', () => {
  const route = (prefix: string, origin: string, extra: Record<string, unknown> = {}) => ({
    prefix,
    origin,
    auth: 'none',
    origin_secret: 'ORIGIN_SECRET_TEST',
    ...extra,
  })
  const uniqueOrigin = () => `https://${crypto.randomUUID().slice(0, 8)}.origin.test`

  it('answers 504 when the origin does not answer in time', async () => {
    const gw = envWith({}, [route('/api/slow', uniqueOrigin(), { timeout_ms: 100 })])
    net.origin = () => new Promise(() => undefined)
    expect((await send(gw, '/api/slow/x')).status).toBe(504)
    expect(net.originCalls).toHaveLength(1) // a timeout is not retried
  })

  /** Attempts the gateway made at `origin` (fetch calls, whether or not the mock recorded one). */
  const attemptsAt = (origin: string) =>
    vi
      .mocked(globalThis.fetch)
      .mock.calls.filter(([input]) => new Request(input as RequestInfo).url.startsWith(origin))
      .length

  it.each([
    ['a POST with a body', 'POST', 'once'],
    ['a POST without a body', 'POST', undefined],
    ['a PUT with a body', 'PUT', 'once'],
    ['a DELETE with a body', 'DELETE', 'once'],
  ])('never retries %s, and answers 502 when the origin refuses', async (_name, method, body) => {
    const origin = uniqueOrigin()
    const gw = envWith({}, [route('/api/flaky', origin, { retries: 2 })])
    net.origin = () => {
      throw new TypeError('connection refused')
    }
    expect((await send(gw, '/api/flaky/x', { method, body })).status).toBe(502)
    expect(attemptsAt(origin)).toBe(1)
    expect(net.originCalls).toHaveLength(1)
  })

  it('does retry a body-less PUT (idempotent, nothing consumed)', async () => {
    const origin = uniqueOrigin()
    const gw = envWith({}, [route('/api/flaky', origin, { retries: 2 })])
    let failures = 1
    net.origin = () => {
      if (failures-- > 0) throw new TypeError('connection reset')
      return new Response('ok')
    }
    expect((await send(gw, '/api/flaky/x', { method: 'PUT' })).status).toBe(200)
    expect(attemptsAt(origin)).toBe(2)
  })

  it('retries a GET that failed before any response byte, then succeeds', async () => {
    const gw = envWith({}, [route('/api/flaky', uniqueOrigin())])
    let failures = 1
    net.origin = () => {
      if (failures-- > 0) throw new TypeError('connection reset')
      return new Response('ok')
    }
    const res = await send(gw, '/api/flaky/x')
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(2)
    // Each attempt carries its own assertion jti (`<request id>.<attempt>`), so an origin that
    // keeps jtis single-use accepts the retry.
    const jtis = net.originCalls.map((c) => {
      const payload = (c.headers.get('gatehouse-assertion') ?? '').split('.')[1] ?? ''
      const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
      return (JSON.parse(json) as { jti: string }).jti
    })
    const requestId = res.headers.get('x-request-id')
    expect(jtis).toEqual([`${requestId}.0`, `${requestId}.1`])
  })

  it('spreads retries with full jitter, capped', () => {
    expect(backoffDelayMs(0, 0)).toBe(0)
    expect(backoffDelayMs(0, 0.999)).toBeLessThan(50)
    expect(backoffDelayMs(3, 0.5)).toBe(200)
    expect(backoffDelayMs(10, 0.999)).toBeLessThan(1000)
  })

  it('opens the origin breaker after repeated failures and answers 503 without calling it', async () => {
    const gw = envWith({}, [route('/api/down', uniqueOrigin(), { retries: 0 })])
    net.origin = () => {
      throw new TypeError('connection refused')
    }
    for (let i = 0; i < 5; i++) expect((await send(gw, '/api/down/x')).status).toBe(502)
    const open = await send(gw, '/api/down/x')
    expect(open.status).toBe(503)
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(net.originCalls).toHaveLength(5)
  })

  it('caps in-flight requests per origin (bulkhead) so one slow origin cannot take them all', async () => {
    const slowOrigin = uniqueOrigin()
    const gw = envWith({}, [
      route('/api/slow', slowOrigin, { max_in_flight: 1, timeout_ms: 500 }),
      route('/api/fast', uniqueOrigin()),
    ])
    net.origin = (req) =>
      new URL(req.url).origin === slowOrigin
        ? new Promise((resolve) => setTimeout(() => resolve(new Response('late')), 200))
        : new Response('fast')
    const first = send(gw, '/api/slow/a')
    const second = await send(gw, '/api/slow/b')
    expect(second.status).toBe(503)
    expect((await send(gw, '/api/fast/c')).status).toBe(200)
    expect((await first).status).toBe(200)
  })
})

describe('revocation breaker per shard', () => {
  it('one failing shard opens only its own breaker: other subjects stay checked', async () => {
    const calls = new Map<string, number>()
    const namespace = {
      idFromName: (name: string) => ({ name }),
      get: (id: { name: string }) => ({
        check: () => {
          calls.set(id.name, (calls.get(id.name) ?? 0) + 1)
          // The shard of every subject in tenant "flooded" is down.
          return id.name.includes('"flooded"')
            ? Promise.reject(new Error('shard overloaded'))
            : Promise.resolve({ revoked: false, by: null })
        },
      }),
    }
    const gw = envWith({ REVOCATIONS: namespace })
    const flooded = await webSession(gw, ['echo:read'], 'flooded')
    const other = await webSession(gw, ['echo:read'], 'acme')
    for (let i = 0; i < 5; i++) {
      expect((await send(gw, '/api/standard/x', { token: flooded.access })).status).toBe(200)
      expect(net.originCalls.at(-1)?.headers.get('x-auth-revocation')).toBe(
        'unavailable; policy=fail-open',
      )
    }
    // The flooded shard's breaker is open: asked 3 times (the threshold), then not at all.
    const floodedShard = [...calls.keys()].find((name) => name.includes('"flooded"')) ?? ''
    expect(calls.get(floodedShard)).toBe(3)
    expect((await send(gw, '/api/standard/x', { token: other.access })).status).toBe(200)
    expect(net.originCalls.at(-1)?.headers.get('x-auth-revocation')).toBe('checked')
  })
})
