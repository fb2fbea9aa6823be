// Schemas of second factors and step-up: `auth.mfa` (the WebAuthn relying party, challenge
// lifetimes, how fresh an MFA must be to manage factors) and the authentication level a route or
// a scope demands (`acr_values`, `max_auth_age_seconds`, RFC 9470).

import * as v from 'valibot'
import { integer, limitedToken, list, table, text, urlText, type TextRule } from './fields'

/** An RP ID is a host name: WebAuthn refuses IP addresses and ports. */
const RP_ID = /^(?=.{1,253}$)[a-z0-9-]+(\.[a-z0-9-]+)*$/

export const DEFAULT_CHALLENGE_TTL_SECONDS = 300
export const DEFAULT_MANAGE_MAX_AUTH_AGE_SECONDS = 300

export const MfaSchema = v.pipe(
  table({
    rp_id: v.optional(
      v.pipe(
        v.string('must be a string'),
        v.regex(RP_ID, 'must be a lower-case host name without scheme or port (not an IP)'),
        v.description(
          'WebAuthn relying party ID: the host name passkeys are bound to (default: the ' +
            'public_url host). A passkey registered under one RP ID never works under another.',
        ),
      ),
    ),
    rp_name: v.optional(text(64, 'The name authenticators show for this site.'), 'Gatehouse'),
    origins: v.optional(
      list(
        urlText('origin', 'An exact origin, written as scheme://host[:port].'),
        'The page origins passkey ceremonies may come from (default: the public_url origin); ' +
          'each must be the RP ID or under it.',
      ),
    ),
    totp_issuer: v.optional(
      text(64, 'The issuer name authenticator apps show next to the account (default: rp_name).'),
    ),
    challenge_ttl_seconds: integer(
      DEFAULT_CHALLENGE_TTL_SECONDS,
      30,
      900,
      'Lifetime of an mfa_token and of a passkey ceremony challenge (seconds); each is single-use.',
    ),
    manage_max_auth_age_seconds: integer(
      DEFAULT_MANAGE_MAX_AUTH_AGE_SECONDS,
      30,
      3600,
      'Adding a second factor to an account that has one, removing a factor, or new recovery ' +
        'codes needs an MFA at most this old (seconds).',
    ),
  }),
  v.description('Second factors: passkeys (WebAuthn), TOTP and recovery codes.'),
)

/** An acr value: visible ASCII, no spaces or quotes (it is written into a challenge). */
const ACR_VALUE: TextRule = {
  pattern: /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/,
  words: 'must be an acr value: visible ASCII characters, no spaces, no " or \\',
}

/** The authentication level a route or scope demands (both optional; at least one given). */
export const AuthLevelFields = {
  acr_values: v.optional(
    v.pipe(
      v.array(
        limitedToken(ACR_VALUE, 64, 'An acr value, e.g. "mfa".'),
        'must be a list of strings',
      ),
      v.minLength(1, 'must name at least one acr value'),
      v.description(
        'The token’s acr must be one of these (Gatehouse issues "pwd" and "mfa"); else 401 ' +
          'insufficient_user_authentication (RFC 9470) and the client steps up.',
      ),
    ),
  ),
  max_auth_age_seconds: v.optional(
    v.pipe(
      v.number('must be an integer'),
      v.integer('must be an integer'),
      v.minValue(0, 'must be between 0 and 86400'),
      v.maxValue(86_400, 'must be between 0 and 86400'),
      v.description(
        'The token’s auth_time must be at most this many seconds ago; else 401 ' +
          'insufficient_user_authentication with max_age.',
      ),
    ),
  ),
} as const

export const StepUpScopeSchema = v.pipe(
  table(AuthLevelFields),
  v.check(
    (level) => level.acr_values !== undefined || level.max_auth_age_seconds !== undefined,
    'must set acr_values or max_auth_age_seconds',
  ),
  v.description('The authentication level a scope demands wherever a route requires it.'),
)
