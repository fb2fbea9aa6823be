// The one reader of raw vars: parseConfig(env) selects the GATEHOUSE document (a bundled profile
// named by GATEHOUSE_PROFILE, or a GATEHOUSE override), validates it with the valibot schema,
// resolves the secrets it names and returns a frozen, typed Config. loadConfig caches the result
// per env object, so a request never re-parses; a broken config is cached too, so every request
// answers 500 without re-validating.

import * as v from 'valibot'
import { buildConfig } from './build'
import { ConfigError, issuesFromValibot, type ConfigIssue } from './errors'
import { selectDocument, type ConfigSource } from './profiles'
import { GatehouseSchema } from './schema'
import { resolveSecrets } from './secrets'
import type { Config } from './types'

export { ConfigError } from './errors'
export type { ConfigSource } from './profiles'
export { MIN_SECRET_LENGTH } from './secrets'
export type { Config, IssuerConfig } from './types'

/**
 * Validates the whole configuration and resolves its secrets. Throws ConfigError listing every
 * problem found (`issues`); `field` and the message name the first. Secrets are looked up once
 * the document itself is valid.
 */
export function parseConfig(env: ConfigSource): Config {
  const doc = selectDocument(env)
  const result = v.safeParse(GatehouseSchema, doc, { abortEarly: false })
  if (!result.success) throw errorOf(issuesFromValibot(result.issues, doc))
  const { values, issues } = resolveSecrets(result.output, (name) => env[name])
  if (issues.length > 0) throw errorOf(issues)
  return buildConfig(result.output, (name) => {
    const value = values.get(name)
    if (value === undefined) throw new Error(`secret ${name} was not resolved`) // a bug, not config
    return value
  })
}

function errorOf(issues: ConfigIssue[]): ConfigError {
  const [first, ...rest] = issues
  if (first === undefined) return new ConfigError('GATEHOUSE', 'is invalid')
  return ConfigError.of([first, ...rest])
}

/** Epoch seconds by which every access token accepted now has expired, skew included. */
export function tokenHorizon(config: Config, nowSeconds: number): number {
  return nowSeconds + config.maxTokenLifetimeSeconds + config.clockSkewSeconds
}

const cache = new WeakMap<object, Config | ConfigError>()

/**
 * Returns the isolate's parsed Config for this env, or the cached ConfigError. Parsing happens
 * once per env object (workerd hands every request of an isolate the same one).
 */
export function loadConfig(env: ConfigSource): Config | ConfigError {
  let entry = cache.get(env)
  if (entry === undefined) {
    try {
      entry = parseConfig(env)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      entry = err
    }
    cache.set(env, entry)
  }
  return entry
}
