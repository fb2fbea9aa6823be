// Schemas of a route's nested tables: `cors` (browser apps on other origins; preflights are
// answered at the edge) and `rate_limit` (a limit per verified identity). Kept apart from the
// route table itself only for size; the route schema (schema-routes.ts) embeds both.

import * as v from 'valibot'
import {
  at,
  bindingName,
  choice,
  flag,
  integer,
  list,
  originOrWildcard,
  table,
  token,
  type TextRule,
} from './fields'

/** Methods a route may allow; also the CORS default. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const HEADER_NAME: TextRule = {
  pattern: /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/,
  words:
    "must be a header name in lower case: letters, digits and ! # $ % & ' * + . ^ _ ` | ~ - " +
    '(at most 64 characters)',
}
const RATE_KEYS = ['subject', 'session', 'client', 'tenant', 'ip'] as const
/** What a browser may send by default: the credentials a token route needs. */
const DEFAULT_CORS_HEADERS = ['authorization', 'content-type', 'dpop']

export const CorsSchema = v.pipe(
  table({
    origins: v.pipe(
      v.array(
        originOrWildcard('An exact origin, written as scheme://host[:port], or "*".'),
        'must be a list of origins',
      ),
      v.minLength(1, 'must list at least 1 origin'),
      v.description('Exact browser origins allowed to call this route, or ["*"] (no credentials).'),
    ),
    methods: v.optional(
      list(choice(HTTP_METHODS, 'A method.'), 'Methods a browser may use (default: all).'),
      ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    ),
    headers: v.optional(
      list(
        token(HEADER_NAME, 'A request header name, lower case.'),
        'Request headers a browser may send (default: authorization, content-type, dpop).',
      ),
      DEFAULT_CORS_HEADERS,
    ),
    expose_headers: v.optional(
      list(
        token(HEADER_NAME, 'A response header name, lower case.'),
        'Response headers a browser script may read.',
      ),
      [],
    ),
    credentials: flag(false, 'Allow credentials (cookies); never with origins ["*"].'),
    max_age_seconds: integer(600, 0, 86_400, 'How long a browser may cache a preflight (seconds).'),
  }),
  at(
    ['credentials'],
    v.check(
      (cors) => !(cors.credentials && cors.origins.includes('*')),
      'must be false when origins is ["*"] (a wildcard never grants credentials)',
    ),
  ),
  v.description('CORS for browser apps on other origins; preflights are answered at the edge.'),
)

export const RateLimitSchema = v.pipe(
  table({
    key: choice(
      RATE_KEYS,
      'What is counted: the verified subject, session, client, tenant, or the client IP.',
    ),
    limit: v.pipe(
      v.number('must be an integer'),
      v.integer('must be an integer'),
      v.minValue(1, 'must be between 1 and 1000000'),
      v.maxValue(1_000_000, 'must be between 1 and 1000000'),
      v.description('Requests allowed per period.'),
    ),
    period_seconds: v.pipe(
      v.number('must be an integer'),
      v.integer('must be an integer'),
      v.minValue(1, 'must be between 1 and 3600'),
      v.maxValue(3600, 'must be between 1 and 3600'),
      v.description('The window, in seconds.'),
    ),
    binding: v.optional(
      bindingName(
        'A Workers Rate Limiting binding ([[ratelimits]], same limit and period): approximate, ' +
          'counted per location. Without one, an exact global counter in a Durable Object.',
      ),
    ),
  }),
  at(
    ['period_seconds'],
    v.check(
      (rule) =>
        rule.binding === undefined || rule.period_seconds === 10 || rule.period_seconds === 60,
      'must be 10 or 60 with a rate limiting binding (the only periods it supports)',
    ),
  ),
  v.description('A limit per identity, enforced after authentication and before the origin.'),
)
