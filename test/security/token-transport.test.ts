// Token type and transport: only an access token, only in one Authorization header with the
// Bearer scheme. A refresh token or an ID-token-like JWT is no access token; a token in the
// query, a cookie or a form body is refused or ignored, never honoured; duplicate or
// odd credentials never resolve to "the first one that works".

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  attackerKey,
  call,
  expectAccepted,
  expectRejected,
  forge,
  postJson,
  rawSocket,
  sessionOf,
  split,
  withBearer,
} from '../helpers/stack/attack-kit'

let token: string
let refreshToken: string

beforeAll(async () => {
  const s = await sessionOf(DEMO.alice, 'transport-phone')
  token = s.accessToken
  refreshToken = s.refreshToken
})

const auth = (authorization: string, path = '/api/echo/x') =>
  call(path, { headers: { authorization } })

describe('token types', () => {
  it('refuses a refresh token presented as a bearer token', async () => {
    await expectRejected(401, () => withBearer('/api/echo/x', refreshToken))
  })

  it('refuses a refresh token on the critical route too', async () => {
    await expectRejected(401, () => withBearer('/api/secure/x', refreshToken))
  })

  it('refuses an access token presented as a refresh token, and consumes nothing', async () => {
    await expectRejected([400, 401], () =>
      postJson('/auth/refresh', { refresh_token: token, device_id: 'transport-phone' }),
    )
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', token))
  })

  it('refuses an ID-token-shaped JWT (typ JWT, nonce, azp, at_hash)', async () => {
    const t = split(token)
    const key = await attackerKey('EdDSA')
    const idToken = await forge(
      'EdDSA',
      key.privateKey,
      { ...t.header, typ: 'JWT' },
      {
        ...t.payload,
        nonce: 'n-0S6_WzA2Mj',
        azp: 'gatehouse-web',
        at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
        auth_time: t.payload.iat,
      },
    )
    await expectRejected(401, () => withBearer('/api/echo/x', idToken))
  })
})

describe('where the token travels', () => {
  it.each([
    ['access_token in the query', (tok: string) => `/api/echo/x?access_token=${tok}`],
    ['ACCESS_TOKEN in the query', (tok: string) => `/api/echo/x?a=1&ACCESS_TOKEN=${tok}`],
    ['a percent-encoded parameter name', (tok: string) => `/api/echo/x?access%5Ftoken=${tok}`],
    ['a parameter without a value', () => '/api/echo/x?access_token'],
  ])('refuses %s with 400 invalid_request', async (_name, path) => {
    const res = await expectRejected(400, () => call(path(token)))
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"')
  })

  it('refuses a query token even when a valid header is also sent', async () => {
    await expectRejected(400, () => withBearer(`/api/echo/x?access_token=${token}`, token))
  })

  it.each([
    ['access_token', () => `access_token=${token}`],
    ['the refresh cookie name', () => `__Secure-gatehouse_refresh=${token}`],
    ['Authorization', () => `Authorization=Bearer ${token}`],
  ])('never reads an access token from a cookie named %s', async (_name, cookie) => {
    const res = await expectRejected(401, () =>
      call('/api/echo/x', { headers: { cookie: cookie() } }),
    )
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"')
  })

  it('never reads an access token from a form body', async () => {
    await expectRejected(401, () =>
      call('/api/echo/x', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${token}`,
      }),
    )
  })

  it('never reads an access token from a JSON body', async () => {
    await expectRejected(401, () =>
      call('/api/echo/x', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ access_token: token }),
      }),
    )
  })
})

describe('the Authorization header', () => {
  it.each([
    ['lower-case scheme', () => `bearer ${token}`],
    ['upper-case scheme', () => `BEARER ${token}`],
    ['two spaces after the scheme', () => `Bearer  ${token}`],
  ])('accepts the %s (RFC 6750 §2.1)', async (_name, value) => {
    await expectAccepted(SUBJECT.alice, () => auth(value()))
  })

  it.each([
    ['two credentials in one header', () => `Bearer ${token}, Bearer ${token}`],
    ['the Basic scheme', () => `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`],
    ['the Token scheme', () => `Token ${token}`],
    ['the DPoP scheme', () => `DPoP ${token}`],
    ['the MAC scheme', () => `MAC ${token}`],
    ['a scheme glued to the token', () => `Bearer${token}`],
    ['a colon after the scheme', () => `Bearer: ${token}`],
    ['a tab after the scheme', () => `Bearer\t${token}`],
    ['a trailing parameter', () => `Bearer ${token} realm=x`],
    ['the scheme alone', () => 'Bearer'],
    ['a quoted token', () => `Bearer "${token}"`],
  ])('refuses %s with 400 or 401', async (_name, value) => {
    await expectRejected([400, 401], () => auth(value()))
  })

  it('refuses two Authorization header lines, even when one is valid', async () => {
    await expectRejected(400, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        'Authorization: Bearer junk.junk.junk',
        'Connection: close',
      ]),
    )
  })

  it('refuses two identical Authorization header lines', async () => {
    await expectRejected(400, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        `Authorization: Bearer ${token}`,
        'Connection: close',
      ]),
    )
  })

  it('refuses a token carrying raw UTF-8 bytes', async () => {
    await expectRejected([400, 401], () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}\u00e9`,
        'Connection: close',
      ]),
    )
  })

  it('refuses an empty Authorization header with a bare challenge', async () => {
    const res = await expectRejected(401, () =>
      rawSocket('GET /api/echo/x HTTP/1.1', ['Authorization:', 'Connection: close']),
    )
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"')
  })

  it('refuses a Proxy-Authorization header in place of Authorization', async () => {
    await expectRejected(401, () =>
      call('/api/echo/x', { headers: { 'proxy-authorization': `Bearer ${token}` } }),
    )
  })
})
