// What the deploy scripts know about wrangler.toml: one environment as wrangler resolves it
// (`unstable_readConfig`, so inheritance works exactly as on deploy), the gateway's own
// validation of the configuration that environment selects (the bundled config/<profile>.json
// named by its GATEHOUSE_PROFILE var, or a GATEHOUSE override var; src/config/config.ts bundled
// into Node with esbuild, run with placeholder secrets), and the extra rules a deployed
// environment must follow (bindings equal to the top level's, https only, no demo page).
// Problems name the field, like the Worker's start-up error does.

import { build } from 'esbuild'
import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler')
export const WRANGLER_TOML = join(ROOT, 'wrangler.toml')
/** The scope a gateway administrator's token must carry (src/admin/admin-auth.ts). */
export const ADMIN_SCOPE = 'gatehouse:admin'
/** Secrets the deployed gateway reads besides those its configuration names. */
export const BASE_SECRETS = ['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER']
/** Ids in the committed wrangler.toml that must be replaced before a real deploy. */
const PLACEHOLDER_ID = /^REPLACE_WITH_|^0{8}-?0{4}-?0{4}-?0{4}-?0{11}[0-9]$|^0{31}[0-9]$/
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$|\.localhost$/i
/** Long enough for the 32-character secret minimum (src/config/secrets.ts); never a real secret. */
const PLACEHOLDER_SECRET = 'check-config-placeholder-secret-0123456789abcdef'

/** One problem in the configuration: the field (as written in wrangler.toml) and what is wrong. */
export class DeployConfigProblem {
  constructor(field, problem) {
    this.field = field
    this.problem = problem
  }

  toString() {
    return `${this.field}: ${this.problem}`
  }
}

/** The resolved configuration of one environment (undefined = the top level). */
export async function readWranglerEnv(env, configPath = WRANGLER_TOML) {
  const { unstable_readConfig } = await import('wrangler')
  return unstable_readConfig({ config: configPath, ...(env ? { env } : {}) })
}

const bundles = new Map()

/**
 * Bundles a TypeScript module of src/ (and what it imports, the bundled config/*.json included)
 * into .wrangler/tmp with esbuild and imports it; one bundle per entry and process.
 */
export function importBundled(entry) {
  if (!bundles.has(entry)) {
    bundles.set(
      entry,
      (async () => {
        const name = entry.replace(/[^A-Za-z0-9]+/g, '-')
        const outfile = join(ROOT, '.wrangler', 'tmp', 'check-config', `${name}-${process.pid}.mjs`)
        await mkdir(dirname(outfile), { recursive: true })
        await build({
          entryPoints: [join(ROOT, entry)],
          bundle: true,
          format: 'esm',
          platform: 'neutral',
          outfile,
          logLevel: 'error',
        })
        try {
          return await import(pathToFileURL(outfile).href)
        } finally {
          await rm(outfile, { force: true }) // per-process name: parallel runs never share a file
        }
      })(),
    )
  }
  return bundles.get(entry)
}

/** src/config/config.ts as a Node module ({ parseConfig, ConfigError, PROFILES, … }). */
export function loadConfigModule() {
  return importBundled('src/config/config.ts')
}

/**
 * Where an environment's configuration comes from, as a label for messages: the GATEHOUSE var
 * when set (it overrides the profile, as in the Worker), else the profile's bundled JSON file.
 */
export function configSource(vars) {
  if (vars?.GATEHOUSE !== undefined) return 'vars.GATEHOUSE'
  const profile = vars?.GATEHOUSE_PROFILE
  return typeof profile === 'string' ? `config/${profile}.json` : 'vars.GATEHOUSE_PROFILE'
}

/**
 * How a ConfigError field (`GATEHOUSE.routes[1].origin`, `GATEHOUSE_PROFILE`) is shown for this
 * environment: `vars.…` for vars, `GATEHOUSE.… (config/<profile>.json)` for a profile's field.
 */
export function configFieldLabel(vars, field) {
  const source = configSource(vars)
  if (source.startsWith('vars.') || !field.startsWith('GATEHOUSE.')) return `vars.${field}`
  return `${field} (${source})`
}

/**
 * Runs the gateway's own parseConfig over an environment's vars (GATEHOUSE_PROFILE, or the
 * GATEHOUSE override). Every secret the configuration reads gets a placeholder, and its name is
 * recorded: that list is exactly what `wrangler secret put` must provide. Returns
 * { config, secretNames, source } or { problem, problems } (problem: the first).
 */
export async function validateGatehouse(vars, label) {
  const { parseConfig, ConfigError } = await loadConfigModule()
  const secretNames = new Set()
  const source = new Proxy(
    {},
    {
      get(_target, name) {
        if (name === 'GATEHOUSE' || name === 'GATEHOUSE_PROFILE') return vars?.[name]
        if (typeof name !== 'string') return undefined
        secretNames.add(name)
        return PLACEHOLDER_SECRET
      },
    },
  )
  try {
    const config = parseConfig(source)
    return { config, secretNames: [...secretNames], source: configSource(vars) }
  } catch (err) {
    if (err instanceof ConfigError) {
      const problems = err.issues.map(
        (issue) =>
          new DeployConfigProblem(`${label}${configFieldLabel(vars, issue.field)}`, issue.problem),
      )
      return { problem: problems[0], problems }
    }
    throw err
  }
}

/** Every secret a deployed gateway with this configuration needs, in a stable order. */
export function requiredSecrets(configSecretNames) {
  const names = new Set([...BASE_SECRETS, ...configSecretNames])
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

function rank(name) {
  const i = BASE_SECRETS.indexOf(name)
  return i >= 0 ? i : BASE_SECRETS.length
}

/** The hosts an environment is served on (custom domains and zone routes). */
export function routeHosts(env) {
  const routes = env.routes ?? (env.route ? [env.route] : [])
  return routes.map((r) =>
    (typeof r === 'string' ? r : r.pattern).replace(/\/.*$/, '').toLowerCase(),
  )
}

/** True when an id is still the committed placeholder. */
export function isPlaceholderId(id) {
  return typeof id !== 'string' || PLACEHOLDER_ID.test(id)
}

/**
 * The rules a deployed environment follows beyond parseConfig: the same bindings as the top level
 * (wrangler does not inherit them), a custom domain that serves public_url and the self issuer,
 * https to every origin, no demo page. `requireIds`: the KV and D1 ids must be real.
 */
export function deployPolicyProblems(top, env, envName, config, { requireIds = false } = {}) {
  const at = (field) => `[env.${envName}] ${field}`
  const problems = []
  const add = (field, problem) => problems.push(new DeployConfigProblem(at(field), problem))

  if (env.workers_dev !== false)
    add('workers_dev', 'must be false (serve on the custom domain only)')
  const hosts = routeHosts(env)
  if (hosts.length === 0) add('routes', 'needs a custom domain route for the gateway host')

  const field = (name) => configFieldLabel(env.vars, `GATEHOUSE.${name}`)
  if (config.demoPage) add(field('demo_page'), 'must be false or absent when deployed')
  checkDeployedUrl(add, field('public_url'), config.publicUrl)
  const publicHost = safeHost(config.publicUrl)
  if (publicHost !== null && hosts.length > 0 && !hosts.includes(publicHost)) {
    add(field('public_url'), `host ${publicHost} is not one of the routes (${hosts.join(', ')})`)
  }
  config.issuers.forEach((issuer, i) => {
    if (issuer.self) {
      checkDeployedUrl(add, field(`issuers[${i}].issuer`), issuer.issuer)
      if (safeHost(issuer.issuer) !== publicHost) {
        add(field(`issuers[${i}].issuer`), 'the self issuer must be on the public_url host')
      }
    } else {
      checkDeployedUrl(add, field(`issuers[${i}].jwks_uri`), issuer.jwksUri)
    }
  })
  config.routes.forEach((route, i) =>
    checkDeployedUrl(add, field(`routes[${i}].origin`), route.origin),
  )
  config.auth.allowedOrigins.forEach((origin, i) =>
    checkDeployedUrl(add, field(`auth.allowed_origins[${i}]`), origin),
  )

  for (const name of Object.keys(top.vars ?? {})) {
    if (!(name in (env.vars ?? {}))) add(`vars.${name}`, 'is set at the top level but not here')
  }
  compareBindings(add, 'kv_namespaces', top.kv_namespaces, env.kv_namespaces, (b) => b.binding)
  compareBindings(add, 'd1_databases', top.d1_databases, env.d1_databases, (b) => b.binding)
  compareBindings(
    add,
    'durable_objects.bindings',
    top.durable_objects?.bindings,
    env.durable_objects?.bindings,
    (b) => `${b.name} (${b.class_name})`,
  )
  compareBindings(
    add,
    'queues.producers',
    top.queues?.producers,
    env.queues?.producers,
    (b) => b.binding,
  )
  compareBindings(
    add,
    'analytics_engine_datasets',
    top.analytics_engine_datasets,
    env.analytics_engine_datasets,
    (b) => b.binding,
  )
  const consumed = new Set((env.queues?.consumers ?? []).map((c) => c.queue))
  if ((top.queues?.consumers ?? []).length > 0) {
    for (const producer of env.queues?.producers ?? []) {
      if (!consumed.has(producer.queue)) {
        add('queues.consumers', `nothing consumes queue ${producer.queue} (the audit writer)`)
      }
    }
  }
  for (const db of env.d1_databases ?? []) {
    const topDb = (top.d1_databases ?? []).find((t) => t.binding === db.binding)
    if (topDb?.migrations_dir && db.migrations_dir !== topDb.migrations_dir) {
      add(`d1_databases.${db.binding}.migrations_dir`, `must be "${topDb.migrations_dir}"`)
    }
  }
  if ((top.triggers?.crons ?? []).length > 0 && (env.triggers?.crons ?? []).length === 0) {
    add('triggers.crons', 'the key lifecycle and cleanup cron is missing')
  }
  const migrated = new Set(
    (env.migrations ?? []).flatMap((m) => [
      ...(m.new_sqlite_classes ?? []),
      ...(m.new_classes ?? []),
    ]),
  )
  for (const b of env.durable_objects?.bindings ?? []) {
    if (!b.script_name && !migrated.has(b.class_name)) {
      add('migrations', `no migration creates Durable Object class ${b.class_name}`)
    }
  }
  if (requireIds) {
    for (const kv of env.kv_namespaces ?? []) {
      if (isPlaceholderId(kv.id)) add(`kv_namespaces.${kv.binding}.id`, 'is still a placeholder')
    }
    for (const db of env.d1_databases ?? []) {
      if (isPlaceholderId(db.database_id)) {
        add(`d1_databases.${db.binding}.database_id`, 'is still a placeholder')
      }
    }
  }
  return problems
}

function compareBindings(add, field, topList = [], envList = [], key) {
  const have = new Set(envList.map(key))
  for (const binding of topList) {
    if (!have.has(key(binding)))
      add(field, `${key(binding)} is bound at the top level but not here`)
  }
}

function safeHost(url) {
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return null
  }
}

function checkDeployedUrl(add, field, value) {
  if (typeof value !== 'string') return
  let url
  try {
    url = new URL(value)
  } catch {
    return // parseConfig already named it
  }
  if (url.protocol !== 'https:') add(field, 'must use https when deployed')
  if (LOOPBACK_HOST.test(url.hostname))
    add(field, 'must not point at a loopback host when deployed')
}
