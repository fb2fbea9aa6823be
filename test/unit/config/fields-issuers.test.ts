// Every field of an issuer table: one invalid value at a time on an otherwise valid document
// (issuers[0] is the self issuer, issuers[1] a third party), and the error names that field or,
// for a list, the offending entry.

import { describe } from 'vitest'
import { MISSING, fieldOf, invalid, rejectsEach } from './fixtures'

const THIRD_PARTY = ['issuers', 1] as const
const at = (...keys: (string | number)[]) => [...THIRD_PARTY, ...keys]

describe('GATEHOUSE.issuers[]', () => {
  rejectsEach([
    ...invalid(['issuers', 1], ['https://idp.test', [], null]),
    ...invalid(at('issuer'), [MISSING, '', 'x'.repeat(301), 5]),
    ...invalid(at('self'), ['true', 1]),
    ...invalid(['issuers', 0, 'self'], ['yes']),
    ...invalid(at('jwks_uri'), [
      '',
      'not a url',
      'ftp://idp.test/jwks.json',
      'https://idp.test/jwks.json?v=1',
      'https://idp.test/jwks.json#keys',
      'https://user:pw@idp.test/jwks.json',
      5,
    ]),
    ...invalid(at('audiences'), [MISSING, [], 'api', { api: true }]),
    ...invalid(at('audiences'), [[''], ['two words'], [5]], fieldOf(at('audiences', 0))),
    ...invalid(at('audiences'), [['api', 'tab\there']], fieldOf(at('audiences', 1))),
    ...invalid(at('algorithms'), [[], 'RS256']),
    ...invalid(
      at('algorithms'),
      [['HS256'], ['none'], ['rs256'], ['']],
      fieldOf(at('algorithms', 0)),
    ),
    ...invalid(at('algorithms'), [['RS256', 'ES512']], fieldOf(at('algorithms', 1))),
    ...invalid(at('token_types'), [[], 'at+jwt']),
    ...invalid(at('token_types'), [['at jwt'], [''], [7]], fieldOf(at('token_types', 0))),
    ...invalid(at('tenant'), ['', 'x'.repeat(129), 'two words', 5]),
    ...invalid(at('tenants'), [[], 'acme', { acme: true }]),
    ...invalid(at('tenants'), [['two words'], [''], ['x'.repeat(129)]], fieldOf(at('tenants', 0))),
    ...invalid(at('scope_claim'), ['', 'two words', 'x'.repeat(257), 5, ['scp']]),
    ...invalid(at('scope_format'), ['spaces', 'ARRAY', 1, null]),
    // The self issuer mints `scope` itself, as a space-delimited string.
    ...invalid(['issuers', 0, 'scope_claim'], ['scp']),
    ...invalid(['issuers', 0, 'scope_format'], ['array'], fieldOf(['issuers', 0, 'scope_claim'])),
    ...invalid(at('jwks_url'), ['https://idp.test/jwks.json']),
    ...invalid(at('audience'), ['api']),
  ])
})
