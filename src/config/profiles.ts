// Where the GATEHOUSE document comes from. The profiles are JSON files bundled into the Worker
// (config/*.json, so a configuration is limited by the script size, not by the 5 KB of a var);
// the GATEHOUSE_PROFILE var picks one. A GATEHOUSE var (a JSON string or an object) overrides the
// profile: `npm start` rewrites ports with it, and tests build their own documents with it.

import demo from '../../config/demo.json'
import production from '../../config/production.json'
import { ConfigError, ROOT_FIELD } from './errors'

/** Raw bindings the configuration reads: GATEHOUSE, GATEHOUSE_PROFILE and the secrets named. */
export type ConfigSource = { readonly GATEHOUSE?: unknown } & Record<string, unknown>

const PROFILE_FIELD = 'GATEHOUSE_PROFILE'

/** The bundled profiles, by GATEHOUSE_PROFILE value. */
const PROFILES: Readonly<Record<string, unknown>> = { demo, production }

/**
 * The raw document this source selects: the GATEHOUSE override if set, else the named profile.
 * Throws ConfigError on GATEHOUSE (not JSON) or GATEHOUSE_PROFILE (unset or unknown).
 */
export function selectDocument(source: ConfigSource): unknown {
  const override = source.GATEHOUSE
  if (override !== undefined) {
    if (typeof override !== 'string') return override
    try {
      return JSON.parse(override)
    } catch {
      throw new ConfigError(ROOT_FIELD, 'is a string but not valid JSON')
    }
  }
  const profile = source[PROFILE_FIELD]
  if (profile === undefined) {
    throw new ConfigError(
      PROFILE_FIELD,
      'is not set, and no GATEHOUSE var overrides it (see README: Configuration)',
    )
  }
  if (typeof profile !== 'string' || !Object.hasOwn(PROFILES, profile)) {
    throw new ConfigError(PROFILE_FIELD, `must be one of ${Object.keys(PROFILES).join(', ')}`)
  }
  return PROFILES[profile]
}
