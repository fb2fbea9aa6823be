// WebSockets through the gateway (issue #14), inside workerd with a WebSocket echo origin: the
// upgrade is authenticated before anything reaches the origin, the origin sees the signed
// identity, messages relay both ways, and the gateway closes the socket at the token's expiry
// and within websocket_check_seconds of a revocation, at a bounded cost per socket.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { authConfig, webSession } from '../helpers/auth'
import {
  captureLogs,
  installNetwork,
  send,
  setupIssuer,
  testEnv,
  type Network,
} from '../helpers/gateway'
import { makeKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

let net: Network
/** What the echo origin saw on each upgrade. */
let upgrades: Headers[]

beforeEach(() => {
  net = installNetwork()
  upgrades = []
  net.origin = (request) => {
    if (request.headers.get('upgrade') !== 'websocket') return Response.json({ ok: true })
    upgrades.push(request.headers)
    const pair = new WebSocketPair()
    const server = pair[1]
    server.accept()
    server.send(JSON.stringify(Object.fromEntries(request.headers)))
    server.addEventListener('message', (e) => server.send(e.data))
    const protocol = (request.headers.get('sec-websocket-protocol') ?? '').split(',')[0]?.trim()
    return new Response(null, {
      status: 101,
      webSocket: pair[0],
      headers: protocol ? { 'sec-websocket-protocol': protocol } : {},
    })
  }
})
afterEach(() => vi.restoreAllMocks())

/** authConfig with upgrades allowed on /api/echo (low) and /api/secure (critical). */
function socketGateway(
  extra: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
) {
  const config = authConfig()
  const routes = (config.routes as Record<string, unknown>[]).map((r) =>
    r.prefix === '/api/echo' || r.prefix === '/api/secure' ? { ...r, websocket: true } : r,
  )
  return testEnv({ ...config, routes, websocket_check_seconds: 1, ...extra }, overrides)
}

function upgrade(gateway: typeof env, path: string, headers: Record<string, string> = {}) {
  return send(gateway, path, { headers: { upgrade: 'websocket', ...headers } })
}

interface Socket {
  readonly ws: WebSocket
  readonly messages: string[]
  readonly closed: Promise<{ code: number; reason: string; afterMs: number }>
}

function open(res: Response): Socket {
  const ws = res.webSocket
  if (ws === null) throw new Error(`no socket (${res.status})`)
  ws.accept()
  const messages: string[] = []
  const started = Date.now()
  ws.addEventListener('message', (e) => messages.push(String(e.data)))
  const closed = new Promise<{ code: number; reason: string; afterMs: number }>((resolve) =>
    ws.addEventListener('close', (e) =>
      resolve({ code: e.code, reason: e.reason, afterMs: Date.now() - started }),
    ),
  )
  return { ws, messages, closed }
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  expect(check()).toBe(true)
}

describe('WebSocket upgrades', () => {
  it('refuses an upgrade without a token with 401, and connects nothing to the origin', async () => {
    const gw = socketGateway()
    const logs = captureLogs()
    const res = await upgrade(gw, '/api/echo/socket')
    expect(res.status).toBe(401)
    expect(res.webSocket).toBeNull()
    expect(logs.lastReason()).toBe('missing_token')
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses an upgrade on a route that does not allow them', async () => {
    const gw = socketGateway()
    const s = await webSession(gw, ['echo:read'])
    const res = await upgrade(gw, '/api/standard/socket', { authorization: `Bearer ${s.access}` })
    expect(res.status).toBe(400)
    expect(net.originCalls).toHaveLength(0)
  })

  it('relays both ways, and the origin sees the signed identity', async () => {
    const gw = socketGateway()
    const s = await webSession(gw, ['echo:read'])
    const res = await upgrade(gw, '/api/echo/socket', { authorization: `Bearer ${s.access}` })
    expect(res.status).toBe(101)
    const socket = open(res)
    await until(() => socket.messages.length === 1)
    const seen = JSON.parse(socket.messages[0] as string) as Record<string, string>
    expect(seen['x-auth-subject']).toBe(s.user.id)
    expect(seen['gatehouse-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(seen.authorization).toBeUndefined()
    socket.ws.send('ping')
    await until(() => socket.messages.length === 2)
    expect(socket.messages[1]).toBe('ping')
    socket.ws.close(1000, 'done')
  })

  it('takes a browser’s token from a subprotocol, never passing it to the origin', async () => {
    const gw = socketGateway()
    const s = await webSession(gw, ['echo:read'])
    const res = await upgrade(gw, '/api/echo/socket', {
      'sec-websocket-protocol': `gatehouse.bearer.${s.access}, chat`,
    })
    expect(res.status).toBe(101)
    expect(res.headers.get('sec-websocket-protocol')).toBe('chat')
    const socket = open(res)
    await until(() => socket.messages.length === 1)
    expect(upgrades[0]?.get('sec-websocket-protocol')).toBe('chat')
    expect(socket.messages[0]).not.toContain(s.access)
    socket.ws.close(1000, 'done')
  })

  it('answers the gatehouse marker when the origin picks none of the client’s subprotocols', async () => {
    const gw = socketGateway()
    const s = await webSession(gw, ['echo:read'])
    // Only credentials and the marker: the origin is offered nothing and picks nothing.
    const res = await upgrade(gw, '/api/echo/socket', {
      'sec-websocket-protocol': `gatehouse.bearer.${s.access}, gatehouse`,
    })
    expect(res.status).toBe(101)
    expect(res.headers.get('sec-websocket-protocol')).toBe('gatehouse')
    const socket = open(res)
    await until(() => socket.messages.length === 1)
    expect(upgrades[0]?.get('sec-websocket-protocol')).toBeNull()
    socket.ws.close(1000, 'done')
  })

  it('closes a socket on a critical route within the check period after its session is revoked', async () => {
    const gw = socketGateway()
    const s = await webSession(gw, ['echo:read'])
    const socket = open(
      await upgrade(gw, '/api/secure/socket', { authorization: `Bearer ${s.access}` }),
    )
    await until(() => socket.messages.length === 1)
    const loggedOutAt = Date.now()
    expect((await send(gw, '/auth/logout', { method: 'POST', token: s.access })).status).toBe(204)
    const closed = await socket.closed
    expect(closed).toMatchObject({ code: 4401, reason: 'revoked' })
    expect(Date.now() - loggedOutAt).toBeLessThan(2500) // websocket_check_seconds = 1
  })

  it('closes a socket when its token expires, on every tier', async () => {
    const key = await makeKey('EdDSA')
    const { issuer, config } = await setupIssuer(net, [key])
    const routes = (config.routes as Record<string, unknown>[]).map((r) => ({
      ...r,
      websocket: true,
    }))
    const gw = testEnv({ ...config, routes })
    const token = await mint(key, { issuer, scope: 'echo:read', expiresIn: 2 })
    const socket = open(await upgrade(gw, '/api/echo/socket', { authorization: `Bearer ${token}` }))
    const closed = await socket.closed
    expect(closed).toMatchObject({ code: 4401, reason: 'token expired' })
    expect(closed.afterMs).toBeGreaterThan(1000)
    expect(closed.afterMs).toBeLessThan(3500)
  })

  it('asks the revocation shard once per check period per socket, and never on a low route', async () => {
    let checks = 0
    const counting = {
      idFromName: (name: string) => env.REVOCATIONS.idFromName(name),
      get: (id: DurableObjectId) => {
        const real = env.REVOCATIONS.get(id)
        return new Proxy(real, {
          get: (target, prop) => {
            if (prop === 'check') checks++
            return Reflect.get(target, prop) as unknown
          },
        })
      },
    }
    const gw = socketGateway({}, { REVOCATIONS: counting })
    const s = await webSession(gw, ['echo:read'])
    const critical = open(
      await upgrade(gw, '/api/secure/socket', { authorization: `Bearer ${s.access}` }),
    )
    const low = open(await upgrade(gw, '/api/echo/socket', { authorization: `Bearer ${s.access}` }))
    const atOpen = checks // the upgrade's own check
    await new Promise((r) => setTimeout(r, 3300))
    const perPeriod = (checks - atOpen) / 3.3
    // One socket on a critical route: ~1 call per second at websocket_check_seconds = 1, i.e.
    // 60 / websocket_check_seconds a minute (12 at the default 5 s); the low-tier socket adds none.
    expect(perPeriod).toBeGreaterThan(0.6)
    expect(perPeriod).toBeLessThan(1.3)
    critical.ws.close(1000, 'done')
    low.ws.close(1000, 'done')
  })
})
