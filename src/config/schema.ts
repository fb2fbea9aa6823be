// The GATEHOUSE document's schema: every field, its default and limits, the cross-field rules,
// and the descriptions docs/config.schema.json is generated from (`npm run config:schema`).
// It validates structure only; the secrets a document names are resolved afterwards (secrets.ts).

import * as v from 'valibot'
import { TIERS } from '../revocation/tier'
import {
  SCOPE,
  at,
  choice,
  firstDuplicate,
  flag,
  integer,
  keyedTable,
  pathItems,
  secretName,
  table,
  tableList,
  urlText,
} from './fields'
import {
  AuthSchema,
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_SIGNING_ALGORITHM,
} from './schema-auth'
import { IssuerSchema, JwksSchema } from './schema-issuers'
import { RouteSchema, normalizePrefix } from './schema-routes'
import { StepUpScopeSchema } from './schema-mfa'
import { StorageSchema } from './schema-storage'

export const DEFAULT_CLOCK_SKEW_SECONDS = 60
export const MAX_CLOCK_SKEW_SECONDS = 300
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 3600
export const DEFAULT_REVOCATION_TIMEOUT_MS = 150

/** valibot actions JSON Schema cannot express (URL shape, cross-field rules): not converted. */
export const JSON_SCHEMA_IGNORED_ACTIONS = ['check', 'partial_check', 'raw_check']

const hasSelfIssuer = (issuers: readonly { self: boolean }[]) => issuers.some((i) => i.self)
const duplicateIssuer = (issuers: readonly { issuer: string }[]) =>
  firstDuplicate(issuers.map((i) => i.issuer))
const duplicatePrefix = (routes: readonly { prefix: string }[]) =>
  firstDuplicate(routes.map((r) => normalizePrefix(r.prefix)))

/**
 * Every issuer a route names must be configured. Runs on the raw document too (so it is listed
 * beside the document's other problems), once every issuer's `issuer` value is a string.
 */
function checkRouteIssuers(
  value: unknown,
  addIssue: (info: { message: string; path: [v.UnknownPathItem] }) => void,
): void {
  if (typeof value !== 'object' || value === null) return
  const doc = value as { issuers?: unknown; routes?: unknown }
  if (!Array.isArray(doc.issuers) || !Array.isArray(doc.routes)) return
  const known = doc.issuers.map((i: { issuer?: unknown } | null) => i?.issuer)
  if (!known.every((name) => typeof name === 'string')) return
  doc.routes.forEach((route: { issuers?: unknown } | null, i) => {
    const named = route?.issuers
    if (!Array.isArray(named)) return
    named.forEach((name, j) => {
      if (typeof name !== 'string' || known.includes(name)) return
      addIssue({
        message: `names no configured issuer (issuers: ${known.map((k) => JSON.stringify(k)).join(', ')})`,
        path: pathItems(['routes', i, 'issuers', j]) as [v.UnknownPathItem],
      })
    })
  })
}

export const GatehouseSchema = v.pipe(
  table({
    $schema: v.optional(
      v.pipe(
        v.string('must be a string'),
        v.description('The JSON Schema for editors; ignored by the gateway.'),
      ),
    ),
    public_url: urlText('base', 'The gateway’s own base URL: scheme://host[:port].'),
    public_aliases: v.optional(
      v.pipe(
        v.array(
          urlText('origin', 'An exact origin, written as scheme://host[:port].'),
          'must be a list of strings',
        ),
        v.description(
          'Other origins this same deployment answers on (e.g. http://localhost:8787 beside ' +
            'http://127.0.0.1:8787): a DPoP proof sent to one of them may name it as htu.',
        ),
      ),
      [],
    ),
    clock_skew_seconds: integer(
      DEFAULT_CLOCK_SKEW_SECONDS,
      0,
      MAX_CLOCK_SKEW_SECONDS,
      'Tolerance for exp, nbf and iat (seconds).',
    ),
    max_token_lifetime_seconds: integer(
      DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
      60,
      86_400,
      'A token whose exp - iat exceeds this is refused (without iat: exp - now), in seconds.',
    ),
    issuers: v.pipe(
      tableList(IssuerSchema),
      v.check(
        (issuers) => duplicateIssuer(issuers) === undefined,
        (issue) => `duplicate issuer ${JSON.stringify(duplicateIssuer(issue.input))}`,
      ),
      v.check(
        (issuers) => issuers.filter((i) => i.self).length <= 1,
        'at most one issuer may set self = true',
      ),
      v.description(
        'Trusted token issuers; a token is checked only against the one its iss names.',
      ),
    ),
    jwks: v.optional(JwksSchema, {}),
    routes: v.pipe(
      tableList(RouteSchema),
      v.check(
        (routes) => duplicatePrefix(routes) === undefined,
        (issue) => `duplicate prefix ${JSON.stringify(duplicatePrefix(issue.input))}`,
      ),
      v.description('The route table.'),
    ),
    sensitive_scopes: v.optional(
      v.pipe(
        keyedTable(
          v.pipe(v.string(), v.regex(SCOPE.pattern, SCOPE.words)),
          choice(TIERS, 'The tier.'),
        ),
        v.description(
          'Scope → tier: a token holding the scope is checked at least at that tier on every ' +
            'route, e.g. {"gatehouse:admin": "critical"}: an admin token is revocation-checked ' +
            '(fail closed) everywhere.',
        ),
      ),
      {},
    ),
    revocation_timeout_ms: integer(
      DEFAULT_REVOCATION_TIMEOUT_MS,
      10,
      5000,
      'How long a revocation check may take before the route tier’s fallback applies ' +
        '(milliseconds).',
    ),
    metrics_scrape_secret: v.optional(
      secretName(
        'Name of the secret a Prometheus scraper presents as bearer on GET /metrics; without ' +
          'it, only admin tokens may read /metrics.',
      ),
    ),
    demo_page: flag(false, 'Serve the browser demo at GET /demo (the local demo profile only).'),
    log_sample_rate: v.optional(
      v.pipe(
        v.number('must be a number between 0 and 1'),
        v.minValue(0, 'must be a number between 0 and 1'),
        v.maxValue(1, 'must be a number between 0 and 1'),
        v.description(
          'Share of successful requests that get a log line (0–1). Every rejected or failed ' +
            'request is logged whatever the rate; metrics and the Analytics Engine point count ' +
            'every request. Lower it in production with Workers Logs’ own sampling in mind.',
        ),
      ),
      1,
    ),
    websocket_check_seconds: integer(
      5,
      1,
      60,
      'How often an open WebSocket on a standard or critical route asks whether its token was ' +
        'revoked (seconds): a revoked socket closes within this long; one revocation-store call ' +
        'per socket per period.',
    ),
    step_up_scopes: v.optional(
      v.pipe(
        keyedTable(v.pipe(v.string(), v.regex(SCOPE.pattern, SCOPE.words)), StepUpScopeSchema),
        v.description(
          'Scope → authentication level: a route or endpoint that requires the scope also ' +
            'demands this acr and auth age, e.g. {"payments:write": {"acr_values": ["mfa"], ' +
            '"max_auth_age_seconds": 300}}.',
        ),
      ),
      {},
    ),
    auth: v.optional(AuthSchema),
    storage: v.optional(StorageSchema, {}),
  }),
  v.rawCheck(({ dataset, addIssue }) => checkRouteIssuers(dataset.value, addIssue)),
  at(
    ['auth'],
    v.partialCheck(
      [['issuers'], ['auth']],
      (doc) => doc.auth === undefined || hasSelfIssuer(doc.issuers),
      'applies only when one issuer sets self = true',
    ),
  ),
  at(
    ['auth', 'signing_algorithm'],
    v.partialCheck(
      [['issuers'], ['auth']],
      (doc) => {
        const self = doc.issuers.find((i) => i.self)
        const algorithm = doc.auth?.signing_algorithm ?? DEFAULT_SIGNING_ALGORITHM
        return self === undefined || (self.algorithms as readonly string[]).includes(algorithm)
      },
      (issue) =>
        `the self issuer's algorithms must include ${issue.input.auth?.signing_algorithm ?? DEFAULT_SIGNING_ALGORITHM}`,
    ),
  ),
  at(
    ['auth', 'access_token_ttl_seconds'],
    v.partialCheck(
      [['issuers'], ['max_token_lifetime_seconds'], ['auth']],
      (doc) =>
        !hasSelfIssuer(doc.issuers) ||
        (doc.auth?.access_token_ttl_seconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS) <=
          doc.max_token_lifetime_seconds,
      'must not exceed max_token_lifetime_seconds',
    ),
  ),
  at(
    ['auth', 'allowed_origins'],
    v.partialCheck(
      [['issuers'], ['auth']],
      (doc) => !hasSelfIssuer(doc.issuers) || doc.auth?.allowed_origins !== undefined,
      'is required with a self issuer: list your web apps’ exact origins, or [] for none ' +
        '(docs/DEPLOY.md § Browser origins)',
    ),
  ),
  v.title('Gatehouse configuration'),
  v.description(
    'The GATEHOUSE document: config/<profile>.json, selected by the GATEHOUSE_PROFILE var, or a ' +
      'GATEHOUSE var (JSON) that overrides it. README.md § Configuration.',
  ),
)

/** The validated document, defaults applied, before secrets are resolved. */
export type GatehouseDocument = v.InferOutput<typeof GatehouseSchema>
