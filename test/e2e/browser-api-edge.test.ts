// APIs the way clients really call them (issue #14), in real Chromium and over plain HTTP against
// the real `npm start` stack. A single-page app on another origin — http://localhost:<port>, the
// demo profile's CORS origin (http://localhost:5173) with its port rewritten like the stack's
// others — calls /api/echo with a bearer token (the gateway answers the preflight itself) and
// opens a WebSocket to the critical /api/secure with the token offered as a subprotocol, which
// the gateway closes with 4401 within websocket_check_seconds of a logout. gatehouse/client opens
// a socket for a DPoP-bound session (token and proof as subprotocols), refreshing first when the
// token is about to expire. And /api/limited refuses the sixth request of a window with 429,
// through the real Workers Rate Limiting binding of wrangler dev.
//
// The app cannot log in itself (the web login's Origin allowlist is the gateway's own): the test
// logs a throwaway user in as a mobile client and hands the page the access token.

import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { GatehouseClient, GatehouseClientOptions } from 'gatehouse/client'
import { call, createUser, sessionOf, split, withBearer } from '../helpers/stack/attack-kit'
import { useChromium } from '../helpers/stack/browser'
import { expectLoggedReason } from '../helpers/stack/gateway-log'
import type { Answer } from '../helpers/stack/raw-http'
import { GATEWAY, originCount } from '../helpers/stack/stack'

const { spaPort, log } = inject('gatehouse')
/** The app's origin: what the stack's config lists in /api/echo's cors.origins. */
const SPA = `http://localhost:${spaPort}`
const SOCKET_BASE = GATEWAY.replace(/^http/, 'ws')
/** The demo profile's websocket_check_seconds (the default): how soon a revoked socket closes. */
const CHECK_PERIOD_MS = 5_000
/** On top of the period: the logout's write, the shard query, the close frames, the page event. */
const CLOSE_SLACK_MS = 1_500
/** /api/limited: 5 requests per 10 s per subject (config/demo.json, wrangler.toml). */
const LIMIT = 5
const PERIOD_MS = 10_000
/** Room a burst of six requests needs inside one window. */
const BURST_ROOM_MS = 2_000

const newContext = useChromium()

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url')

/** RFC 7638 thumbprint of an EC public key: what cnf.jkt names. */
function thumbprint(jwk: { crv?: unknown; kty?: unknown; x?: unknown; y?: unknown }): string {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
}

/** The app's page: nothing but a document of its own origin for the test's script to run in. */
let spa: Server
beforeAll(async () => {
  spa = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end('<!doctype html><meta charset="utf-8"><title>a single-page app</title>')
  })
  await new Promise<void>((resolve, reject) => {
    spa.once('error', reject)
    spa.listen(spaPort, '127.0.0.1', resolve)
  })
})
afterAll(() => new Promise<void>((resolve) => spa.close(() => resolve())))

// ---- sockets in the page --------------------------------------------------------------------

/** What the page saw of one socket: the subprotocol chosen, the messages, the close. */
interface SocketRecord {
  protocol: string
  messages: string[]
  closed: { code: number; reason: string; at: number } | null
}

declare global {
  interface Window {
    __sockets?: Record<string, SocketRecord>
    __track?: (name: string, ws: WebSocket) => void
    __gatehouse?: GatehouseClient
    __createGatehouseClient?: (options: GatehouseClientOptions) => GatehouseClient
  }
}

/**
 * Defines window.__track in the page: it records a socket's events under a name and answers the
 * origin's first message (its JSON report of the upgrade) with `ping`, which the origin echoes.
 */
async function installTracker(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__sockets ??= {}
    window.__track ??= (name, ws) => {
      const record: SocketRecord = { protocol: '', messages: [], closed: null }
      window.__sockets![name] = record
      ws.addEventListener('open', () => (record.protocol = ws.protocol))
      ws.addEventListener('message', (e) => {
        record.messages.push(String(e.data))
        if (record.messages.length === 1) ws.send('ping')
      })
      ws.addEventListener('close', (e) => {
        record.closed = { code: e.code, reason: e.reason, at: Date.now() }
      })
    }
  })
}

/** Waits until the socket got the origin's report and the echo (or closed); returns its record. */
async function echoed(page: Page, name: string): Promise<SocketRecord> {
  await page.waitForFunction(
    (n) => {
      const r = window.__sockets?.[n]
      return r !== undefined && (r.messages.length >= 2 || r.closed !== null)
    },
    name,
    { polling: 25 },
  )
  return page.evaluate((n) => window.__sockets![n]!, name)
}

/** The demo origin's report of the upgrade it accepted (scripts/demo-origin.mjs). */
interface UpgradeReport {
  method: string
  path: string
  query: string
  protocol: string
  headers: Record<string, string>
  gateway: { ok: boolean; identity?: { subject: string }; claims?: Record<string, unknown> }
}

/** The WebSocket handshakes a page sent, as Chromium put them on the wire (DevTools protocol). */
async function recordHandshakes(page: Page): Promise<{ url: string; protocols: string[] }[]> {
  const cdp: CDPSession = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  const urls = new Map<string, string>()
  const sent: { url: string; protocols: string[] }[] = []
  cdp.on('Network.webSocketCreated', (e) => urls.set(e.requestId, e.url))
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
    const offer = Object.entries(e.request.headers).find(
      ([name]) => name.toLowerCase() === 'sec-websocket-protocol',
    )?.[1]
    sent.push({
      url: urls.get(e.requestId) ?? '',
      protocols: String(offer ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    })
  })
  return sent
}

/** The gateway's `websocket_closed` log line of an upgrade, once written. */
async function loggedClose(requestId: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined
  await expect
    .poll(async () => {
      const text = await readFile(log, 'utf8')
      found = text
        .split('\n')
        .filter((line) => line.includes(requestId) && line.includes('"websocket_closed"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)[0]
      return found !== undefined
    })
    .toBe(true)
  return found!
}

/** An answer standing for a request seen only on the wire: its status and X-Request-Id. */
const wireAnswer = (status: number, requestId: string): Answer => ({
  status,
  headers: new Headers({ 'x-request-id': requestId }),
  body: '',
})

// ---- the tests ------------------------------------------------------------------------------

describe('a single-page app on another origin, in Chromium', () => {
  it('calls /api/echo cross-origin: the gateway answers the preflight 204 and only the GET reaches the origin', async () => {
    const { accessToken } = await sessionOf(await createUser('spa-cors'), 'spa-cors')
    const page = await (await newContext()).newPage()
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Network.enable')
    const answered: { method: string; type: string; status: number; requestId: string }[] = []
    const methods = new Map<string, string>()
    cdp.on('Network.requestWillBeSent', (e) => methods.set(e.requestId, e.request.method))
    cdp.on('Network.responseReceived', (e) => {
      if (!e.response.url.startsWith(`${GATEWAY}/api/`)) return
      const id = Object.entries(e.response.headers).find(
        ([n]) => n.toLowerCase() === 'x-request-id',
      )
      answered.push({
        method: methods.get(e.requestId) ?? '',
        type: e.type,
        status: e.response.status,
        requestId: String(id?.[1] ?? ''),
      })
    })
    await page.goto(`${SPA}/`)
    const before = await originCount()

    // README § CORS per route, as the app runs it.
    const result = await page.evaluate(
      async ({ gateway, token }) => {
        const res = await fetch(`${gateway}/api/echo/hello?from=spa`, {
          headers: { authorization: `Bearer ${token}` },
        })
        const echo = (await res.json()) as { method: string; headers: Record<string, string> }
        return { status: res.status, method: echo.method, subject: echo.headers['x-auth-subject'] }
      },
      { gateway: GATEWAY, token: accessToken },
    )
    expect(result).toMatchObject({ status: 200, method: 'GET' })
    expect(result.subject).toMatch(/^usr_/)
    expect(await originCount()).toBe(before + 1) // the GET; the preflight stayed at the edge

    await expect.poll(() => answered.length).toBe(2)
    const [preflight, actual] = answered
    expect(preflight).toMatchObject({ method: 'OPTIONS', type: 'Preflight', status: 204 })
    expect(actual).toMatchObject({ method: 'GET', status: 200 })
    const line = await expectLoggedReason(wireAnswer(204, preflight!.requestId), null)
    expect(line).toMatchObject({ method: 'OPTIONS', route: '/api/echo', status: 204 })
  })

  it('gets nothing from a route that does not list it: the browser refuses the answer, the origin is untouched', async () => {
    const { accessToken } = await sessionOf(await createUser('spa-nocors'), 'spa-nocors')
    const page = await (await newContext()).newPage()
    await page.goto(`${SPA}/`)
    const before = await originCount()
    const outcome = await page.evaluate(
      async ({ gateway, token }) => {
        try {
          const res = await fetch(`${gateway}/api/secure/x`, {
            headers: { authorization: `Bearer ${token}` },
          })
          return `answered ${res.status}`
        } catch (err) {
          return (err as Error).name
        }
      },
      { gateway: GATEWAY, token: accessToken },
    )
    expect(outcome).toBe('TypeError') // a CORS failure: no grant on /api/secure
    expect(await originCount()).toBe(before)
  })

  it('opens a WebSocket with its token as a subprotocol; the gateway closes it 4401 within the check period of a logout', async () => {
    const user = await createUser('spa-socket')
    const { accessToken } = await sessionOf(user, 'spa-socket')
    const page = await (await newContext()).newPage()
    const handshakes = await recordHandshakes(page)
    await page.goto(`${SPA}/`)
    await installTracker(page)
    const before = await originCount()

    // README § WebSockets, as the app runs it.
    await page.evaluate(
      ({ url, token }) => {
        window.__track!('secure', new WebSocket(url, [`gatehouse.bearer.${token}`, 'chat']))
      },
      { url: `${SOCKET_BASE}/api/secure/live?room=1`, token: accessToken },
    )
    const socket = await echoed(page, 'secure')
    expect(socket.closed).toBeNull()
    expect(socket.protocol).toBe('chat')
    expect(socket.messages[1]).toBe('ping')
    expect(await originCount()).toBe(before + 1)
    expect(handshakes[0]?.protocols).toEqual([`gatehouse.bearer.${accessToken}`, 'chat'])

    // What the origin received: the verified identity, the app's own subprotocol, no credential.
    const seen = JSON.parse(socket.messages[0]!) as UpgradeReport
    expect(seen).toMatchObject({ method: 'GET', path: '/api/secure/live', query: '?room=1' })
    expect(seen.gateway.ok).toBe(true)
    expect(seen.gateway.identity?.subject).toBe(user.id)
    expect(seen.headers['x-auth-subject']).toBe(user.id)
    expect(seen.headers['x-auth-revocation']).toBe('checked')
    expect(seen.headers['sec-websocket-protocol']).toBe('chat')
    expect(seen.protocol).toBe('chat')
    expect(seen.headers.authorization).toBeUndefined()
    expect(socket.messages[0]).not.toContain(split(accessToken).s)
    expect(socket.messages[0]).not.toContain('gatehouse.bearer')
    const requestId = seen.headers['x-request-id']!
    const upgrade = await expectLoggedReason(wireAnswer(101, requestId), null)
    expect(upgrade).toMatchObject({ route: '/api/secure', tier: 'critical', revocation: 'checked' })

    const logout = await call('/auth/logout', {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(logout.status).toBe(204)
    const loggedOutAt = Date.now()
    await page.waitForFunction(
      () => (window.__sockets?.secure?.closed ?? null) !== null,
      undefined,
      {
        polling: 25,
        timeout: CHECK_PERIOD_MS + CLOSE_SLACK_MS + 5_000,
      },
    )
    const closed = (await page.evaluate(() => window.__sockets!.secure!.closed))!
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: 'revoked' })
    expect(closed.at - loggedOutAt).toBeLessThanOrEqual(CHECK_PERIOD_MS + CLOSE_SLACK_MS)
    expect(await loggedClose(requestId)).toMatchObject({ route: '/api/secure', result: 'revoked' })
  })
})

describe('gatehouse/client sockets, in Chromium', () => {
  /**
   * A document of the gateway's own origin (its /healthz) that imports gatehouse/client as the
   * demo page does (GET /demo/client/index.js) and logs alice in: a DPoP-bound web session.
   */
  async function signedInClient(refreshMarginSeconds?: number) {
    const page = await (await newContext()).newPage()
    const handshakes = await recordHandshakes(page)
    await page.goto(`${GATEWAY}/healthz`)
    await installTracker(page)
    // A module script of the page, as an app would import the library.
    await page.addScriptTag({
      type: 'module',
      content: `import { createGatehouseClient } from '/demo/client/index.js'
        window.__createGatehouseClient = createGatehouseClient`,
    })
    await page.waitForFunction(() => window.__createGatehouseClient !== undefined)
    const loginToken = await page.evaluate(
      async ({ gateway, margin }) => {
        const client = window.__createGatehouseClient!({
          baseUrl: gateway,
          tenant: 'demo',
          ...(margin === null ? {} : { refreshMarginSeconds: margin }),
        })
        await client.login({ username: 'alice', password: 'alice-demo-password' })
        window.__gatehouse = client
        return client.accessToken()!
      },
      { gateway: GATEWAY, margin: refreshMarginSeconds ?? null },
    )
    return { page, handshakes, loginToken }
  }

  it('offers the token and a fresh proof for GET of the socket URL; the origin sees the key', async () => {
    const { page, handshakes, loginToken } = await signedInClient()
    await page.evaluate(async () => {
      window.__track!(
        'bound',
        await window.__gatehouse!.websocket('/api/secure/live?room=2', 'chat'),
      )
    })
    const socket = await echoed(page, 'bound')
    expect(socket.closed).toBeNull()
    expect(socket.protocol).toBe('chat')
    const jkt = await page.evaluate(() => window.__gatehouse!.keyThumbprint())

    const [handshake] = handshakes
    expect(handshake?.url).toBe(`${SOCKET_BASE}/api/secure/live?room=2`)
    const [bearer, dpop, marker, own] = handshake!.protocols
    expect(handshake!.protocols).toHaveLength(4)
    expect(bearer).toBe(`gatehouse.bearer.${loginToken}`)
    // The marker the gateway answers with when the origin picks none of the app's own.
    expect(marker).toBe('gatehouse')
    expect(own).toBe('chat')
    const proof = split(dpop!.slice('gatehouse.dpop.'.length))
    expect(proof.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
    expect(thumbprint(proof.header.jwk as object)).toBe(jkt)
    expect(proof.payload).toMatchObject({
      htm: 'GET',
      htu: `${GATEWAY}/api/secure/live`, // the http form, without the query
      ath: sha256(loginToken),
    })

    const seen = JSON.parse(socket.messages[0]!) as UpgradeReport
    expect(seen.gateway.ok).toBe(true)
    expect(seen.headers['x-auth-dpop-jkt']).toBe(jkt)
    expect(seen.gateway.claims?.cnf).toEqual({ jkt })
    expect(seen.headers.dpop).toBeUndefined()
    expect(seen.headers['sec-websocket-protocol']).toBe('chat')
    expect(socket.messages[0]).not.toContain(dpop!)
  })

  it('refreshes before opening a socket when the token is about to expire', async () => {
    // A margin as long as the token's life: every token is "about to expire".
    const { page, handshakes, loginToken } = await signedInClient(900)
    await page.evaluate(async () => {
      window.__track!('renewed', await window.__gatehouse!.websocket('/api/echo/live', ['chat']))
    })
    const socket = await echoed(page, 'renewed')
    expect(socket.closed).toBeNull()
    const current = await page.evaluate(() => window.__gatehouse!.accessToken())
    expect(current).not.toBe(loginToken)
    expect(handshakes[0]?.protocols[0]).toBe(`gatehouse.bearer.${current}`)
  })
})

describe('rate limits per identity, through the real stack', () => {
  it('answers the sixth request to /api/limited in a window 429 with Retry-After, before the origin', async () => {
    const { accessToken } = await sessionOf(await createUser('rate-limited'), 'rate-limited')
    // The binding counts in fixed windows aligned to the epoch (as Cloudflare's does): start the
    // burst where six requests fit in one.
    const intoWindow = Date.now() % PERIOD_MS
    if (intoWindow > PERIOD_MS - BURST_ROOM_MS) {
      await new Promise((r) => setTimeout(r, PERIOD_MS - intoWindow + 50))
    }
    const before = await originCount()
    const answers: Answer[] = []
    for (let i = 0; i <= LIMIT; i++) answers.push(await withBearer('/api/limited/x', accessToken))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429])
    expect(await originCount()).toBe(before + LIMIT)

    const refused = answers[LIMIT]!
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(PERIOD_MS / 1000)
    expect(refused.headers.get('ratelimit-policy')).toBe(`"gatehouse";q=${LIMIT};w=10`)
    await expectLoggedReason(refused, 'rate_limited')
  })
})
