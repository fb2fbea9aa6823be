// Schemas of the trusted issuers (`issuers[]`) and of the key cache (`jwks`). A token is checked
// only against the issuer its `iss` names, so everything an issuer's tokens must satisfy is
// declared here, per issuer: audiences, algorithms, `typ` values, its tenant or tenant list.

import * as v from 'valibot'
import { ALGORITHMS, type ScopeFormat } from '../keys/issuer'
import {
  PRINTABLE,
  at,
  choice,
  flag,
  integer,
  limitedToken,
  nonEmptyList,
  table,
  text,
  token,
  urlText,
} from './fields'

/** Longest accepted `issuer` value, in characters. */
export const MAX_ISSUER_LENGTH = 300
/** Longest accepted forced tenant, in characters. */
const MAX_TENANT_LENGTH = 128
/** Longest accepted scope claim name (namespaced claims are URLs), in characters. */
const MAX_CLAIM_NAME_LENGTH = 256
/** How an issuer writes scopes: RFC 9068 §2.2.3 `scope` string, or an array (Okta, Entra `scp`). */
const SCOPE_FORMATS = ['space', 'array'] as const satisfies readonly ScopeFormat[]
const DEFAULT_SCOPE_CLAIM = 'scope'

export const IssuerSchema = v.pipe(
  table({
    issuer: text(MAX_ISSUER_LENGTH, 'Exact `iss` value of this issuer’s tokens.'),
    self: flag(
      false,
      'Gatehouse’s own issuer: its keys come from the KeyManager, not a jwks_uri. Set this or ' +
        'jwks_uri, not both; at most one issuer may be self.',
    ),
    jwks_uri: v.optional(
      urlText('url', 'The issuer’s JWKS URL (third-party issuers). Set this or self = true.'),
    ),
    audiences: nonEmptyList(
      token(PRINTABLE, 'An accepted audience.'),
      'A token’s `aud` must contain one of these; for the self issuer, the first is the `aud` ' +
        'Gatehouse mints.',
    ),
    algorithms: v.optional(
      nonEmptyList(
        choice(ALGORITHMS, 'A JWS algorithm.'),
        'Allowed `alg` values. `none` and HMAC algorithms are not accepted values.',
      ),
      ['EdDSA'],
    ),
    token_types: v.optional(
      nonEmptyList(
        token(PRINTABLE, 'An accepted `typ`.'),
        'Accepted `typ` values (case-insensitive, `application/` prefix allowed; RFC 8725 ' +
          '§3.11). List "jwt" to accept untyped tokens of a legacy IdP.',
      ),
      ['at+jwt'],
    ),
    tenant: v.optional(
      limitedToken(
        PRINTABLE,
        MAX_TENANT_LENGTH,
        'The tenant of every token of this issuer (a token whose `tid` names another is ' +
          'refused). A third-party issuer sets this or `tenants`.',
      ),
    ),
    tenants: v.optional(
      nonEmptyList(
        limitedToken(PRINTABLE, MAX_TENANT_LENGTH, 'A tenant this issuer may assert.'),
        'The `tid` values this issuer’s tokens may carry; a token with another or none is ' +
          'refused. A third-party issuer sets this or `tenant`.',
      ),
    ),
    scope_claim: v.optional(
      limitedToken(
        PRINTABLE,
        MAX_CLAIM_NAME_LENGTH,
        'The claim this issuer’s tokens carry their scopes in, e.g. "scp" (Okta, Entra).',
      ),
      DEFAULT_SCOPE_CLAIM,
    ),
    scope_format: v.optional(
      choice(
        SCOPE_FORMATS,
        '`space`: one string of space-delimited scopes (RFC 9068); `array`: a list of scope ' +
          'strings (Okta and Entra `scp`). A claim of the other shape is refused.',
      ),
      'space',
    ),
  }),
  at(
    ['scope_claim'],
    v.partialCheck(
      [['self'], ['scope_claim'], ['scope_format']],
      (issuer) =>
        !issuer.self ||
        (issuer.scope_claim === DEFAULT_SCOPE_CLAIM && issuer.scope_format === 'space'),
      'the self issuer writes `scope` as a space-delimited string: set neither scope_claim nor ' +
        'scope_format',
    ),
  ),
  at(
    ['jwks_uri'],
    v.partialCheck(
      [['self'], ['jwks_uri']],
      (issuer) => issuer.self !== (issuer.jwks_uri !== undefined),
      'set exactly one of self = true or jwks_uri',
    ),
  ),
  at(
    ['tenant'],
    v.partialCheck(
      [['self'], ['tenant'], ['tenants']],
      (issuer) =>
        issuer.self
          ? issuer.tenant === undefined && issuer.tenants === undefined
          : (issuer.tenant === undefined) !== (issuer.tenants === undefined),
      (issue) =>
        issue.input.self
          ? 'the self issuer takes the tenant from its own sessions: set neither tenant nor tenants'
          : 'a third-party issuer must pin its tenant (tenant) or list the tenants it may assert (tenants), not both',
    ),
  ),
  v.description('A trusted token issuer.'),
)

export const JwksSchema = v.pipe(
  table({
    refetch_cooldown_seconds: integer(
      30,
      1,
      3600,
      'An unknown `kid` refetches an issuer’s JWKS at most once per this many seconds, per ' +
        'isolate (single-flight).',
    ),
    max_stale_seconds: integer(
      86_400,
      60,
      604_800,
      'While an issuer’s JWKS source is down, known keys keep working this long (seconds).',
    ),
    fetch_timeout_ms: integer(3000, 100, 30_000, 'JWKS fetch timeout (milliseconds).'),
    isolate_ttl_seconds: integer(
      300,
      1,
      86_400,
      'After this many seconds an isolate revalidates an issuer’s keys in the background (the ' +
        'self issuer: every 30 s at most).',
    ),
  }),
  v.description('Key cache settings, for every issuer.'),
)
