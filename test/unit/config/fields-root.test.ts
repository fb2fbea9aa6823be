// Every field of the document's root, of `jwks` and of `sensitive_scopes`: one invalid value
// at a time on an otherwise valid document, and the error names exactly that field.

import { describe } from 'vitest'
import { MISSING, invalid, rejectsEach } from './fixtures'

const NOT_URLS = [
  MISSING,
  42,
  '',
  'not a url',
  '/relative',
  'ftp://gatehouse.test',
  'https://user:pw@gatehouse.test',
  'https://gatehouse.test/?q=1',
  'https://gatehouse.test/#top',
  'https://gatehouse.test/base',
]

describe('GATEHOUSE (root)', () => {
  rejectsEach([
    ...invalid(['public_url'], NOT_URLS),
    ...invalid(['clock_skew_seconds'], [-1, 301, 1.5, '60', null]),
    ...invalid(['max_token_lifetime_seconds'], [59, 86_401, true]),
    ...invalid(['issuers'], [MISSING, [], {}, 'https://idp.test']),
    ...invalid(['jwks'], ['30', [], [30], null]),
    ...invalid(['routes'], [MISSING, [], { prefix: '/api' }]),
    ...invalid(['sensitive_scopes'], ['gatehouse:admin', [], ['gatehouse:admin']]),
    ...invalid(['revocation_timeout_ms'], [9, 5001, 150.5]),
    ...invalid(['metrics_scrape_secret'], ['', 'metrics_secret', '1METRICS', 'M'.repeat(65), 5]),
    ...invalid(['demo_page'], ['true', 1, null]),
    ...invalid(['auth'], ['on', [], null]),
    ...invalid(['$schema'], [5, true]),
    ...invalid(['public_uri'], ['https://gatehouse.test']),
    ...invalid(['revocation_timeout'], [150]),
  ])
})

describe('GATEHOUSE.jwks', () => {
  rejectsEach([
    ...invalid(['jwks', 'refetch_cooldown_seconds'], [0, 3601, 1.5, '30']),
    ...invalid(['jwks', 'max_stale_seconds'], [59, 604_801, null]),
    ...invalid(['jwks', 'fetch_timeout_ms'], [99, 30_001, '3000']),
    ...invalid(['jwks', 'isolate_ttl_seconds'], [0, 86_401, false]),
    ...invalid(['jwks', 'cooldown_seconds'], [30]),
  ])
})

describe('GATEHOUSE.sensitive_scopes', () => {
  rejectsEach([
    ...invalid(['sensitive_scopes', 'gatehouse:admin'], ['high', 'CRITICAL', 1, null]),
    ...invalid(['sensitive_scopes', 'two words'], ['critical']),
    ...invalid(['sensitive_scopes', 'quote"scope'], ['standard']),
    ...invalid(['sensitive_scopes', 'back\\slash'], ['low']),
  ])
})
