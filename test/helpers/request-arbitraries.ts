// Arbitraries for property tests of the gateway: client headers that try to plant identity,
// forwarding facts or the refresh cookie (values marked "pwned" so a leak is visible), and
// claim sets that break exactly one verification rule (or a header that breaks one), for
// tokens re-signed with a trusted key. Used by test/integration/property.test.ts.

import fc from 'fast-check'

const printable = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 30,
})
const FORBIDDEN_NAMES = new Set([
  'authorization',
  'host',
  'content-length',
  'transfer-encoding',
  'cf-connecting-ip',
  'expect',
  'upgrade',
])
const PLANTED_NAMES = [
  'x-auth-subject',
  'X-Auth-Subject',
  'x_auth_subject',
  'X_AUTH_SCOPES',
  'x-auth-tenant',
  'x-auth-signature',
  'x-auth-timestamp',
  'x-auth-nonce',
  'x-auth-revocation',
  'x-auth-issuer',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-host',
  'forwarded',
  'x-real-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'keep-alive',
  'te',
  'proxy-authorization',
  'traceparent',
  'x-gatehouse-subject',
]
export const plantedHeaders = () =>
  fc.array(
    fc.oneof(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(...PLANTED_NAMES),
          fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/).filter((n) => !FORBIDDEN_NAMES.has(n)),
        ),
        printable.map((v) => `pwned-${v}`),
      ),
      fc.tuple(
        fc.constant('cookie'),
        fc.constantFrom(
          '__Secure-gatehouse_refresh=pwned',
          'a=1; __SECURE-GATEHOUSE_REFRESH=pwned',
          '__secure-gatehouse_refresh=pwned; b=2',
        ),
      ),
      fc.tuple(
        fc.constant('connection'),
        fc
          .subarray(
            [
              'authorization',
              'x-auth-signature',
              'x-auth-subject',
              'x-request-id',
              'cookie',
              'keep-alive',
            ],
            { minLength: 1 },
          )
          .map((l) => l.join(', ')),
      ),
    ),
    { maxLength: 6 },
  )

type Payload = Record<string, unknown>
const notNumber = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.integer({ max: -1 }),
)
const unsafeId = fc.oneof(
  notNumber.filter((v) => typeof v !== 'string'),
  fc.constant(''),
  fc.string({ minLength: 257, maxLength: 400 }),
  fc
    .tuple(fc.string(), fc.integer({ min: 0, max: 0x1f }))
    .map(([s, c]) => `${s}${String.fromCharCode(c)}`),
)
const later = (min: number) => fc.integer({ min, max: 1_000_000_000 })
export type Rule = [name: string, apply: (p: Payload, now: number) => Payload]
const rule = (name: string, apply: Rule[1]): Rule => [name, apply]
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/
const grantsRead = (v: unknown) =>
  typeof v === 'string' && SCOPE.test(v) && v.split(' ').includes('echo:read')
export const violation = (o: {
  issuer: string
  skew: number
  maxLifetime: number
}): fc.Arbitrary<Rule> =>
  fc.oneof(
    later(o.skew + 1).map((k) =>
      rule('expired', (p, now) => ({ ...p, exp: now - o.skew - k, iat: now - o.skew - k - 300 })),
    ),
    later(o.skew + 2).map((k) => rule('nbf in the future', (p, now) => ({ ...p, nbf: now + k }))),
    later(o.skew + 2).map((k) =>
      rule('iat in the future', (p, now) => ({ ...p, iat: now + k, exp: now + k + 300 })),
    ),
    fc
      .tuple(fc.integer({ min: 0, max: 1000 }), later(2))
      .map(([a, b]) =>
        rule('too long', (p, now) => ({ ...p, iat: now - a, exp: now - a + o.maxLifetime + b })),
      ),
    later(2).map((b) =>
      rule('too long without iat', (p, now) => ({
        ...without(p, 'iat'),
        exp: now + o.maxLifetime + b,
      })),
    ),
    fc.constantFrom('exp', 'sub', 'aud', 'iss').map((c) => rule(`no ${c}`, (p) => without(p, c))),
    fc
      .tuple(fc.constantFrom('exp', 'iat', 'nbf'), notNumber)
      .map(([c, v]) => rule(`${c} not a date`, (p) => ({ ...p, [c]: v }))),
    fc
      .tuple(fc.constantFrom('sub', 'tid', 'sid', 'jti', 'client_id'), unsafeId)
      .map(([c, v]) => rule(`unsafe ${c}`, (p) => ({ ...p, [c]: v }))),
    fc
      .oneof(
        fc.string().filter((a) => a !== 'api'),
        fc.array(
          fc.string().filter((a) => a !== 'api'),
          { maxLength: 3 },
        ),
        fc.constant(['api', 7]),
        fc.integer(),
      )
      .map((aud) => rule('wrong aud', (p) => ({ ...p, aud }))),
    fc
      .oneof(fc.string(), fc.constant(null), fc.integer())
      .filter((v) => v !== o.issuer)
      .map((iss) => rule('wrong iss', (p) => ({ ...p, iss }))),
    fc
      .oneof(
        notNumber,
        fc.constantFrom(
          ' echo:read',
          'echo:read  x',
          'echo:"read"',
          'echo:read\\',
          'echo:write',
          '',
        ),
      )
      .filter((scope) => !grantsRead(scope))
      .map((scope) => rule('bad scope', (p) => ({ ...p, scope }))),
  )
function without(p: Payload, claim: string): Payload {
  const copy = { ...p }
  delete copy[claim]
  return copy
}
export const badHeader = fc.oneof(
  fc.constant(null),
  fc
    .string()
    .filter((a) => a !== 'EdDSA')
    .map((alg) => ({ alg })),
  fc.string({ minLength: 1 }).map((kid) => ({ kid: `x${kid}` })),
  fc
    .string()
    .filter((t) => !/^(application\/)?at\+jwt$/i.test(t))
    .map((typ) => ({ typ })),
  fc
    .tuple(
      fc.constantFrom('jku', 'jwk', 'x5u', 'x5c', 'crit', 'b64', 'zip', 'enc', 'cty'),
      fc.jsonValue(),
    )
    .map(([k, v]) => ({ [k]: v })),
)
