// Where the document comes from: the bundled profile GATEHOUSE_PROFILE names, or a GATEHOUSE
// var (object or JSON string) that overrides it; and loadConfig's per-source cache, which keeps
// a broken configuration's error too.

import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/config'
import { SECRETS, configError, sourceOf, validDocument } from './fixtures'

const PROFILE_SECRETS = {
  ...SECRETS,
  ORIGIN_SECRET_DEMO: 'unit-origin-secret-demo-0123456789abcdef',
  METRICS_SCRAPE_SECRET: 'unit-metrics-scrape-secret-0123456789ab',
}

describe('profile selection', () => {
  it('selects the bundled profile named by GATEHOUSE_PROFILE', () => {
    const demo = parseConfig({ ...PROFILE_SECRETS, GATEHOUSE_PROFILE: 'demo' })
    expect(demo.publicUrl).toBe('http://127.0.0.1:8787')
    expect(demo.demoPage).toBe(true)
    expect(demo.revocationTimeoutMs).toBe(1000)
  })

  it('uses the demo profile in the test env, as wrangler.toml declares it', () => {
    expect(env.GATEHOUSE_PROFILE).toBe('demo')
    const config = loadConfig(env)
    if (config instanceof ConfigError) throw config
    expect(config.publicUrl).toBe('http://127.0.0.1:8787')
  })

  it.each([['staging'], ['Demo'], [''], ['toString'], ['__proto__'], [1], [null]])(
    'refuses the unknown profile %j, naming GATEHOUSE_PROFILE',
    (profile) => {
      const err = configError({ ...PROFILE_SECRETS, GATEHOUSE_PROFILE: profile })
      expect(err.field).toBe('GATEHOUSE_PROFILE')
      expect(err.problem).toBe('must be one of demo, production')
    },
  )

  it('refuses a source with neither GATEHOUSE_PROFILE nor GATEHOUSE', () => {
    expect(configError({ ...PROFILE_SECRETS }).field).toBe('GATEHOUSE_PROFILE')
  })
})

describe('the GATEHOUSE override', () => {
  it('takes precedence over the profile, as an object', () => {
    const config = parseConfig(sourceOf(validDocument(), { GATEHOUSE_PROFILE: 'demo' }))
    expect(config.publicUrl).toBe('https://gatehouse.test')
  })

  it('takes precedence even over an unknown profile name', () => {
    expect(parseConfig(sourceOf(validDocument(), { GATEHOUSE_PROFILE: 'nope' })).demoPage).toBe(
      false,
    )
  })

  it('may be a JSON string (wrangler --var GATEHOUSE:<json>)', () => {
    const config = parseConfig(sourceOf(JSON.stringify(validDocument())))
    expect(config.routes).toHaveLength(2)
  })

  it.each([['{not json'], ['']])(
    'refuses the string %j that is not JSON, naming GATEHOUSE',
    (text) => {
      expect(configError(sourceOf(text)).field).toBe('GATEHOUSE')
    },
  )

  it.each([[5], [[]], [null], ['"a string"'], ['[1]']])(
    'refuses %j as a document, naming GATEHOUSE',
    (doc) => {
      const err = configError(sourceOf(doc))
      expect(err.field).toBe('GATEHOUSE')
      expect(err.problem).toBe('must be a table (object)')
    },
  )

  it('accepts and ignores "$schema"', () => {
    const doc = { $schema: '../docs/config.schema.json', ...validDocument() }
    expect(parseConfig(sourceOf(doc))).toEqual(parseConfig(sourceOf(validDocument())))
  })
})

describe('loadConfig', () => {
  it('parses once per source object', () => {
    const source = sourceOf(validDocument())
    const first = loadConfig(source)
    expect(first).not.toBeInstanceOf(ConfigError)
    expect(loadConfig(source)).toBe(first)
    expect(loadConfig(sourceOf(validDocument()))).not.toBe(first)
  })

  it('caches the ConfigError of a broken source instead of re-validating', () => {
    const source = sourceOf({ ...validDocument(), public_url: 'nope' })
    const first = loadConfig(source)
    expect(first).toBeInstanceOf(ConfigError)
    expect((first as ConfigError).field).toBe('GATEHOUSE.public_url')
    expect(loadConfig(source)).toBe(first)
  })
})
