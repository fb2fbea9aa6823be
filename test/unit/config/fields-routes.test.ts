// Every field of a route table: one invalid value at a time on an otherwise valid document
// (routes[1] is the token route), and the error names that field or, for a list, the entry.

import { describe } from 'vitest'
import { MISSING, fieldOf, invalid, rejectsEach } from './fixtures'

const at = (...keys: (string | number)[]) => ['routes', 1, ...keys]

describe('GATEHOUSE.routes[]', () => {
  rejectsEach([
    ...invalid(['routes', 1], ['/api/echo', [], null]),
    ...invalid(at('prefix'), [
      MISSING,
      '',
      'api/echo',
      '/api/echo?x=1',
      '/api//echo',
      '/api/ech o',
      `/${'a'.repeat(200)}`,
      5,
    ]),
    // Reserved for the gateway's own endpoints, with and without a wildcard or a subpath.
    ...invalid(at('prefix'), [
      '/auth',
      '/auth/*',
      '/auth/login',
      '/admin',
      '/.well-known/jwks.json',
      '/healthz',
      '/metrics/',
      '/demo',
    ]),
    ...invalid(at('origin'), [
      MISSING,
      '',
      'not a url',
      'ftp://origin.test',
      'https://origin.test/base',
      'https://origin.test/?q=1',
      'https://user:pw@origin.test',
      5,
    ]),
    ...invalid(at('auth'), [MISSING, 'basic', 'TOKEN', true]),
    ...invalid(at('read_scopes'), ['echo:read', { echo: 'read' }]),
    ...invalid(
      at('read_scopes'),
      [['two words'], ['quote"d'], [''], [5]],
      fieldOf(at('read_scopes', 0)),
    ),
    ...invalid(at('write_scopes'), ['echo:write', null]),
    ...invalid(at('write_scopes'), [['back\\slash']], fieldOf(at('write_scopes', 0))),
    ...invalid(at('write_scopes'), [['echo:write', 'é']], fieldOf(at('write_scopes', 1))),
    ...invalid(at('methods'), ['GET', null]),
    ...invalid(at('methods'), [['TRACE'], ['get'], ['CONNECT']], fieldOf(at('methods', 0))),
    ...invalid(at('tier'), ['high', 'Critical', 1]),
    ...invalid(at('timeout_ms'), [99, 120_001, 1000.5, '5000']),
    ...invalid(at('forward_authorization'), ['yes', 0]),
    ...invalid(at('retries'), [-1, 6, 1.5]),
    ...invalid(at('max_in_flight'), [0, 10_001, '64']),
    ...invalid(at('origin_secret'), [
      MISSING,
      '',
      'origin_secret_b',
      '1ORIGIN',
      'ORIGIN-SECRET',
      `O${'A'.repeat(64)}`,
      5,
    ]),
    ...invalid(at('timeout'), [5000]),
    ...invalid(at('scopes'), [['echo:read']]),
    ...invalid(at('issuers'), [[], 'https://idp.test/', { 'https://idp.test/': true }]),
    ...invalid(at('issuers'), [[''], [5], ['https://unknown.test']], fieldOf(at('issuers', 0))),
    ...invalid(
      ['routes', 0, 'issuers'],
      [['https://idp.test/']],
      fieldOf(['routes', 0, 'issuers']),
    ),
  ])
})
