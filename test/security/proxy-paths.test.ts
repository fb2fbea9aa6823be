// Path tricks and methods, sent raw with node:http (fetch would normalise them first). The local
// runtime (workerd) parses the request target as a WHATWG URL before the Worker runs, so dot
// segments, %2e forms and backslashes arrive already resolved; what a client gets is then
// asserted: never a 5xx, never a route other than the one the normalised path names, and never
// an origin behind a token route without a valid token. Whatever survives normalisation and
// could still be decoded into another path by an origin (encoded slash, backslash or dot, double
// encoding, ';', NUL, broken escapes) is refused with 400.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  createUser,
  expectAccepted,
  expectRefused,
  expectRejected,
  originCount,
  rawPath,
  rawSocket,
  sessionOf,
  type Answer,
} from '../helpers/stack/attack-kit'
import { expectLoggedReason } from '../helpers/stack/gateway-log'

let token: string
let readerToken: string

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice, 'paths-phone')).accessToken
  readerToken = (await sessionOf(await createUser('paths-reader', ['echo:read']), 'r')).accessToken
})

const bearer = () => ({ authorization: `Bearer ${token}` })

/** [raw path, status without a token, status with alice's token, path the origin then sees] */
type Row = [string, number, number, string | null]

const NORMALISED: Row[] = [
  ['/api/echo/../secure/x', 401, 200, '/api/secure/x'],
  ['/api/secure/../echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/../echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/%2e%2e/echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/%2E%2E/echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/.%2e/echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/%2e./echo/x', 401, 200, '/api/echo/x'],
  ['/api/public\\..\\echo\\x', 401, 200, '/api/echo/x'],
  ['/api/public/x;/../../echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/x#/../../echo/x', 401, 200, '/api/echo/x'],
  ['/api/public/./x', 200, 200, '/api/public/x'],
  ['/api/public/%2e/x', 200, 200, '/api/public/x'],
  ['/api/echo/x%20', 401, 200, '/api/echo/x%20'],
  ['/api/public/%E2%80%AE', 200, 200, '/api/public/%E2%80%AE'],
  ['/api/echo/%2E%2E/x', 404, 404, null],
  ['/api/public/x/../../../../echo/x', 404, 404, null],
]

const REFUSED: Row[] = [
  ['/api/public/..%2fecho/x', 400, 400, null],
  ['/api/public%2f..%2fecho/x', 400, 400, null],
  ['/api/public/%2fapi/echo', 400, 400, null],
  ['/api/public/%2e%2e%2fecho', 400, 400, null],
  ['/api/public%5c..%5cecho', 400, 400, null],
  ['/api/public/..%5cecho', 400, 400, null],
  ['/api/public/%252e%252e/echo/x', 400, 400, null],
  ['/api/public/%252f', 400, 400, null],
  ['/api/public/..%255cecho', 400, 400, null],
  ['/api/echo;jsessionid=x', 400, 400, null],
  ['/api/public/..;/echo/x', 400, 400, null],
  ['/api/public/%3b/x', 400, 400, null],
  ['/api/public/%00', 400, 400, null],
  ['/api/public%00/x', 400, 400, null],
  ['/api/public/x%00.json', 400, 400, null],
  ['/api/echo%2e', 400, 400, null],
  ['/api/public//x', 400, 400, null],
  ['//api/public/x', 400, 400, null],
  ['/api/public/%zz', 400, 400, null],
  ['/api/public/x%2', 400, 400, null],
  ['/api/public/%u002e%u002e/echo', 400, 400, null],
  ['/api/echo/x?%00', 400, 400, null],
  ['/api/public/x?a=%00', 400, 400, null],
]

const UNROUTED: Row[] = [
  ['/API/echo/x', 404, 404, null],
  ['/Api/Public/x', 404, 404, null],
  ['/api/ECHO/x', 404, 404, null],
  ['/api/echo%20', 404, 404, null],
  ['/api/echo.', 404, 404, null],
  ['/api/echoes', 404, 404, null],
  ['/api/echo-admin/x', 404, 404, null],
  ['/apiecho/x', 404, 404, null],
]

const routeSubject = (path: string) => (path.startsWith('/api/public') ? null : SUBJECT.alice)

describe.each([
  ['resolved by the runtime to the route it names', NORMALISED],
  ['refused before routing', REFUSED],
  ['matched case-sensitively at segment boundaries', UNROUTED],
])('raw paths %s', (_group, rows) => {
  it.each(rows)('%s: %i without a token, %i with one', async (path, anonymous, authed, seen) => {
    if (anonymous === 200) {
      await expectAccepted(null, () => rawPath(path))
    } else {
      await expectRejected(anonymous, () => rawPath(path))
    }
    if (authed !== 200) {
      await expectRejected(authed, () => rawPath(path, { headers: bearer() }))
      return
    }
    const echo = await expectAccepted(routeSubject(seen as string), () =>
      rawPath(path, { headers: bearer() }),
    )
    expect(echo.path).toBe(seen)
  })
})

describe('long and odd paths', () => {
  it('forwards an 8 000-character path on the public route unchanged', async () => {
    const path = `/api/public/${'a'.repeat(8000)}`
    const echo = await expectAccepted(null, () => rawPath(path))
    expect(echo.path).toBe(path)
  })

  it('refuses a 70 000-character path with a 4xx, never a 5xx', async () => {
    await expectRejected([400, 414, 431], () => rawPath(`/api/echo/${'a'.repeat(70_000)}`))
  })

  it.each([
    ['a raw space', 'GET /api/public/a b HTTP/1.1'],
    ['a raw tab', 'GET /api/public/a\tb HTTP/1.1'],
    ['a raw space before dot segments', 'GET /api/public/a b/../../echo/x HTTP/1.1'],
  ])(
    'ends the request target at %s: the origin sees only the public path before it',
    async (_name, line) => {
      const echo = await expectAccepted(null, () => rawSocket(line, ['Connection: close']))
      expect(echo.path).toBe('/api/public/a')
    },
  )

  it('refuses a raw NUL in the request target', async () => {
    await expectRejected(400, () =>
      rawSocket('GET /api/echo/a\u0000b HTTP/1.1', ['Connection: close']),
    )
  })

  // Regression: percent-encoded bytes must form valid UTF-8; overlong %c0%ae (a '.' to legacy
  // decoders, CVE-2008-2938) is refused before routing.
  it('refuses overlong UTF-8 encodings of dot segments (%c0%ae%c0%ae)', async () => {
    await expectRejected(400, () => rawPath('/api/public/%c0%ae%c0%ae/echo/x'))
  })
})

describe('methods', () => {
  it.each([
    ['TRACE on the public route', 'TRACE', '/api/public/x', {}, 405],
    ['TRACE on a token route with a token', 'TRACE', '/api/echo/x', 'token', 405],
    ['PROPFIND on a token route with a token', 'PROPFIND', '/api/echo/x', 'token', 405],
    ['OPTIONS on a token route without a token', 'OPTIONS', '/api/echo/x', {}, 401],
    ['DELETE with a read-only token', 'DELETE', '/api/echo/x', 'reader', 403],
    ['PUT with a read-only token', 'PUT', '/api/echo/x', 'reader', 403],
    ['PATCH with a read-only token', 'PATCH', '/api/echo/x', 'reader', 403],
  ] as const)('refuses %s', async (_name, method, path, who, status) => {
    const headers =
      who === 'token'
        ? bearer()
        : who === 'reader'
          ? { authorization: `Bearer ${readerToken}` }
          : {}
    const res = await expectRejected(status, () => rawPath(path, { method, headers }))
    if (status === 405) expect(res.headers.get('allow')).toContain('GET')
  })

  it.each(['FOO', 'TRACK', 'get'])(
    'answers the unrecognised method %s with 405/501 (RFC 9110 §9.1)',
    async (method) => {
      await expectRejected([405, 501], () =>
        rawSocket(`${method} /api/echo/x HTTP/1.1`, [
          `Authorization: Bearer ${token}`,
          'Connection: close',
        ]),
      )
    },
  )

  it.each([
    ['CONNECT in authority form', 'CONNECT 127.0.0.1:80 HTTP/1.1'],
    ['CONNECT with a path', 'CONNECT /api/echo/x HTTP/1.1'],
    ['the asterisk form', 'OPTIONS * HTTP/1.1'],
    [
      'an absolute-form target naming another host',
      'GET http://attacker.example/api/public/x HTTP/1.1',
    ],
  ])('never lets %s reach the Worker or an origin', async (_name, line) => {
    const res = await expectRejected([400, 404, 405, 500, 501], () =>
      rawSocket(line, [`Authorization: Bearer ${token}`, 'Connection: close']),
    )
    expect(res.headers.get('x-request-id')).toBeNull()
  })

  // LIMITATION (local runtime, not src/): wrangler dev / workerd answers CONNECT, `OPTIONS *` and
  // absolute-form targets with a bare 500 before the Worker runs (nothing reaches an origin;
  // Cloudflare's edge does not pass these to a Worker). Expected failure, to notice a change.
  it.fails('answers CONNECT with a client error, not a 5xx', async () => {
    const res = await rawSocket('CONNECT /api/echo/x HTTP/1.1', ['Connection: close'])
    expect(res.status).toBeLessThan(500)
  })
})

// M1: the demo's nested route `/api/echo/admin` (tier critical, echo:admin) under `/api/echo`
// (echo:read). Alice holds echo:read and echo:write, never echo:admin: no spelling of `admin`
// may carry her token to the origin. Every request goes out byte for byte on a socket.
describe('the nested admin route under /api/echo', () => {
  let echoAdmin: { id: string; token: string }

  beforeAll(async () => {
    const user = await createUser('paths-echo-admin', ['echo:read', 'echo:admin'])
    echoAdmin = { id: user.id, token: (await sessionOf(user, 'echo-admin')).accessToken }
  })

  const get = (path: string, who: string | null): Promise<Answer> =>
    rawSocket(`GET ${path} HTTP/1.1`, [
      ...(who === null ? [] : [`Authorization: Bearer ${who}`]),
      'Connection: close',
    ])

  /** A refusal the gateway itself made: status, logged reason and detail, origin untouched. */
  async function expectGatewayRefusal(
    status: number,
    reason: string,
    act: () => Promise<Answer>,
    detail?: string,
  ): Promise<Answer> {
    const before = await originCount()
    const res = await act()
    expect(res.status).toBe(status)
    const line = await expectLoggedReason(res, reason, detail)
    expect(await originCount()).toBe(before)
    return Object.assign(res, { route: line.route })
  }

  /** [raw path, logged detail] */
  const BAD_PATHS: [string, string][] = [
    ['/api/echo/%61dmin', 'encoded unreserved character'],
    ['/api/echo/%41DMIN', 'encoded unreserved character'],
    ['/api/echo/a%64min', 'encoded unreserved character'],
    ['/api/echo/%61dmin/x', 'encoded unreserved character'],
    ['/api/echo/%2561dmin', 'forbidden encoding'],
    ['/api/echo/ADMIN', 'case-folded path selects another route'],
    ['/api/echo/Admin', 'case-folded path selects another route'],
    ['/api/echo/aDmIn', 'case-folded path selects another route'],
    ['/api/echo/ADMIN/x', 'case-folded path selects another route'],
    ['/api/echo/x%2f..%2fadmin', 'forbidden encoding'],
    ['/api/echo%2fadmin', 'forbidden encoding'],
    ['/api/echo/%5cadmin', 'forbidden encoding'],
    ['/api/echo/admin%2e', 'forbidden encoding'],
    ['/api/echo/admin;', 'forbidden character'],
    ['/api/echo/admin;x=1', 'forbidden character'],
    ['/api/echo/..;/admin', 'forbidden character'],
    ['/api/echo//admin', 'empty segment'],
    ['//api/echo/admin', 'empty segment'],
    ['/api/echo/ad%00min', 'forbidden encoding'],
    ['/api/echo/%c0%ae%c0%ae/admin', 'invalid utf-8 encoding'],
    ['/api/echo/admin%', 'broken encoding'],
  ]

  it.each(BAD_PATHS)(
    'refuses %j with 400 bad_path (%s), with a token or without',
    async (path, detail) => {
      await expectGatewayRefusal(400, 'bad_path', () => get(path, token), detail)
      await expectGatewayRefusal(400, 'bad_path', () => get(path, null), detail)
    },
  )

  // The runtime resolves these (dot segments, %2e, '\') before the Worker runs: they are the
  // admin route itself, refused for its scope.
  it.each([
    '/api/echo/x/../admin',
    '/api/echo/x/%2e%2e/admin',
    '/api/echo/x/.%2E/admin',
    '/api/echo/./admin',
    '/api/echo/admin/',
    '/api/echo\\admin',
    '/api/echo/x\\..\\admin',
  ])('refuses %j as the admin route: 403 for alice, 401 without a token', async (path) => {
    const res = await expectRefused('insufficient_scope', () => get(path, token), {
      scope: 'echo:admin',
    })
    expect((await expectLoggedReason(res, 'insufficient_scope')).route).toBe('/api/echo/admin')
    await expectRefused('missing_token', () => get(path, null))
  })

  it.each(['/API/ECHO/ADMIN', '/api/Echo/admin'])(
    'answers %j 404: no route claims it',
    async (path) => {
      await expectGatewayRefusal(404, 'route_not_found', () => get(path, token))
    },
  )

  it('never lets a raw NUL before admin reach the Worker', async () => {
    const res = await expectRejected(400, () => get('/api/echo/ad\u0000min', token))
    expect(res.headers.get('x-request-id')).toBeNull()
  })

  // Lookalikes a loose origin reads as `admin` (trailing dots and spaces dropped by IIS, Windows
  // and Spring's trimTokens; Unicode case and NFKC folding): the gateway folds the path the same
  // way and refuses one whose folded form selects the stricter route.
  it.each([
    '/api/echo/admin.',
    '/api/echo/admin..',
    '/api/echo/admin./x',
    '/api/echo/admin%20',
    '/api/echo/admin%09',
    '/api/echo/ａｄｍｉｎ',
    '/api/echo/%EF%BD%81dmin',
    '/api/echo/admın',
    '/api/echo/adm%C4%B1n',
  ])('never forwards %j with only echo:read', async (path) => {
    await expectRejected([400, 403, 404], () => get(path, token))
  })

  it('serves the outer route to alice, a sibling that merely starts with admin included', async () => {
    for (const path of ['/api/echo/x', '/api/echo/administrator', '/api/echo/x/admin']) {
      const echo = await expectAccepted(SUBJECT.alice, () => get(path, token))
      expect(echo.path).toBe(path)
    }
  })

  it('serves the admin route, and what lies below it, to echo:admin', async () => {
    for (const path of ['/api/echo/admin', '/api/echo/admin/x']) {
      const echo = await expectAccepted(echoAdmin.id, () => get(path, echoAdmin.token))
      expect(echo.path).toBe(path)
      expect(echo.headers['x-auth-revocation']).toBe('checked')
    }
  })
})
