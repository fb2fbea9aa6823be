// Schema of the auth server's settings (`auth`): token lifetimes, refresh-session policy and the
// browser origins allowed for cookie flows. The table applies only when one issuer is
// `self = true` (schema.ts checks that, and the rules that involve the issuers).

import * as v from 'valibot'
import { at, choice, flag, integer, list, table, urlText } from './fields'
import { MfaSchema } from './schema-mfa'

const SIGNING_ALGORITHMS = ['EdDSA', 'RS256'] as const
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = 'EdDSA'

export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 900
const MIN_ACCESS_TOKEN_TTL_SECONDS = 300
const MAX_ACCESS_TOKEN_TTL_SECONDS = 3600
const DEFAULT_REUSE_INTERVAL_SECONDS = 10
const MAX_REUSE_INTERVAL_SECONDS = 60
const DEFAULT_KEY_ROTATION_INTERVAL_DAYS = 30
/** One year, in hours: the longest session lifetime accepted. */
const MAX_SESSION_LIFETIME_HOURS = 8760

export const AuthSchema = v.pipe(
  table({
    signing_algorithm: v.optional(
      choice(
        SIGNING_ALGORITHMS,
        'Algorithm of the access tokens Gatehouse signs; must be in the self issuer’s algorithms.',
      ),
      DEFAULT_SIGNING_ALGORITHM,
    ),
    access_token_ttl_seconds: integer(
      DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
      MIN_ACCESS_TOKEN_TTL_SECONDS,
      MAX_ACCESS_TOKEN_TTL_SECONDS,
      'Lifetime of minted access tokens (seconds); at most max_token_lifetime_seconds.',
    ),
    key_rotation_interval_days: integer(
      DEFAULT_KEY_ROTATION_INTERVAL_DAYS,
      1,
      365,
      'How long a signing key signs before the next one takes over (days).',
    ),
    session_absolute_lifetime_hours: integer(
      720,
      1,
      MAX_SESSION_LIFETIME_HOURS,
      'A session never lives longer than this, however often it refreshes (hours).',
    ),
    session_idle_lifetime_hours: integer(
      168,
      1,
      MAX_SESSION_LIFETIME_HOURS,
      'A session unused this long expires (hours); at most session_absolute_lifetime_hours.',
    ),
    refresh_reuse_interval_seconds: integer(
      DEFAULT_REUSE_INTERVAL_SECONDS,
      0,
      MAX_REUSE_INTERVAL_SECONDS,
      'Window in which the immediate parent refresh token may be presented again and gets the ' +
        'same successor (seconds).',
    ),
    dpop_required_for: v.optional(
      list(
        choice(['web', 'mobile'], 'A client type.'),
        'Client types that must log in and refresh with a DPoP proof (RFC 9449); the others may ' +
          'choose. Their tokens are then bound to the client’s key, refresh tokens included.',
      ),
      [],
    ),
    use_dpop_nonce: flag(
      false,
      'Require a server-provided nonce in every DPoP proof (RFC 9449 §8, §9): a proof cannot be ' +
        'made ahead of time. Costs clients one extra round trip per nonce window (5 minutes).',
    ),
    allowed_origins: v.optional(
      list(
        urlText('origin', 'An exact origin, written as scheme://host[:port].'),
        'Exact browser origins allowed for cookie flows and CORS on /auth. Required with a self ' +
          'issuer, no default: the gateway’s own origin also serves proxied content ' +
          '(docs/DEPLOY.md § Browser origins). [] for API-only (mobile) clients.',
      ),
    ),
    mfa: v.optional(MfaSchema, {}),
  }),
  at(
    ['session_idle_lifetime_hours'],
    v.partialCheck(
      [['session_absolute_lifetime_hours'], ['session_idle_lifetime_hours']],
      (auth) => auth.session_idle_lifetime_hours <= auth.session_absolute_lifetime_hours,
      'must not exceed session_absolute_lifetime_hours',
    ),
  ),
  v.description(
    'The auth server (login, refresh, logout, key rotation). Only with an issuer that sets ' +
      'self = true; it needs the secrets KEY_ENCRYPTION_SECRET and PASSWORD_PEPPER.',
  ),
)
