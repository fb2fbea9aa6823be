// Schema of the route table (`routes[]`): prefix, origin, auth mode, the issuers it accepts,
// scopes per method class, tier, timeout, retries, bulkhead, and the name of the per-origin
// secret that signs the identity headers (its `cors` and `rate_limit` tables:
// schema-route-tables.ts). Prefixes are compared after normalization (`/api/x/*` is `/api/x`).

import * as v from 'valibot'
import type { AuthMode } from '../proxy/route'
import { TIERS } from '../revocation/tier'
import {
  PRINTABLE,
  SCOPE,
  at,
  choice,
  flag,
  integer,
  limitedToken,
  list,
  nonEmptyList,
  secretName,
  table,
  text,
  token,
  urlText,
  type TextRule,
} from './fields'
import { MAX_ISSUER_LENGTH } from './schema-issuers'
import { CorsSchema, HTTP_METHODS, RateLimitSchema } from './schema-route-tables'
import { AuthLevelFields } from './schema-mfa'

const AUTH_MODES = ['none', 'token'] as const satisfies readonly AuthMode[]
const IDENTITY_MODES = ['assertion', 'headers', 'both'] as const
const ASSERTION_ALGORITHMS = ['hs256', 'eddsa'] as const
const BODY_BINDINGS = ['required', 'best_effort', 'off'] as const
const DEFAULT_MAX_BOUND_BODY_BYTES = 1_048_576
const MAX_BOUND_BODY_BYTES = 16_777_216

const DEFAULT_ROUTE_TIMEOUT_MS = 10_000
const PREFIX: TextRule = {
  pattern: /^(\/[A-Za-z0-9._~!$&'()*+,=:@-]+)+\/?(\*)?$|^\/\*?$/,
  words:
    "must be a path: / then segments of letters, digits and . _ ~ ! $ & ' ( ) * + , = : @ -, " +
    'optionally ending in / or /* (no empty segments, spaces, ?, # or %)',
}
/** Longest accepted route prefix, in characters. */
const MAX_PREFIX_LENGTH = 200

/** Paths the gateway serves itself; no route may claim them. */
const RESERVED_PREFIXES = ['/auth', '/admin', '/.well-known', '/healthz', '/metrics', '/demo']

/** A prefix as matched: without a trailing `/*` or `/` (`/` itself becomes the empty string). */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/\/?\*$/, '').replace(/\/$/, '')
}

function reservedClash(prefix: string): string | undefined {
  const normalized = normalizePrefix(prefix)
  return RESERVED_PREFIXES.find((p) => normalized === p || normalized.startsWith(`${p}/`))
}

const scopeList = (description: string) =>
  v.optional(list(token(SCOPE, 'An RFC 6749 scope token.'), description), [])

export const RouteSchema = v.pipe(
  table({
    prefix: v.pipe(
      v.string('must be a non-empty string'),
      v.nonEmpty('must be a non-empty string'),
      v.maxLength(MAX_PREFIX_LENGTH, `must be at most ${MAX_PREFIX_LENGTH} characters`),
      v.regex(PREFIX.pattern, PREFIX.words),
      v.check(
        (prefix) => reservedClash(prefix) === undefined,
        (issue) => `${reservedClash(issue.input)} is served by the gateway itself`,
      ),
      v.description(
        '`/api/echo` (or `/api/echo/*`) matches `/api/echo` and everything below it, never ' +
          '`/api/echoes`. Longest prefix wins. Reserved: ' +
          `${RESERVED_PREFIXES.join(', ')}.`,
      ),
    ),
    origin: urlText(
      'base',
      'scheme://host[:port] of the origin; the request’s path and query are appended unchanged.',
    ),
    auth: choice(AUTH_MODES, '`token`: a valid access token is required; `none`: public.'),
    issuers: v.optional(
      nonEmptyList(
        text(MAX_ISSUER_LENGTH, 'The `issuer` value of a configured issuer.'),
        'The issuers whose tokens this route accepts; a token of any other is refused (401 ' +
          'issuer_not_allowed). Default: only the self issuer when there is one, else every ' +
          'configured issuer.',
      ),
    ),
    read_scopes: scopeList('Scopes required for GET, HEAD and OPTIONS.'),
    write_scopes: v.optional(
      list(
        token(SCOPE, 'An RFC 6749 scope token.'),
        'Scopes required for every other method. Omitted: the read scopes. An explicit [] lets ' +
          'any valid token write (warned about at start).',
      ),
    ),
    methods: v.optional(
      list(
        choice(HTTP_METHODS, 'An HTTP method.'),
        'Allowed methods; others get 405 with an Allow header.',
      ),
      [...HTTP_METHODS],
    ),
    tier: v.optional(
      choice(TIERS, 'Revocation policy of the route (README.md § Risk tiers and revocation).'),
      'low',
    ),
    timeout_ms: integer(
      DEFAULT_ROUTE_TIMEOUT_MS,
      100,
      120_000,
      'Time to the origin’s response headers (milliseconds); then 504.',
    ),
    forward_authorization: flag(false, 'Forward the client’s Authorization header to the origin.'),
    dpop: v.optional(
      choice(
        ['optional', 'required'],
        'required: only DPoP-bound tokens with a proof (RFC 9449) are accepted; a bearer token ' +
          'gets 401 with a DPoP challenge. optional: both, and a bound token always needs its proof.',
      ),
      'optional',
    ),
    retries: integer(
      2,
      0,
      5,
      'Extra attempts for GET/HEAD/OPTIONS/DELETE/PUT without a body that failed before any ' +
        'response byte (full-jitter backoff, per-origin retry budget ≈ 10 %).',
    ),
    max_in_flight: integer(
      256,
      1,
      10_000,
      'Bulkhead: concurrent forwards to this origin per isolate; beyond it, 503 at once.',
    ),
    origin_secret: secretName(
      'Name of the secret (at least 32 characters) that signs the identity for this origin ' +
        '(the HS256 assertion, the legacy headers); set it with `wrangler secret put`.',
    ),
    identity: v.optional(
      choice(
        IDENTITY_MODES,
        'How the origin learns who called (docs/ASSERTION.md): `assertion` (the ' +
          'Gatehouse-Assertion JWS), `headers` (the legacy HMAC-signed X-Auth-* headers, kept ' +
          'for one release), or `both`.',
      ),
      'assertion',
    ),
    assertion_signing: v.optional(
      choice(
        ASSERTION_ALGORITHMS,
        '`hs256`: keyed with origin_secret; `eddsa`: the gateway’s origin-assertion key, ' +
          'published at /.well-known/origin-assertion-jwks.json.',
      ),
      'hs256',
    ),
    assertion_audience: v.optional(
      limitedToken(PRINTABLE, 256, 'The assertion’s `aud` (default: the route’s origin).'),
    ),
    body_binding: v.optional(
      choice(
        BODY_BINDINGS,
        '`required`: request bodies are digested into the assertion, larger than ' +
          'max_bound_body_bytes refused (413); `best_effort`: larger ones stream unbound; `off`.',
      ),
      'best_effort',
    ),
    max_bound_body_bytes: integer(
      DEFAULT_MAX_BOUND_BODY_BYTES,
      0,
      MAX_BOUND_BODY_BYTES,
      'The largest request body read to digest it (bytes of memory per request).',
    ),
    cors: v.optional(CorsSchema),
    rate_limit: v.optional(RateLimitSchema),
    websocket: flag(
      false,
      'Allow WebSocket upgrades: authenticated like any request, relayed by the gateway, and ' +
        'closed when the token expires or (standard, critical) is revoked.',
    ),
    ...AuthLevelFields,
  }),
  at(
    ['rate_limit', 'key'],
    v.partialCheck(
      [['auth'], ['rate_limit']],
      (route) =>
        route.auth === 'token' || route.rate_limit === undefined || route.rate_limit.key === 'ip',
      'must be "ip" on a route without tokens (there is no identity to count)',
    ),
  ),
  at(
    ['acr_values'],
    v.partialCheck(
      [['auth'], ['acr_values'], ['max_auth_age_seconds']],
      (route) =>
        route.auth === 'token' ||
        (route.acr_values === undefined && route.max_auth_age_seconds === undefined),
      'a route demanding an authentication level must use auth = "token"',
    ),
  ),
  at(
    ['issuers'],
    v.partialCheck(
      [['auth'], ['issuers']],
      (route) => route.auth === 'token' || route.issuers === undefined,
      'a route naming the issuers it accepts must use auth = "token"',
    ),
  ),
  at(
    ['auth'],
    v.partialCheck(
      [['auth'], ['read_scopes'], ['write_scopes']],
      (route) =>
        route.auth === 'token' ||
        (route.read_scopes.length === 0 && (route.write_scopes ?? []).length === 0),
      'a route with scopes must use auth = "token"',
    ),
  ),
  v.description('One route: requests under prefix are forwarded to origin.'),
)
