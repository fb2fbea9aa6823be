// Proxy header hygiene: an origin trusts the caller only through the Gatehouse-Assertion the
// gateway signs (docs/ASSERTION.md) — bound to the method, the URL and the body's digest — and
// reads the unsigned X-Auth-* conveniences beside it only after verifying it; so nothing a client
// sends in either namespace (or as Content-Digest) survives in any spelling; forwarding facts and
// method/URL overrides are the gateway's own; Connection cannot strip what the gateway adds; and
// the refresh cookie never reaches an origin. Accepted cases assert the demo origin verified the
// assertion and saw alice (or nobody on the public route), not the client's value.

import net from 'node:net'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import {
  DEMO,
  GATEWAY,
  SUBJECT,
  call,
  createUser,
  expectAccepted,
  expectRejected,
  originCount,
  rawPath,
  rawSocket,
  sessionOf,
  type Answer,
  type Echo,
} from '../helpers/stack/attack-kit'
import { expectLoggedReason } from '../helpers/stack/gateway-log'

let token: string
let readerToken: string
let readerId: string
const EVIL = 'usr_28c_demo_admin'
/** The gateway's own public host (public_url follows the port the stack was started on). */
const GATEWAY_HOST = new URL(GATEWAY).host

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice, 'proxy-phone')).accessToken
  const reader = await createUser('reader', ['echo:read'])
  readerId = reader.id
  readerToken = (await sessionOf(reader, 'reader')).accessToken
})

const asAlice = (
  headers: Record<string, string>,
  path = '/api/echo/x',
  method = 'GET',
  body?: string,
) => call(path, { method, body, headers: { ...headers, authorization: `Bearer ${token}` } })

/** Every header the origin saw whose value the client planted. */
const planted = (echo: Echo, value: string) =>
  Object.entries(echo.headers).filter(([, v]) => String(v).includes(value))

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/
/** The demo origin's own URL: the audience and the htu origin of the assertions it receives. */
const ORIGIN = inject('gatehouse').origin

/** What the demo origin concluded from the Gatehouse-Assertion (scripts/demo-origin.mjs). */
interface AssertionVerdict {
  ok: boolean
  via?: 'assertion' | 'headers' | 'both'
  reason?: string
  claims?: Record<string, unknown>
}
const verdictOf = (echo: Echo) => (echo.gateway ?? { ok: false }) as AssertionVerdict

describe('the identity assertion the origin verifies', () => {
  it('names alice and binds the method, the origin URL as sent and the absence of a body', async () => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      asAlice({}, '/api/echo/orders?id=7&x=%2F'),
    )
    expect(verdictOf(echo)).toMatchObject({
      ok: true,
      via: 'assertion',
      claims: {
        iss: GATEWAY,
        aud: ORIGIN,
        htm: 'GET',
        htu: `${ORIGIN}/api/echo/orders?id=7&x=%2F`,
        body: 'none',
        sub: SUBJECT.alice,
        tid: 'demo',
      },
    })
    // identity = assertion: the legacy signature is gone, the X-Auth-* headers are unsigned.
    expect(echo.headers['x-auth-signature']).toBeUndefined()
  })

  it('binds a POST body by its RFC 9530 digest, which the origin recomputes', async () => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      asAlice({ 'content-type': 'application/json' }, '/api/echo/pay', 'POST', '{"amount":100}'),
    )
    const { claims } = verdictOf(echo)
    expect(claims).toMatchObject({ htm: 'POST', body: 'bound' })
    expect(claims?.body_digest).toBe(echo.headers['content-digest'])
  })

  it('replaces a client Content-Digest with the digest of the body it forwards', async () => {
    const forged = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
    const echo = await expectAccepted(SUBJECT.alice, () =>
      asAlice({ 'content-digest': forged }, '/api/echo/pay', 'POST', '{"amount":100}'),
    )
    expect(echo.headers['content-digest']).not.toBe(forged)
    expect(verdictOf(echo).claims?.body_digest).toBe(echo.headers['content-digest'])
  })

  it('asserts an anonymous caller on the public route: no subject claim', async () => {
    const echo = await expectAccepted(null, () => call('/api/public/x'))
    expect(verdictOf(echo).claims).toMatchObject({ htm: 'GET', body: 'none' })
    expect(verdictOf(echo).claims?.sub).toBeUndefined()
  })
})

describe('identity header spoofing', () => {
  it.each([
    'X-Auth-Subject',
    'x-auth-subject',
    'X-AUTH-SUBJECT',
    'x_auth_subject',
    'X_Auth_Subject',
    'X-Auth_Subject',
    'X-Auth-Tenant',
    'X-Auth-Scopes',
    'X-Auth-Issuer',
    'X-Auth-Session',
    'X-Auth-Client',
    'X-Auth-Revocation',
    'X-Auth-Signature',
    'X-Auth-Timestamp',
    'X-Auth-Nonce',
    'X-Auth-Anything-New',
    'X-Gatehouse-Subject',
    'Gatehouse-Assertion',
    'gatehouse-assertion',
    'Gatehouse-Anything-New',
    'Content-Digest',
    'X-Request-Id',
  ])('never forwards a client %s on a token route', async (name) => {
    const echo = await expectAccepted(SUBJECT.alice, () => asAlice({ [name]: EVIL }))
    expect(planted(echo, EVIL)).toEqual([])
  })

  it.each(['X-Auth-Subject', 'x_auth_subject', 'X-Auth-Scopes', 'X-Auth-Tenant'])(
    'never forwards a client %s on the public route (the origin sees an anonymous call)',
    async (name) => {
      const echo = await expectAccepted(null, () =>
        call('/api/public/x', { headers: { [name]: EVIL } }),
      )
      expect(planted(echo, EVIL)).toEqual([])
    },
  )

  // The local runtime accepts all four lines (RFC 9112 §5.1 would have whitespace before the
  // colon refused with 400; that is the runtime's parser, not src/): so each one reaches the
  // Worker, and the gateway must drop it. The status is pinned so a refusal cannot hide a leak.
  it.each([
    ['a space before the colon', 'X-Auth-Subject : usr_28c_demo_admin'],
    ['a tab before the colon', 'X-Auth-Subject\t: usr_28c_demo_admin'],
    ['a tab before the value', 'X-Auth-Subject:\tusr_28c_demo_admin'],
    ['no space after the colon', 'X-Auth-Subject:usr_28c_demo_admin'],
  ])('never forwards an X-Auth-Subject line with %s', async (_name, line) => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        line,
        `Authorization: Bearer ${token}`,
        'Connection: close',
      ]),
    )
    expect(planted(echo, EVIL)).toEqual([])
  })

  it('never forwards duplicate X-Auth-Subject lines', async () => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `X-Auth-Subject: ${EVIL}`,
        `x-auth-subject: ${EVIL}`,
        `Authorization: Bearer ${token}`,
        'Connection: close',
      ]),
    )
    expect(planted(echo, EVIL)).toEqual([])
  })

  it('refuses an obs-folded header line smuggling a second identity line', async () => {
    await expectRejected(400, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        ` X-Auth-Subject: ${EVIL}`,
        'Connection: close',
      ]),
    )
  })
})

describe('forwarding and override spoofing', () => {
  it.each([
    ['X-Forwarded-For', '6.6.6.6'],
    ['X-Forwarded-Host', 'attacker.example'],
    ['X-Forwarded-Proto', 'gopher'],
    ['X-Forwarded-Prefix', '/admin-evil'],
    ['Forwarded', 'for=6.6.6.6;host=attacker.example;proto=https'],
    ['X-Real-IP', '6.6.6.6'],
    ['True-Client-IP', '6.6.6.6'],
    ['X-Client-IP', '6.6.6.6'],
    ['X-Cluster-Client-IP', '6.6.6.6'],
    ['X-Original-URL', '/admin-evil'],
    ['X-Original-URI', '/admin-evil'],
    ['X-Rewrite-URL', '/admin-evil'],
    ['X-Override-URL', '/admin-evil'],
    ['X-HTTP-Method-Override', 'DELETE-EVIL'],
    ['X-HTTP-Method', 'DELETE-EVIL'],
    ['X-Method-Override', 'DELETE-EVIL'],
    ['X-Original-Method', 'DELETE-EVIL'],
    ['X-Envoy-Original-Path', '/admin-evil'],
  ])('never forwards a client %s', async (name, value) => {
    const echo = await expectAccepted(SUBJECT.alice, () => asAlice({ [name]: value }))
    expect(planted(echo, value)).toEqual([])
    expect(echo.headers['x-forwarded-proto']).toBe('http')
    expect(echo.headers['x-forwarded-host']).toBe(GATEWAY_HOST)
  })

  // Regression: X-Forwarded-Host states the gateway's public_url host, never the client's Host
  // header (host-header poisoning of origins that build links from it).
  it('states its own host in X-Forwarded-Host, never the client’s Host header', async () => {
    const echo = await expectAccepted(null, () =>
      rawPath('/api/public/x', { headers: { host: 'attacker.example' } }),
    )
    expect(echo.headers['x-forwarded-host']).toBe(GATEWAY_HOST)
  })

  it('judges and forwards the real method: a read-only GET with a DELETE override stays a GET', async () => {
    const echo = await expectAccepted(readerId, () =>
      call('/api/echo/x', {
        headers: { authorization: `Bearer ${readerToken}`, 'x-http-method-override': 'DELETE' },
      }),
    )
    expect(echo.method).toBe('GET')
    expect(echo.headers['x-http-method-override']).toBeUndefined()
  })

  it('refuses a read-only token a POST that claims to be a GET', async () => {
    await expectRejected(403, () =>
      call('/api/echo/x', {
        method: 'POST',
        headers: { authorization: `Bearer ${readerToken}`, 'x-http-method-override': 'GET' },
        body: '{}',
      }),
    )
  })
})

describe('hop-by-hop abuse', () => {
  it.each([
    ['Authorization', 'authorization'],
    ['Gatehouse-Assertion', 'gatehouse-assertion'],
    ['X-Auth-Subject', 'x-auth-subject'],
    [
      'several gateway headers',
      'gatehouse-assertion, content-digest, x-auth-subject, x-request-id',
    ],
  ])('keeps authenticating and asserting when Connection lists %s', async (_name, listed) => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        `Connection: ${listed}`,
      ]),
    )
    expect(echo.headers['gatehouse-assertion']).toMatch(COMPACT_JWS)
    expect(verdictOf(echo).via).toBe('assertion')
    expect(echo.headers.authorization).toBeUndefined()
  })

  it('drops the hop-by-hop set and proxy credentials', async () => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Proxy-Authorization: Basic eA==',
        'Proxy-Connection: keep-alive',
        'Connection: close',
      ]),
    )
    for (const name of [
      'keep-alive',
      'te',
      'proxy-authorization',
      'proxy-connection',
      'authorization',
    ]) {
      expect(echo.headers[name]).toBeUndefined()
    }
  })

  // LIMITATION (runtime, not src/): the runtime in front of the Worker consumes the Connection
  // header, so the Worker never sees which headers it names; header-rules.ts drops them when it
  // can (its unit and integration tests). Kept as an expected failure to notice if that changes.
  it.fails('drops a header the client names in Connection', async () => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        'Connection: x-secret-hop, close',
        'X-Secret-Hop: 1',
      ]),
    )
    expect(echo.headers['x-secret-hop']).toBeUndefined()
  })

  // Smuggled requests aim at the public route: one at a token route would be refused 401 by the
  // gateway whether or not it was smuggled, and hide it.
  const SMUGGLED = 'GET /api/public/smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
  const settle = () => new Promise((resolve) => setTimeout(resolve, 500))

  // LIMITATION (local runtime, not src/): with both Content-Length and Transfer-Encoding, the
  // runtime reads the chunked framing and then serves the bytes after the terminator as a second
  // request, although the client sent Connection: close (RFC 9112 §6.1 and §9.6 say close, and
  // process nothing more). Expected failure, to notice a change; the case below shows the second
  // request is at least an ordinary one the gateway judges and signs.
  it.fails(
    'serves nothing after the chunked terminator of a request with both framings',
    async () => {
      const before = await originCount()
      const res = await rawSocket(
        'POST /api/public/x HTTP/1.1',
        ['Transfer-Encoding: chunked', 'Connection: close'],
        `0\r\n\r\n${SMUGGLED}`,
      )
      expect(res.status).toBe(200)
      expect((JSON.parse(res.body) as Echo).path).toBe('/api/public/x')
      await settle()
      expect(await originCount()).toBe(before + 1)
    },
  )

  it('makes a request smuggled after the chunked terminator one the gateway judges and signs', async () => {
    const before = await originCount()
    const answers = await rawExchange(
      'POST /api/public/x HTTP/1.1',
      ['Transfer-Encoding: chunked', 'Connection: close'],
      `0\r\n\r\n${SMUGGLED}GET /api/echo/admin HTTP/1.1\r\nHost: x\r\n\r\n`,
    )
    await settle()
    const served = (await originCount()) - before
    // Whatever the runtime made of the bytes, each request the origin saw came through the
    // gateway (signed, verified at the origin) and none reached a token route without a token.
    expect(answers.length).toBeGreaterThanOrEqual(1)
    expect(answers.filter((a) => a.status === 200)).toHaveLength(served)
    for (const answer of answers) {
      if (answer.status !== 200) {
        await expectLoggedReason(answer, 'missing_token')
        continue
      }
      await expectLoggedReason(answer, null)
      const echo = JSON.parse(answer.body) as Echo
      expect(echo.gateway?.ok).toBe(true)
      expect(['/api/public/x', '/api/public/smuggled']).toContain(echo.path)
    }
  })

  it.each([
    ['an obfuscated Transfer-Encoding', ['Transfer-Encoding: xchunked']],
    ['two Transfer-Encoding lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity']],
  ])('serves nothing of a request with %s', async (_name, framing) => {
    const before = await originCount()
    const res = await rawSocket(
      'POST /api/public/x HTTP/1.1',
      [...framing, 'Connection: close'],
      `0\r\n\r\n${SMUGGLED}`,
    )
    // The runtime refuses the framing before the Worker runs (a bare 500 locally; see CONNECT in
    // proxy-paths.test.ts): no request id, no origin request, the smuggled one included.
    expect([400, 500, 501]).toContain(res.status)
    expect(res.headers.get('x-request-id')).toBeNull()
    await settle()
    expect(await originCount()).toBe(before)
  })
})

describe('cookie leakage', () => {
  it.each([
    ['the refresh cookie alone', '__Secure-gatehouse_refresh=ghr1.secret'],
    ['the refresh cookie among others', 'a=1; __Secure-gatehouse_refresh=ghr1.secret; b=2'],
    ['the refresh cookie in lower case', 'a=1; __secure-gatehouse_refresh=ghr1.secret'],
    ['the refresh cookie in upper case', '__SECURE-GATEHOUSE_REFRESH=ghr1.secret; b=2'],
  ])('never forwards %s to an origin, but keeps other cookies', async (_name, cookie) => {
    const echo = await expectAccepted(SUBJECT.alice, () => asAlice({ cookie }))
    expect(JSON.stringify(echo.headers)).not.toContain('ghr1.secret')
    if (cookie.includes('a=1')) expect(echo.headers.cookie).toContain('a=1')
  })

  it('never forwards the refresh cookie sent on a second Cookie line', async () => {
    const echo = await expectAccepted(null, () =>
      rawSocket('GET /api/public/x HTTP/1.1', [
        'Cookie: a=1',
        'Cookie: __Secure-gatehouse_refresh=ghr1.secret',
        'Connection: close',
      ]),
    )
    expect(JSON.stringify(echo.headers)).not.toContain('ghr1.secret')
  })
})

/**
 * Writes one raw request and reads until the server closes, returning every response in the
 * stream (raw-http.ts reads exactly one): how a test sees what a pipelined or smuggled request
 * was answered. Bodies are read by Content-Length or chunked framing.
 */
function rawExchange(requestLine: string, headerLines: string[], body: string): Promise<Answer[]> {
  const { hostname, port, host } = new URL(GATEWAY)
  const text = [
    requestLine,
    `Host: ${host}`,
    ...headerLines,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n')
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text))
    let buffer = Buffer.alloc(0)
    socket.setTimeout(5_000, () => socket.end())
    socket.on('data', (chunk: Buffer) => (buffer = Buffer.concat([buffer, chunk])))
    socket.on('error', reject)
    socket.on('close', () => resolve(parseResponses(buffer)))
  })
}

function parseResponses(buffer: Buffer): Answer[] {
  const answers: Answer[] = []
  let rest: Buffer = buffer
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return answers
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n')
    const headers = new Headers()
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
    }
    rest = rest.subarray(end + 4)
    let body: Buffer = Buffer.alloc(0)
    if (headers.get('transfer-encoding')?.includes('chunked')) {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n')
        if (lineEnd < 0) return answers
        const size = parseInt(rest.subarray(0, lineEnd).toString(), 16)
        rest = rest.subarray(lineEnd + 2)
        if (!(size > 0)) {
          rest = rest.subarray(rest.indexOf('\r\n') + 2)
          break
        }
        body = Buffer.concat([body, rest.subarray(0, size)])
        rest = rest.subarray(size + 2)
      }
    } else {
      const length = Number(headers.get('content-length') ?? rest.length)
      body = rest.subarray(0, length)
      rest = rest.subarray(length)
    }
    const status = Number(statusLine?.split(' ')[1] ?? 0)
    answers.push({ status, headers, body: body.toString() })
  }
}
