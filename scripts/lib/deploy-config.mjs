// What the deploy scripts know about wrangler.toml: one environment as wrangler resolves it
// (`unstable_readConfig`, so inheritance works exactly as on deploy), the gateway's own
// validation of the configuration that environment selects (the bundled config/<profile>.json
// named by its GATEHOUSE_PROFILE var, or a GATEHOUSE override var; src/config/config.ts bundled
// into Node with esbuild, run with placeholder secrets), and the extra rules a deployed
// environment must follow (bindings equal to the top level's, D1 databases exactly those the
// configuration's storage table names, https only, no demo page). Problems name the field, like
// the Worker's start-up error does.

import { build } from 'esbuild'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
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
/**
 * Names reserved for documentation and tests (RFC 2606, RFC 6761): example.com/.org/.net and
 * their subdomains, the .example, .test and .invalid TLDs. Never a deployed service. (Loopback
 * hosts are errors when deployed: LOOPBACK_HOST.)
 */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|org|net)|example|test|invalid)$/i
/** Long enough for the 32-character secret minimum (src/config/secrets.ts); never a real secret. */
const PLACEHOLDER_SECRET = 'check-config-placeholder-secret-0123456789abcdef'
/** The schema every session shard gets (wrangler.toml migrations_dir), and the audit database's. */
export const SESSION_MIGRATIONS_DIR = 'migrations/sessions'
export const AUDIT_MIGRATIONS_DIR = 'migrations/audit'
/** The one D1 binding of the layout before sharding: a leftover when the storage table is set. */
const PRE_SHARDING_BINDING = 'DB'

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
 * The configuration document an environment's vars select, exactly as the Worker selects it
 * (src/config/profiles.ts): the GATEHOUSE override, else the bundled profile. Unvalidated: call
 * validateGatehouse first. Throws ConfigError when the vars select none.
 */
export async function gatehouseDocument(vars) {
  const { selectDocument } = await importBundled('src/config/profiles.ts')
  return selectDocument({ GATEHOUSE: vars?.GATEHOUSE, GATEHOUSE_PROFILE: vars?.GATEHOUSE_PROFILE })
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

/** A field namer by position only, for callers without the document (`routes[1].origin`). */
const byIndex = (keys) =>
  keys.reduce(
    (field, key) => field + (typeof key === 'number' ? `[${key}]` : `.${key}`),
    'GATEHOUSE',
  )

/**
 * Runs the gateway's own parseConfig over an environment's vars (GATEHOUSE_PROFILE, or the
 * GATEHOUSE override). Every secret the configuration reads gets a placeholder, and its name is
 * recorded: that list is exactly what `wrangler secret put` must provide. Returns
 * { config, secretNames, source, name } or { problem, problems } (problem: the first); `name`
 * names a field of the document as parseConfig does (`name(['routes', 1, 'origin'])` is
 * `GATEHOUSE.routes["/api/orders"].origin`).
 */
export async function validateGatehouse(vars, label) {
  const { parseConfig, ConfigError } = await loadConfigModule()
  const { fieldName } = await importBundled('src/config/errors.ts')
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
    const document = await gatehouseDocument(vars)
    const name = (keys) => fieldName(keys, document)
    return { config, secretNames: [...secretNames], source: configSource(vars), name }
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
 * (wrangler does not inherit them), except D1, which follows the configuration's storage table
 * (storageBindingProblems); a custom domain that serves public_url and the self issuer, https to
 * every origin, no demo page. `requireIds`: the KV and D1 ids must be real. `name`: the field
 * namer validateGatehouse returned (routes by prefix, issuers by name); default: by index.
 */
export function deployPolicyProblems(
  top,
  env,
  envName,
  config,
  { requireIds = false, name = byIndex } = {},
) {
  const at = (field) => `[env.${envName}] ${field}`
  const problems = []
  const add = (field, problem) => problems.push(new DeployConfigProblem(at(field), problem))

  if (env.workers_dev !== false)
    add('workers_dev', 'must be false (serve on the custom domain only)')
  const hosts = routeHosts(env)
  if (hosts.length === 0) add('routes', 'needs a custom domain route for the gateway host')

  const field = (...keys) => configFieldLabel(env.vars, name(keys))
  if (config.demoPage) add(field('demo_page'), 'must be false or absent when deployed')
  checkDeployedUrl(add, field('public_url'), config.publicUrl)
  const publicHost = safeHost(config.publicUrl)
  if (publicHost !== null && hosts.length > 0 && !hosts.includes(publicHost)) {
    add(field('public_url'), `host ${publicHost} is not one of the routes (${hosts.join(', ')})`)
  }
  config.issuers.forEach((issuer, i) => {
    if (issuer.self) {
      checkDeployedUrl(add, field('issuers', i, 'issuer'), issuer.issuer)
      if (safeHost(issuer.issuer) !== publicHost) {
        add(field('issuers', i, 'issuer'), 'the self issuer must be on the public_url host')
      }
    } else {
      checkDeployedUrl(add, field('issuers', i, 'jwks_uri'), issuer.jwksUri)
    }
  })
  config.routes.forEach((route, i) =>
    checkDeployedUrl(add, field('routes', i, 'origin'), route.origin),
  )
  config.auth.allowedOrigins.forEach((origin, i) =>
    checkDeployedUrl(add, field('auth', 'allowed_origins', i), origin),
  )

  for (const name of Object.keys(top.vars ?? {})) {
    if (!(name in (env.vars ?? {}))) add(`vars.${name}`, 'is set at the top level but not here')
  }
  compareBindings(add, 'kv_namespaces', top.kv_namespaces, env.kv_namespaces, (b) => b.binding)
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
  problems.push(...storageBindingProblems(env, config, `[env.${envName}] `))
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

/**
 * Warnings (not errors) for a deployed environment: every URL of the configuration whose host is
 * a documentation or test name (example.com, *.test, …: PLACEHOLDER_HOST) — the public URL and
 * its aliases, each issuer and its jwks_uri, each route's origin, the browser origins. The
 * committed production profile has them on purpose; a real deploy replaces every one.
 * Returns DeployConfigProblems, fields named by `name` (validateGatehouse's).
 */
export function placeholderHostWarnings(env, config, name = byIndex) {
  const warnings = []
  const check = (keys, url) => {
    const host = safeHostname(url)
    if (host !== null && PLACEHOLDER_HOST.test(host)) {
      warnings.push(
        new DeployConfigProblem(
          configFieldLabel(env.vars, name(keys)),
          `${host} is a placeholder host (reserved for documentation and tests): replace it`,
        ),
      )
    }
  }
  check(['public_url'], config.publicUrl)
  config.publicAliases.forEach((alias, i) => check(['public_aliases', i], alias))
  config.issuers.forEach((issuer, i) => {
    check(['issuers', i, 'issuer'], issuer.issuer)
    if (issuer.jwksUri !== null) check(['issuers', i, 'jwks_uri'], issuer.jwksUri)
  })
  config.routes.forEach((route, i) => check(['routes', i, 'origin'], route.origin))
  config.auth.allowedOrigins.forEach((origin, i) => check(['auth', 'allowed_origins', i], origin))
  return warnings
}

/**
 * Which of `needed` are not set on the deployed Worker, by `wrangler secret list --env <env>`
 * (read through `list`, which runs it and returns { ok, output }): { missing } (a Worker not
 * deployed yet has none), or { unknown: why } when wrangler did not answer (offline, not
 * logged in), so a caller can say the secrets were not checked rather than guess.
 */
export function unsetSecrets(needed, worker, envName, list) {
  const { ok, output } = list()
  if (!ok) {
    if (output.includes(workerNotFoundText(worker, envName))) return { missing: [...needed] }
    return { unknown: `\`wrangler secret list --env ${envName}\` failed: ${wranglerError(output)}` }
  }
  const set = secretNamesFromList(output)
  if (set === null) return { unknown: 'cannot read the output of `wrangler secret list`' }
  return { missing: needed.filter((name) => !set.has(name)) }
}

/**
 * The D1 databases a configuration uses, in plan order: its session shards, then its audit
 * database. Each: { binding, role ('session shard' | 'audit'), field (the configuration field
 * naming it), migrationsDir (the one it must use), buckets (shards only: a ranges text),
 * declared (the environment's d1_databases entry, or undefined) }.
 */
export function configuredD1(env, config) {
  const declared = new Map((env.d1_databases ?? []).map((db) => [db.binding, db]))
  const { shards, auditBinding } = config.storage
  return [
    ...shards.map((shard, i) => ({
      binding: shard.binding,
      role: 'session shard',
      field: `storage.session_shards[${i}].binding`,
      migrationsDir: SESSION_MIGRATIONS_DIR,
      buckets: bucketRangesText(shard.buckets),
      declared: declared.get(shard.binding),
    })),
    {
      binding: auditBinding,
      role: 'audit',
      field: 'storage.audit_database',
      migrationsDir: AUDIT_MIGRATIONS_DIR,
      declared: declared.get(auditBinding),
    },
  ]
}

/**
 * What is wrong between a configuration's storage table and an environment's d1_databases:
 * a configured binding the environment does not declare, a shard or audit database with the
 * wrong migrations_dir, a declared D1 binding the configuration does not use, two bindings on
 * one database. `label` prefixes every field (`[env.production] `, or '' for the top level).
 */
export function storageBindingProblems(env, config, label) {
  const problems = []
  const add = (field, problem) =>
    problems.push(new DeployConfigProblem(`${label}${field}`, problem))
  const where = label === '' ? 'the top level' : label.trim()
  const used = configuredD1(env, config)
  for (const db of used) {
    if (db.declared === undefined) {
      add(
        configFieldLabel(env.vars, `GATEHOUSE.${db.field}`),
        `${JSON.stringify(db.binding)} is not a d1_databases binding of ${where}`,
      )
    } else if (migrationsDirOf(db.declared) !== db.migrationsDir) {
      add(
        `d1_databases.${db.binding}.migrations_dir`,
        `must be "${db.migrationsDir}" (${db.binding} is ${db.role === 'audit' ? 'the audit database' : 'a session shard'}: ${db.field})`,
      )
    }
  }
  const usedBindings = new Set(used.map((db) => db.binding))
  for (const db of env.d1_databases ?? []) {
    if (usedBindings.has(db.binding)) continue
    const leftover =
      db.binding === PRE_SHARDING_BINDING ? ' (the single database from before sharding?)' : ''
    add(
      `d1_databases.${db.binding}`,
      `is not used by the configuration (${configSource(env.vars)} storage): remove it or name it there${leftover}`,
    )
  }
  const byName = new Map()
  for (const db of env.d1_databases ?? []) {
    const other = byName.get(db.database_name)
    if (other !== undefined) {
      add(
        `d1_databases.${db.binding}.database_name`,
        `is ${other}'s database too: each binding needs a database of its own`,
      )
    } else byName.set(db.database_name, db.binding)
  }
  return problems
}

function migrationsDirOf(db) {
  return typeof db.migrations_dir === 'string'
    ? posix.normalize(db.migrations_dir).replace(/\/$/, '')
    : undefined
}

/** Bucket numbers as the ranges text a configuration writes ("0-255,768-1023"). */
export function bucketRangesText(buckets) {
  const sorted = [...buckets].sort((a, b) => a - b)
  const ranges = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return ranges.join(',')
}

function compareBindings(add, field, topList = [], envList = [], key) {
  const have = new Set(envList.map(key))
  for (const binding of topList) {
    if (!have.has(key(binding)))
      add(field, `${key(binding)} is bound at the top level but not here`)
  }
}

/** The first sentence of wrangler's [ERROR] line (colours stripped), or a generic note. */
function wranglerError(output) {
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '')
  const line = plain.split('\n').find((l) => l.includes('[ERROR]'))
  if (line === undefined) return 'no error message (see its log)'
  return line.replace(/^.*\[ERROR\]\s*/, '').replace(/(\.)\s.*$/, '$1')
}

function safeHostname(url) {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return null
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

// ── deploy-setup helpers (pure, so the walk-through test can check them offline) ─────────────

/** A Cloudflare account id: 32 lowercase hex digits (what `wrangler whoami` lists). */
const ACCOUNT_ID = /^[0-9a-f]{32}$/

/**
 * Which account wrangler will act on without asking: CLOUDFLARE_ACCOUNT_ID, else the
 * environment's `account_id`. Returns { id, from } or null. Under CI=1 wrangler cannot prompt,
 * so with several accounts and neither set it aborts with "More than one account available".
 */
export function accountIdOf(env, processEnv = process.env) {
  const fromEnv = processEnv.CLOUDFLARE_ACCOUNT_ID
  if (typeof fromEnv === 'string' && fromEnv !== '')
    return { id: fromEnv, from: 'CLOUDFLARE_ACCOUNT_ID' }
  if (typeof env.account_id === 'string' && env.account_id !== '') {
    return { id: env.account_id, from: 'wrangler.toml' }
  }
  return null
}

/** True when an account id has the shape Cloudflare uses (a typo fails before any API call). */
export function isAccountId(id) {
  return ACCOUNT_ID.test(id)
}

/**
 * The exact title of an environment's KV namespace: `<worker>-<binding, kebab-case>`
 * (`gatehouse-production-jwks-cache`). Create it with `wrangler kv namespace create <title>`
 * and no --env: wrangler 4 prefixes the title with `<env>-` when --env is given.
 */
export function kvNamespaceTitle(worker, binding) {
  return `${worker}-${binding.toLowerCase().replace(/_/g, '-')}`
}

/** The title `wrangler kv namespace create <title> --env <env>` would have produced instead. */
export function envPrefixedKvTitle(envName, title) {
  return `${envName}-${title}`
}

/** The hosts an environment serves as Custom Domains (`custom_domain = true` routes). */
export function customDomainHosts(env) {
  const routes = env.routes ?? (env.route ? [env.route] : [])
  return routes
    .filter((r) => typeof r === 'object' && r.custom_domain === true)
    .map((r) => r.pattern.toLowerCase())
}

/**
 * What `wrangler secret list --env <env>` (wrangler 4.86) says when the Worker does not exist
 * yet: the one failure that means "no secret is set". Any other failure is an unknown state.
 */
export function workerNotFoundText(worker, envName) {
  return `Worker "${worker}" (env: ${envName}) not found`
}

/**
 * The secret names in `wrangler secret list` JSON output (an array of { name, type }), or null
 * when the output holds no such array: a caller must then put nothing.
 */
export function secretNamesFromList(output) {
  const start = output.search(/^\[/m)
  if (start < 0) return null
  try {
    const list = JSON.parse(output.slice(start))
    if (!Array.isArray(list)) return null
    return new Set(list.map((s) => s?.name).filter((n) => typeof n === 'string'))
  } catch {
    return null
  }
}

/**
 * Who needs each secret besides the Worker, derived from the configuration: the origin of the
 * route(s) naming it, the metrics scraper, scripts/create-user.mjs, or nobody.
 * Returns [{ name, holder }] in the order of `names`.
 */
export function secretHolders(config, names) {
  const origins = new Map()
  for (const route of config.routes) {
    const list = origins.get(route.originSecretName) ?? []
    origins.set(route.originSecretName, [...list, route.prefix])
  }
  return names.map((name) => {
    if (name === 'KEY_ENCRYPTION_SECRET') return { name, holder: 'nobody' }
    if (name === 'PASSWORD_PEPPER') return { name, holder: 'scripts/create-user.mjs' }
    const prefixes = origins.get(name)
    if (prefixes) return { name, holder: `the origin of ${prefixes.join(', ')}` }
    // parseConfig reads no other secret than these and metrics_scrape_secret.
    return { name, holder: 'your metrics scraper' }
  })
}

/**
 * The newest compatibility_date the installed workerd (the local runtime of `npm start` and the
 * tests) declares: its version is `1.YYYYMMDD.n`. Returns 'YYYY-MM-DD', or null when unknown.
 */
export async function workerdCompatibilityDate(root = ROOT) {
  try {
    const pkg = JSON.parse(await readFile(join(root, 'node_modules', 'workerd', 'package.json')))
    const m = /^\d+\.(\d{4})(\d{2})(\d{2})\./.exec(pkg.version)
    return m ? `${m[1]}-${m[2]}-${m[3]}` : null
  } catch {
    return null
  }
}

/** A problem when `date` (wrangler.toml's compatibility_date) is newer than `supported`. */
export function compatibilityDateProblem(date, supported) {
  if (typeof date !== 'string') return 'compatibility_date: is not set'
  if (date > supported) {
    return (
      `compatibility_date: ${date} is newer than the installed workerd supports (${supported}); ` +
      'the local runtime and the tests would not run what production runs'
    )
  }
  return null
}
