// Secrets are named by the document and read from the bindings: a missing or short one is
// refused naming the field that names it, every one is reported at once, and a value never
// appears in a message.

import { describe, expect, it } from 'vitest'
import { MIN_SECRET_LENGTH, parseConfig } from '../../../src/config/config'
import { MISSING, SECRETS, configError, validDocument, withField } from './fixtures'

const without = (...names: string[]) =>
  Object.fromEntries(Object.entries(SECRETS).filter(([name]) => !names.includes(name)))

describe('secrets', () => {
  it.each([
    ['ORIGIN_SECRET_A', 'GATEHOUSE.routes["/api/public"].origin_secret'],
    ['ORIGIN_SECRET_B', 'GATEHOUSE.routes["/api/echo/*"].origin_secret'],
    ['METRICS_SECRET', 'GATEHOUSE.metrics_scrape_secret'],
    ['KEY_ENCRYPTION_SECRET', 'GATEHOUSE.auth.(secret)'],
    ['PASSWORD_PEPPER', 'GATEHOUSE.auth.(secret)'],
  ])('refuses a missing %s, naming %s', (name, field) => {
    const err = configError({ ...without(name), GATEHOUSE: validDocument() })
    expect(err.issues).toEqual([
      { field, problem: `secret ${name} is not set (wrangler secret put ${name})` },
    ])
  })

  it('refuses a secret one character short of the minimum, without printing it', () => {
    const short = 's'.repeat(MIN_SECRET_LENGTH - 1)
    const err = configError({ ...SECRETS, ORIGIN_SECRET_B: short, GATEHOUSE: validDocument() })
    expect(err.field).toBe('GATEHOUSE.routes["/api/echo/*"].origin_secret')
    expect(err.message).not.toContain(short)
    const exact = 's'.repeat(MIN_SECRET_LENGTH)
    const config = parseConfig({ ...SECRETS, ORIGIN_SECRET_B: exact, GATEHOUSE: validDocument() })
    expect(config.routes[1]?.originSecret).toBe(exact)
  })

  it('refuses a binding that is not a string', () => {
    const err = configError({
      ...SECRETS,
      METRICS_SECRET: { get: () => 'x' },
      GATEHOUSE: validDocument(),
    })
    expect(err.field).toBe('GATEHOUSE.metrics_scrape_secret')
  })

  it('reports every missing secret at once', () => {
    const err = configError({ GATEHOUSE: validDocument() })
    expect(err.issues.map((i) => i.field)).toEqual([
      'GATEHOUSE.routes["/api/public"].origin_secret',
      'GATEHOUSE.routes["/api/echo/*"].origin_secret',
      'GATEHOUSE.metrics_scrape_secret',
      'GATEHOUSE.auth.(secret)',
      'GATEHOUSE.auth.(secret)',
    ])
  })

  it('needs no auth secrets when no issuer is self', () => {
    const thirdParty = (validDocument().issuers as unknown[]).slice(1)
    const doc = withField(withField(validDocument(), ['issuers'], thirdParty), ['auth'], MISSING)
    const config = parseConfig({
      ...without('KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER'),
      GATEHOUSE: doc,
    })
    expect(config.auth.enabled).toBe(false)
    expect(config.auth.keyEncryptionSecret).toBe('')
  })

  it('resolves every named secret into the config', () => {
    const config = parseConfig({ ...SECRETS, GATEHOUSE: validDocument() })
    expect(config.routes.map((r) => [r.originSecretName, r.originSecret])).toEqual([
      ['ORIGIN_SECRET_A', SECRETS.ORIGIN_SECRET_A],
      ['ORIGIN_SECRET_B', SECRETS.ORIGIN_SECRET_B],
    ])
    expect(config.metricsScrapeSecret).toBe(SECRETS.METRICS_SECRET)
    expect(config.auth.keyEncryptionSecret).toBe(SECRETS.KEY_ENCRYPTION_SECRET)
    expect(config.auth.passwordPepper).toBe(SECRETS.PASSWORD_PEPPER)
  })
})
