// The nested-route path matrix (M1): an outer route `/api/account` (tier standard, account:read)
// with a stricter `/api/account/admin` (tier critical, account:admin) beneath it. A token with
// only the outer scope must never reach the origin through any spelling of `admin`: encoded
// unreserved characters and double encoding are refused (400 bad_path), so is a path whose
// case-folded form selects the admin route, and so are encoded slashes, dots, backslashes, empty
// segments, `;` parameters and NUL; dot segments and backslashes the URL parser resolves land on
// the admin route itself (403). Each row asserts status, logged reason and detail, and that the
// origin was not called; the honest cases prove both routes still serve their own scopes.

import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ORIGIN,
  captureLogs,
  installNetwork,
  send,
  testConfig,
  testEnv,
  uniqueIssuer,
  type LogCapture,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

const OUTER = '/api/account'
const ADMIN = '/api/account/admin'

let key: TestKey
let issuer: string
let gw: ReturnType<typeof testEnv>
let net: Network
let logs: LogCapture
/** Tokens by what they hold: the outer scope only, both, and the admin scope only. */
const tokens = { outer: '', admin: '', adminOnly: '' }

beforeAll(async () => {
  key = await makeKey('EdDSA')
  issuer = uniqueIssuer('paths')
  const route = (prefix: string, tier: string, scope: string) => ({
    prefix,
    origin: ORIGIN,
    auth: 'token',
    tier,
    read_scopes: [scope],
    write_scopes: [scope],
    origin_secret: 'ORIGIN_SECRET_TEST',
  })
  gw = testEnv(
    testConfig({
      issuers: [{ issuer }],
      routes: [route(OUTER, 'standard', 'account:read'), route(ADMIN, 'critical', 'account:admin')],
    }),
  )
  const mintFor = (subject: string, scope: string) =>
    mint(key, { issuer, subject, scope, expiresIn: 900 })
  tokens.outer = await mintFor('reader', 'account:read')
  tokens.admin = await mintFor('root', 'account:read account:admin')
  tokens.adminOnly = await mintFor('narrow', 'account:admin')
})
beforeEach(() => {
  net = installNetwork()
  net.jwks.set(issuer, [key])
  logs = captureLogs()
})
afterEach(() => vi.restoreAllMocks())

/** The gateway's log line for the most recent request. */
function lastLine(): Record<string, unknown> {
  const line = [...logs.lines].reverse().find((l) => l.event === 'request')
  if (line === undefined) throw new Error('no request line logged')
  return line
}

async function expectRefusedFor(
  token: string | null,
  path: string,
  status: number,
  reason: string,
  detail?: string,
): Promise<Response> {
  const before = net.originCalls.length
  const res = await send(gw, path, token === null ? {} : { token })
  const line = lastLine()
  expect({ status: res.status, reason: line.reason }, path).toEqual({ status, reason })
  if (detail !== undefined) expect(line.detail, path).toBe(detail)
  expect(net.originCalls.length, `origin reached for ${path}`).toBe(before)
  return res
}

/** [path as the client writes it, the logged detail] */
type Row = readonly [string, string]

const ENCODED_UNRESERVED: Row[] = [
  ['/api/account/%61dmin', 'encoded unreserved character'],
  ['/api/account/%41DMIN', 'encoded unreserved character'],
  ['/api/account/%41dmin', 'encoded unreserved character'],
  ['/api/account/a%64min', 'encoded unreserved character'],
  ['/api/account/adm%69n', 'encoded unreserved character'],
  ['/api/account/%61%64%6d%69%6e', 'encoded unreserved character'],
  ['/api/account/%61dmin/x', 'encoded unreserved character'],
  ['/api/%61ccount/admin', 'encoded unreserved character'],
]

const DOUBLE_ENCODED: Row[] = [
  ['/api/account/%2561dmin', 'forbidden encoding'],
  ['/api/account/%2541DMIN', 'forbidden encoding'],
  ['/api/account/x%252f..%252fadmin', 'forbidden encoding'],
]

const CASE_FOLDED: Row[] = [
  ['/api/account/ADMIN', 'case-folded path selects another route'],
  ['/api/account/Admin', 'case-folded path selects another route'],
  ['/api/account/aDmIn', 'case-folded path selects another route'],
  ['/api/account/ADMIN/x', 'case-folded path selects another route'],
  ['/api/account/adMin/', 'case-folded path selects another route'],
]

const ENCODED_SEPARATORS: Row[] = [
  ['/api/account/x%2f..%2fadmin', 'forbidden encoding'],
  ['/api/account/x%2F..%2Fadmin', 'forbidden encoding'],
  ['/api/account%2fadmin', 'forbidden encoding'],
  ['/api/account/%2e%2e%2fadmin', 'forbidden encoding'],
  ['/api/account/%5cadmin', 'forbidden encoding'],
  ['/api/account/x%5c..%5cadmin', 'forbidden encoding'],
  ['/api/account/admin%2e', 'forbidden encoding'],
  ['/api/account/admin%2f', 'forbidden encoding'],
  ['/api/account/admin%3b', 'forbidden encoding'],
]

const EMPTY_SEGMENTS: Row[] = [
  ['/api/account//admin', 'empty segment'],
  ['//api/account/admin', 'empty segment'],
  ['/api//account/admin', 'empty segment'],
  ['/api/account/admin//x', 'empty segment'],
]

const PARAMETERS: Row[] = [
  ['/api/account/admin;', 'forbidden character'],
  ['/api/account/admin;x=1', 'forbidden character'],
  ['/api/account/;/admin', 'forbidden character'],
  ['/api/account/..;/admin', 'forbidden character'],
  ['/api/account/admin.;', 'forbidden character'],
]

const NUL_AND_BROKEN: Row[] = [
  ['/api/account/ad%00min', 'forbidden encoding'],
  ['/api/account/ad\u0000min', 'forbidden encoding'], // the URL parser encodes it to %00
  ['/api/account/admin%00', 'forbidden encoding'],
  ['/api/account/%00admin', 'forbidden encoding'],
  ['/api/account/%c0%ae%c0%ae/admin', 'invalid utf-8 encoding'],
  ['/api/account/%u0061dmin', 'broken encoding'],
  ['/api/account/admin%', 'broken encoding'],
]

describe.each([
  ['encoded unreserved characters', ENCODED_UNRESERVED],
  ['double encoding', DOUBLE_ENCODED],
  ['case variants whose folded form selects the admin route', CASE_FOLDED],
  ['encoded slashes, dots, backslashes and ;', ENCODED_SEPARATORS],
  ['empty segments', EMPTY_SEGMENTS],
  ['; path parameters', PARAMETERS],
  ['NUL and broken encodings', NUL_AND_BROKEN],
])('%s', (_group, rows) => {
  it.each(rows)('refuses %j with 400 bad_path, token or not', async (path, detail) => {
    await expectRefusedFor(tokens.outer, path, 400, 'bad_path', detail)
    await expectRefusedFor(tokens.admin, path, 400, 'bad_path', detail)
    await expectRefusedFor(null, path, 400, 'bad_path', detail)
  })
})

// The URL parser resolves these before the Worker runs (WHATWG: dot segments, %2e as a dot,
// '\' as '/', tab and newline removed), so they *are* the admin route: refused for its scope.
const RESOLVED_TO_ADMIN: string[] = [
  '/api/account/x/../admin',
  '/api/account/x/%2e%2e/admin',
  '/api/account/x/.%2e/admin',
  '/api/account/x/%2E%2E/admin',
  '/api/account/./admin',
  '/api/account/%2e/admin',
  '/api/account/admin/.',
  '/api/account/admin/',
  '/api/account/x\\..\\admin',
  '/api/account\\admin',
  '/api/account/ad\tmin',
  '/api/account/ad\nmin',
  '/api/account/admin#/../x',
]

describe('paths the runtime resolves to the admin route', () => {
  it.each(RESOLVED_TO_ADMIN)(
    'refuses %j for the outer scope (403) and anonymously (401)',
    async (path) => {
      const res = await expectRefusedFor(tokens.outer, path, 403, 'insufficient_scope')
      expect(lastLine().route).toBe(ADMIN)
      expect(res.headers.get('www-authenticate')).toContain('scope="account:admin"')
      await expectRefusedFor(null, path, 401, 'missing_token')
    },
  )
})

describe('prefixes in another case than configured', () => {
  it.each(['/API/ACCOUNT/ADMIN', '/api/Account/admin', '/Api/account/admin/x'])(
    'answers %s 404: no route claims it',
    async (path) => {
      await expectRefusedFor(tokens.outer, path, 404, 'route_not_found')
    },
  )
})

// Lookalikes a loose origin reads as `admin`: origins that strip trailing dots and spaces from a
// segment (IIS and Windows file systems, Spring's trimTokens), or decode and then fold with
// Unicode case or compatibility mappings (Java equalsIgnoreCase maps 'ı' and 'İ' to I/i; NFKC
// maps full-width letters to ASCII). The route table folds the path the same way
// (src/proxy/route-table.ts foldPath) and refuses a path whose folded form selects another route.
const LOOKALIKES: string[] = [
  '/api/account/admin.',
  '/api/account/admin..',
  '/api/account/admin./x',
  '/api/account/admin%20',
  '/api/account/admin%09',
  '/api/account/ａｄｍｉｎ',
  '/api/account/%EF%BD%81dmin',
  '/api/account/adm%C4%B1n',
  '/api/account/ADM%C4%B0N',
]

describe('lookalikes of admin under the outer route', () => {
  it.each(LOOKALIKES)('never forwards %j with only the outer scope', async (path) => {
    const before = net.originCalls.length
    const res = await send(gw, path, { token: tokens.outer })
    expect([400, 403, 404]).toContain(res.status)
    expect(net.originCalls.length).toBe(before)
  })
})

describe('honest requests', () => {
  async function expectForwarded(token: string, path: string, subject: string, tier: string) {
    const before = net.originCalls.length
    const res = await send(gw, path, { token })
    expect(res.status, path).toBe(200)
    expect(net.originCalls.length).toBe(before + 1)
    const call = net.originCalls.at(-1)!
    expect(call.url).toBe(`${ORIGIN}${path}`)
    expect(call.headers.get('x-auth-subject')).toBe(subject)
    expect(call.headers.get('x-auth-revocation')).toBe('checked')
    expect(lastLine()).toMatchObject({ reason: null, tier })
  }

  it('serves the outer route to the outer scope, siblings that merely start with admin included', async () => {
    for (const path of [
      '/api/account',
      '/api/account/x',
      '/api/account/administrator',
      '/api/account/x/admin',
    ]) {
      await expectForwarded(tokens.outer, path, 'reader', 'standard')
    }
  })

  it('serves the admin route, and what lies below it, to the admin scope', async () => {
    for (const path of ['/api/account/admin', '/api/account/admin/x', '/api/account/admin/x?y=1']) {
      await expectForwarded(tokens.admin, path, 'root', 'critical')
    }
  })

  it('refuses the outer scope on the admin route and the admin scope on the outer route', async () => {
    await expectRefusedFor(tokens.outer, '/api/account/admin/x', 403, 'insufficient_scope')
    await expectRefusedFor(tokens.adminOnly, '/api/account/x', 403, 'insufficient_scope')
    await expectRefusedFor(null, '/api/account/admin', 401, 'missing_token')
  })
})
