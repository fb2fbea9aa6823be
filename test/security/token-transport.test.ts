// Token type and transport: only an access token, only in one Authorization header with the
// Bearer scheme. A refresh token or an ID-token-like JWT is no access token; a token in the
// query, a cookie or a form body is refused or ignored, never honoured; duplicate or
// odd credentials never resolve to "the first one that works". The ID-token case is signed by
// the demo third-party issuer the gateway trusts, so only its type is wrong; every case asserts
// the reason the gateway logged.

import { beforeAll, describe, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  call,
  expectAccepted,
  expectRefused,
  mintDemoIdp,
  nowSeconds,
  postJson,
  rawSocket,
  sessionOf,
  withBearer,
  type Refusal,
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
    await expectRefused('malformed', () => withBearer('/api/echo/x', refreshToken))
  })

  it('refuses a refresh token on the critical route too', async () => {
    await expectRefused('malformed', () => withBearer('/api/secure/x', refreshToken))
  })

  it('refuses an access token presented as a refresh token, and consumes nothing', async () => {
    await expectRefused('bad_request', () =>
      postJson('/auth/refresh', { refresh_token: token, device_id: 'transport-phone' }),
    )
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', token))
  })

  it.each<[string, Record<string, unknown>]>([
    ['typ JWT', { typ: 'JWT' }],
    ['no typ', { typ: undefined }],
  ])(
    'refuses an ID token of a trusted issuer (%s, nonce, azp, at_hash, auth_time) for its type',
    async (_name, header) => {
      const idToken = await mintDemoIdp({
        header,
        claims: {
          nonce: 'n-0S6_WzA2Mj',
          azp: 'gatehouse-web',
          at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
          auth_time: nowSeconds(),
        },
        omit: ['scope'],
      })
      await expectRefused('wrong_type', () => withBearer('/api/echo/x', idToken))
    },
  )
})

describe('where the token travels', () => {
  it.each([
    ['access_token in the query', (tok: string) => `/api/echo/x?access_token=${tok}`],
    ['ACCESS_TOKEN in the query', (tok: string) => `/api/echo/x?a=1&ACCESS_TOKEN=${tok}`],
    ['a percent-encoded parameter name', (tok: string) => `/api/echo/x?access%5Ftoken=${tok}`],
    ['a parameter without a value', () => '/api/echo/x?access_token'],
  ])('refuses %s with 400 invalid_request', async (_name, path) => {
    await expectRefused('invalid_request', () => call(path(token)), {
      detail: /^access_token in the query string$/,
    })
  })

  it('refuses a query token even when a valid header is also sent', async () => {
    await expectRefused('invalid_request', () =>
      withBearer(`/api/echo/x?access_token=${token}`, token),
    )
  })

  it.each([
    ['access_token', () => `access_token=${token}`],
    ['the refresh cookie name', () => `__Secure-gatehouse_refresh=${token}`],
    ['Authorization', () => `Authorization=Bearer ${token}`],
  ])('never reads an access token from a cookie named %s', async (_name, cookie) => {
    await expectRefused('missing_token', () =>
      call('/api/echo/x', { headers: { cookie: cookie() } }),
    )
  })

  it('never reads an access token from a form body', async () => {
    await expectRefused('missing_token', () =>
      call('/api/echo/x', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${token}`,
      }),
    )
  })

  it('never reads an access token from a JSON body', async () => {
    await expectRefused('missing_token', () =>
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

  it.each<[string, () => string, Refusal]>([
    ['two credentials in one header', () => `Bearer ${token}, Bearer ${token}`, 'invalid_request'],
    [
      'the Basic scheme',
      () => `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`,
      'invalid_request',
    ],
    ['the Token scheme', () => `Token ${token}`, 'invalid_request'],
    ['the MAC scheme', () => `MAC ${token}`, 'invalid_request'],
    ['a scheme glued to the token', () => `Bearer${token}`, 'invalid_request'],
    ['a colon after the scheme', () => `Bearer: ${token}`, 'invalid_request'],
    ['a tab after the scheme', () => `Bearer\t${token}`, 'invalid_request'],
    ['a trailing parameter', () => `Bearer ${token} realm=x`, 'invalid_request'],
    ['the scheme alone', () => 'Bearer', 'invalid_request'],
    ['a quoted token', () => `Bearer "${token}"`, 'invalid_request'],
  ])('refuses %s', async (_name, value, reason) => {
    await expectRefused(reason, () => auth(value()), {
      detail: /^not a single Bearer or DPoP credential$/,
    })
  })

  it('refuses a bearer token under the DPoP scheme: it is not bound to any key (RFC 9449 §7.1)', async () => {
    await expectRefused('dpop_binding_mismatch', () => auth(`DPoP ${token}`), {
      detail: /^DPoP scheme with an unbound token$/,
    })
  })

  it('refuses two Authorization header lines, even when one is valid', async () => {
    await expectRefused('invalid_request', () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        'Authorization: Bearer junk.junk.junk',
        'Connection: close',
      ]),
    )
  })

  it('refuses two identical Authorization header lines', async () => {
    await expectRefused('invalid_request', () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}`,
        `Authorization: Bearer ${token}`,
        'Connection: close',
      ]),
    )
  })

  it('refuses a token carrying raw UTF-8 bytes', async () => {
    await expectRefused('invalid_request', () =>
      rawSocket('GET /api/echo/x HTTP/1.1', [
        `Authorization: Bearer ${token}\u00e9`,
        'Connection: close',
      ]),
    )
  })

  it('refuses an empty Authorization header with a bare challenge', async () => {
    await expectRefused('missing_token', () =>
      rawSocket('GET /api/echo/x HTTP/1.1', ['Authorization:', 'Connection: close']),
    )
  })

  it('refuses a Proxy-Authorization header in place of Authorization', async () => {
    await expectRefused('missing_token', () =>
      call('/api/echo/x', { headers: { 'proxy-authorization': `Bearer ${token}` } }),
    )
  })
})
