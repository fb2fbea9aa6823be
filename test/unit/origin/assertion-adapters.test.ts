// gatehouse/origin's adapters: each hands the verifier the request as received (Host header, raw
// target, the body's bytes), answers a bare 401 naming no check, tells onRejected which one, and
// passes the claims (and, in Hono, a still-readable body) to the handler.

import { Hono } from 'hono'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  contentDigest,
  createAssertionVerifier,
  expressAssertion,
  honoAssertion,
  readNodeBody,
  verifyNodeRequest,
  type AssertionClaims,
  type AssertionFailure,
} from '../../../origin/index.js'

const ISSUER = 'https://gatehouse.test'
const ORIGIN = 'http://127.0.0.1:9100'
const SECRET = 'origin-secret-for-adapter-tests-0123456789'
const encoder = new TextEncoder()
let jti = 0

async function assertion(method: string, target: string, body?: Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    iss: ISSUER,
    aud: ORIGIN,
    iat: now,
    exp: now + 30,
    jti: `adapter-${++jti}.0`,
    htm: method,
    htu: `${ORIGIN}${target}`,
    body: body === undefined ? 'none' : 'bound',
    ...(body === undefined ? {} : { body_digest: await contentDigest(body) }),
    sub: 'usr_alice',
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'gatehouse-assertion+jwt' })
    .sign(encoder.encode(SECRET))
}

const verifier = () => createAssertionVerifier({ issuer: ISSUER, audience: ORIGIN, secret: SECRET })

/** A Node IncomingMessage as far as the adapters read it: headers, url, a body stream. */
function nodeRequest(method: string, url: string, headers: Record<string, string>, body = '') {
  let ended = false
  return {
    method,
    url,
    headers: { host: '127.0.0.1:9100', ...headers },
    body: undefined as unknown,
    get readableEnded() {
      return ended
    },
    async *[Symbol.asyncIterator]() {
      if (body !== '') yield encoder.encode(body)
      ended = true
    },
  }
}

/** Just enough of Express's res and next to see what the middleware did. */
function expressRun(req: ReturnType<typeof nodeRequest>, rejected: AssertionFailure[] = []) {
  const res = {
    statusCode: 200,
    locals: {} as { gatehouse?: AssertionClaims },
    sent: '',
    status(code: number) {
      this.statusCode = code
      return this
    },
    type() {
      return this
    },
    send(text: string) {
      this.sent = text
    },
    end() {},
  }
  return new Promise<{ res: typeof res; next: boolean; error?: unknown }>((resolve) => {
    const done = () => resolve({ res, next: false })
    res.send = (text: string) => {
      res.sent = text
      done()
    }
    res.end = done
    expressAssertion(verifier(), { onRejected: (r) => rejected.push(r) })(req, res, (error) =>
      resolve({ res, next: error === undefined, error }),
    )
  })
}

describe('Node http', () => {
  it('verifies with the Host header and req.url, the body read by readNodeBody', async () => {
    const body = '{"qty":2}'
    const token = await assertion('POST', '/orders?x=%2F', encoder.encode(body))
    const req = nodeRequest('POST', '/orders?x=%2F', { 'gatehouse-assertion': token }, body)
    const result = await verifyNodeRequest(verifier(), req, await readNodeBody(req))
    expect(result).toMatchObject({ ok: true, claims: { sub: 'usr_alice' } })
  })

  it('refuses when the Host header names another origin', async () => {
    const token = await assertion('GET', '/orders')
    const req = nodeRequest('GET', '/orders', { 'gatehouse-assertion': token, host: 'other:1' })
    expect(await verifyNodeRequest(verifier(), req, null)).toEqual({
      ok: false,
      reason: 'wrong_host',
    })
  })

  it('refuses a body over the limit while reading it', async () => {
    const req = nodeRequest('POST', '/x', {}, 'x'.repeat(11))
    await expect(readNodeBody(req, 10)).rejects.toMatchObject({ code: 'body_too_large' })
  })
})

describe('Express', () => {
  it('reads the body, passes the claims in res.locals and the bytes in req.body', async () => {
    const body = '{"qty":2}'
    const token = await assertion('POST', '/orders', encoder.encode(body))
    const req = nodeRequest('POST', '/orders', { 'gatehouse-assertion': token }, body)
    const { res, next } = await expressRun(req)
    expect(next).toBe(true)
    expect(res.locals.gatehouse?.sub).toBe('usr_alice')
    expect(new TextDecoder().decode(req.body as Uint8Array)).toBe(body)
  })

  it('answers a bare 401 for another body and tells onRejected why', async () => {
    const token = await assertion('POST', '/orders', encoder.encode('{"qty":2}'))
    const req = nodeRequest('POST', '/orders', { 'gatehouse-assertion': token }, '{"qty":200}')
    const rejected: AssertionFailure[] = []
    const { res, next } = await expressRun(req, rejected)
    expect({ next, status: res.statusCode, body: res.sent }).toEqual({
      next: false,
      status: 401,
      body: '{"error":"invalid_gatehouse_assertion"}',
    })
    expect(rejected).toEqual(['body_mismatch'])
  })

  it('uses the bytes express.raw() left in req.body', async () => {
    const body = encoder.encode('raw bytes')
    const token = await assertion('PUT', '/orders/1', body)
    const req = nodeRequest('PUT', '/orders/1', { 'gatehouse-assertion': token })
    req.body = body
    expect((await expressRun(req)).next).toBe(true)
  })

  it('fails loudly when a body parser consumed the body first', async () => {
    const req = nodeRequest('POST', '/orders', {}, '{}')
    for await (const _ of req) void _
    req.body = {}
    const { error } = await expressRun(req)
    expect(String(error)).toMatch(/mount expressAssertion first/)
  })

  it('answers 413 past maxBodyBytes', async () => {
    const req = nodeRequest('POST', '/orders', {}, 'x'.repeat(20))
    const res = { statusCode: 0, status: (c: number) => ((res.statusCode = c), res), end() {} }
    await new Promise<void>((resolve) => {
      res.end = resolve
      expressAssertion(verifier(), { maxBodyBytes: 10 })(req, res, () => resolve())
    })
    expect(res.statusCode).toBe(413)
  })
})

describe('Hono', () => {
  function app(rejected: AssertionFailure[] = []) {
    const hono = new Hono<{ Variables: { gatehouse: AssertionClaims } }>()
    hono.use('*', honoAssertion(verifier(), { onRejected: (r) => rejected.push(r) }))
    hono.all('*', async (c) =>
      c.json({
        sub: c.get('gatehouse').sub,
        body: c.req.method === 'GET' ? null : await c.req.json(),
      }),
    )
    return hono
  }
  const hostHeader = { host: '127.0.0.1:9100' }

  it('sets c.get("gatehouse") and leaves the body readable', async () => {
    const body = '{"qty":2}'
    const token = await assertion('POST', '/orders?id=1', encoder.encode(body))
    const res = await app().request(`${ORIGIN}/orders?id=1`, {
      method: 'POST',
      headers: { ...hostHeader, 'gatehouse-assertion': token },
      body,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ sub: 'usr_alice', body: { qty: 2 } })
  })

  it('answers a bare 401 for a replayed assertion', async () => {
    const hono = app()
    const token = await assertion('GET', '/orders')
    const send = () =>
      hono.request(`${ORIGIN}/orders`, { headers: { ...hostHeader, 'gatehouse-assertion': token } })
    expect((await send()).status).toBe(200)
    const replay = await send()
    expect(replay.status).toBe(401)
    expect(await replay.json()).toEqual({ error: 'invalid_gatehouse_assertion' })
  })

  it('refuses another path and says why to onRejected only', async () => {
    const rejected: AssertionFailure[] = []
    const token = await assertion('GET', '/orders')
    const res = await app(rejected).request(`${ORIGIN}/admin`, {
      headers: { ...hostHeader, 'gatehouse-assertion': token },
    })
    expect(res.status).toBe(401)
    expect(rejected).toEqual(['wrong_target'])
  })
})
