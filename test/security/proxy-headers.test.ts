// Proxy header hygiene: an origin trusts X-Auth-* only because the gateway set and signed them,
// so nothing a client sends in that namespace survives in any spelling; forwarding facts and
// method/URL overrides are the gateway's own; Connection cannot strip what the gateway adds; and
// the refresh cookie never reaches an origin. Accepted cases assert the origin saw alice's
// signed identity (or none on the public route) and not the client's value.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  call,
  createUser,
  expectAccepted,
  expectRejected,
  originCount,
  rawPath,
  rawSocket,
  sessionOf,
  type Echo,
} from '../helpers/stack/attack-kit'

let token: string
let readerToken: string
let readerId: string
const EVIL = 'usr_demo_admin'

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice, 'proxy-phone')).accessToken
  const reader = await createUser('reader', ['echo:read'])
  readerId = reader.id
  readerToken = (await sessionOf(reader, 'reader')).accessToken
})

const asAlice = (headers: Record<string, string>, path = '/api/echo/x', method = 'GET') =>
  call(path, { method, headers: { ...headers, authorization: `Bearer ${token}` } })

/** Every header the origin saw whose value the client planted. */
const planted = (echo: Echo, value: string) =>
  Object.entries(echo.headers).filter(([, v]) => String(v).includes(value))

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

  it.each([
    ['a space before the colon', 'X-Auth-Subject : usr_demo_admin'],
    ['a tab before the colon', 'X-Auth-Subject\t: usr_demo_admin'],
    ['a tab before the value', 'X-Auth-Subject:\tusr_demo_admin'],
    ['no space after the colon', 'X-Auth-Subject:usr_demo_admin'],
  ])('never forwards an X-Auth-Subject line with %s', async (_name, line) => {
    const before = await originCount()
    const res = await rawSocket('GET /api/echo/x HTTP/1.1', [
      line,
      `Authorization: Bearer ${token}`,
      'Connection: close',
    ])
    if (res.status === 400) {
      expect(await originCount()).toBe(before) // the runtime refused the malformed line
      return
    }
    expect(res.status).toBe(200)
    expect(await originCount()).toBe(before + 1)
    const echo = JSON.parse(res.body) as Echo
    expect(echo.headers['x-auth-subject']).toBe(SUBJECT.alice)
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
  })

  // Regression: X-Forwarded-Host states the gateway's public_url host, never the client's Host
  // header (host-header poisoning of origins that build links from it).
  it('states its own host in X-Forwarded-Host, never the client’s Host header', async () => {
    const echo = await expectAccepted(null, () =>
      rawPath('/api/public/x', { headers: { host: 'attacker.example' } }),
    )
    expect(echo.headers['x-forwarded-host']).not.toBe('attacker.example')
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
    ['X-Auth-Signature', 'x-auth-signature'],
    ['X-Auth-Subject', 'x-auth-subject'],
    ['several gateway headers', 'x-auth-signature, x-auth-timestamp, x-auth-nonce, x-request-id'],
  ])('keeps authenticating and signing when Connection lists %s', async (_name, listed) => {
    const echo = await expectAccepted(SUBJECT.alice, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        `Connection: ${listed}`,
      ]),
    )
    expect(echo.headers['x-auth-signature']).toMatch(/^v1=/)
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

  it('keeps a request that carries both Content-Length and Transfer-Encoding from smuggling a second one', async () => {
    const smuggled = 'GET /api/echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
    const body = `0\r\n\r\n${smuggled}`
    const before = await originCount()
    const res = await rawSocket(
      'POST /api/public/x HTTP/1.1',
      ['Transfer-Encoding: chunked', 'Connection: close'],
      body,
    )
    expect([200, 400]).toContain(res.status)
    expect(await originCount()).toBeLessThanOrEqual(before + 1)
    if (res.status === 200) expect((JSON.parse(res.body) as Echo).path).toBe('/api/public/x')
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
