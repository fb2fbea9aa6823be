// Serves the built Workers with Miniflare directly (never through `wrangler dev`, whose proxy
// costs ~3 ms per request). Gatehouse gets the bindings wrangler.toml declares, read by
// wrangler's own reader, plus any D1 database its storage table names that wrangler.toml does
// not (bench-only shards), with fresh random secrets; every session shard is migrated from
// migrations/sessions and the audit database from migrations/audit. Bench Workers get only what
// they need. Storage is in memory and dies with the instance; each instance reports the pid of
// its workerd, so CPU can be read per instance.

import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler'
import { auditBinding, shardBindings, shardFor } from '../../lib/placement.mjs'
import { ROOT } from './build.mjs'
import { workerdPids } from './cpu.mjs'

const LOG_TAIL_LINES = 40
const SECRET_BYTES = 32 // 43 base64url characters: above every ≥ 32-character check

/**
 * wrangler.toml as Miniflare options: { workerOptions, main, gatehouse }, where gatehouse is the
 * configuration document of the profile GATEHOUSE_PROFILE names (config/<profile>.json), with
 * production's log_sample_rate.
 */
export function readWranglerConfig() {
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(join(ROOT, 'wrangler.toml'))
  const profile = workerOptions.bindings?.GATEHOUSE_PROFILE ?? 'demo'
  const gatehouse = JSON.parse(readFileSync(join(ROOT, 'config', `${profile}.json`), 'utf8'))
  // The hot path as production runs it: successful requests get a log line at production's
  // sampled rate (config/production.json). Every rejection and error is logged whatever the
  // rate; the profile section prints what one line costs here (a write to workerd's stdout pipe).
  const production = JSON.parse(readFileSync(join(ROOT, 'config', 'production.json'), 'utf8'))
  gatehouse.log_sample_rate = production.log_sample_rate ?? 1
  return { workerOptions, main, gatehouse }
}

/** Fresh random values for every secret the local profile uses and the routes name. */
export function benchSecrets(gatehouse) {
  const names = new Set([
    'ORIGIN_SECRET_DEMO',
    'KEY_ENCRYPTION_SECRET',
    'PASSWORD_PEPPER',
    'METRICS_SCRAPE_SECRET',
  ])
  for (const route of gatehouse.routes ?? [])
    if (route.origin_secret) names.add(route.origin_secret)
  return Object.fromEntries(
    [...names].map((n) => [n, randomBytes(SECRET_BYTES).toString('base64url')]),
  )
}

/** Keeps the last lines of workerd's stdout/stderr (drained, so the pipe never blocks it). */
function logTail() {
  const lines = []
  const keep = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line !== '') lines.push(line)
    if (lines.length > LOG_TAIL_LINES * 2) lines.splice(0, lines.length - LOG_TAIL_LINES)
  }
  return {
    attach: (stdout, stderr) => {
      stdout.on('data', keep)
      stderr.on('data', keep)
    },
    tail: () => lines.slice(-LOG_TAIL_LINES).join('\n'),
  }
}

/** Starts Miniflare; resolves to { mf, url, pid } (pid: the workerd process it spawned). */
async function serve(options) {
  const before = new Set(workerdPids())
  const mf = new Miniflare(options)
  const url = (await mf.ready).href.replace(/\/$/, '')
  const pid = workerdPids().find((p) => !before.has(p)) ?? null
  return { mf, url, pid }
}

/** Applies every migrations/<kind>/*.sql to `db`, in file-name order. */
async function migrate(db, kind) {
  const dir = join(ROOT, 'migrations', kind)
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
  for (const file of files) {
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'))
    await db.batch(statements.map((s) => db.prepare(s)))
  }
}

/** wrangler.toml's D1 databases plus every one `gatehouse`'s storage table names and it lacks. */
function d1Databases(declared, gatehouse) {
  const all = { ...declared }
  for (const binding of [...shardBindings(gatehouse), auditBinding(gatehouse)]) {
    all[binding] ??= { id: `bench-${binding.toLowerCase()}` }
  }
  return all
}

/**
 * Starts Gatehouse from `build` with wrangler.toml's bindings. Every route forwards to
 * `originUrl`; `extraIssuers` are appended to the issuer list (and to every route's own issuer
 * list, where a route has one); `durableObjects` overrides
 * bindings by name (e.g. a bench subclass); `storage` replaces the profile's storage table
 * (session shards and audit database). Resolves to { mf, url, pid, shards, shardFor, secrets,
 * logs, close }: `shards` maps each session shard's binding to its D1 database (all
 * migrated), `shardFor(bucket)` names the binding owning a bucket under this configuration.
 */
export async function startGateway({
  wrangler,
  build,
  secrets,
  originUrl,
  extraIssuers = [],
  durableObjects = {},
  storage,
}) {
  const gatehouse = structuredClone(wrangler.gatehouse)
  gatehouse.issuers.push(...extraIssuers)
  for (const route of gatehouse.routes) {
    route.origin = originUrl
    // A route that names the issuers it takes takes the bench's extra issuers too.
    if (Array.isArray(route.issuers)) route.issuers.push(...extraIssuers.map((i) => i.issuer))
  }
  if (storage !== undefined) gatehouse.storage = storage
  const { workerOptions } = wrangler
  const logs = logTail()
  const { mf, url, pid } = await serve({
    ...workerOptions,
    name: 'gatehouse',
    modules: true,
    scriptPath: build.script,
    modulesRoot: build.dir,
    bindings: { ...workerOptions.bindings, ...secrets, GATEHOUSE: gatehouse },
    durableObjects: { ...workerOptions.durableObjects, ...durableObjects },
    d1Databases: d1Databases(workerOptions.d1Databases, gatehouse),
    handleRuntimeStdio: logs.attach,
  })
  const shards = {}
  for (const binding of shardBindings(gatehouse)) {
    shards[binding] = await mf.getD1Database(binding)
    await migrate(shards[binding], 'sessions')
  }
  await migrate(await mf.getD1Database(auditBinding(gatehouse)), 'audit')
  return {
    mf,
    url,
    pid,
    shards,
    shardFor: (bucket) => shardFor(bucket, gatehouse),
    secrets,
    logs,
    close: () => mf.dispose(),
  }
}

/** Starts a bench Worker from `build` with the given Miniflare worker options. */
export async function startBenchWorker({ build, compatibilityDate, ...options }) {
  const logs = logTail()
  const { mf, url, pid } = await serve({
    name: build.name,
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    scriptPath: build.script,
    modulesRoot: build.dir,
    compatibilityDate,
    handleRuntimeStdio: logs.attach,
    ...options,
  })
  return { mf, url, pid, logs, close: () => mf.dispose() }
}
