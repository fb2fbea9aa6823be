// Every field of the auth table: one invalid value at a time on an otherwise valid document,
// and the error names that field or, for allowed_origins, the offending entry.

import { describe } from 'vitest'
import { fieldOf, invalid, rejectsEach } from './fixtures'

const at = (...keys: (string | number)[]) => ['auth', ...keys]

describe('GATEHOUSE.auth', () => {
  rejectsEach([
    ...invalid(at('signing_algorithm'), ['ES256', 'eddsa', 'HS256', 5]),
    ...invalid(at('access_token_ttl_seconds'), [299, 3601, 900.5, '900']),
    ...invalid(at('key_rotation_interval_days'), [0, 366, 1.5]),
    ...invalid(at('session_absolute_lifetime_hours'), [0, 8761, '720']),
    ...invalid(at('session_idle_lifetime_hours'), [0, 8761, null]),
    ...invalid(at('refresh_reuse_interval_seconds'), [-1, 61, 0.5]),
    ...invalid(at('allowed_origins'), ['https://app.test', { origin: 'https://app.test' }]),
    ...invalid(
      at('allowed_origins'),
      [
        ['https://app.test/'],
        ['https://APP.test'],
        ['https://app.test:443'],
        ['https://app.test/path'],
        ['app.test'],
        ['ftp://app.test'],
        ['https://app.test?x=1'],
        [''],
      ],
      fieldOf(at('allowed_origins', 0)),
    ),
    ...invalid(
      at('allowed_origins'),
      [['https://app.test', 'https://app.test/#x']],
      fieldOf(at('allowed_origins', 1)),
    ),
    ...invalid(at('access_token_ttl'), [900]),
    ...invalid(at('cookie_name'), ['session']),
  ])
})
