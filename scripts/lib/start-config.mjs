// What npm start checks before the gateway starts, and again when a watched file changes: the
// configuration file it serves, validated by the Worker's own parseConfig (bundled into Node by
// scripts/lib/deploy-config.mjs) with the secrets of .dev.vars, exactly as wrangler dev hands them
// to the Worker; and wrangler.toml's D1 databases against the configuration's storage table (the
// rule `check-config` applies). Every problem is collected; none is thrown.

import { readFileSync } from 'node:fs'
import { readDevVars } from './dev-vars.mjs'
import {
  configSource,
  loadConfigModule,
  readWranglerEnv,
  storageBindingProblems,
} from './deploy-config.mjs'

/** The demo profile's ports; npm start rewrites each to the port the environment names. */
const DEMO_PORTS = [8787, 8788, 8789, 8790, 5173]
const DEMO_PORT_PATTERN = /:(878[7-9]|8790|5173)(?!\d)/g

/**
 * The document in `path` with every demo port rewritten to `ports[port]` in one pass (so a new
 * port never matches an old one). Returns { doc } or { problems } (unreadable file, not JSON).
 */
export function readServedDocument(path, label, ports) {
  let text
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    return { problems: [`${label}: cannot be read (${err.code ?? err.message})`] }
  }
  const rewritten = text.replace(DEMO_PORT_PATTERN, (_, from) => `:${ports[from]}`)
  try {
    return { doc: JSON.parse(rewritten) }
  } catch (err) {
    return { problems: [`${label}: is not valid JSON (${err.message})`] }
  }
}

/** True when every demo port is served on itself (nothing rewritten). */
export function portsAreDefault(ports) {
  return DEMO_PORTS.every((port) => ports[port] === port)
}

/**
 * Validates what npm start is about to serve (or serves). Resolves to { problems, doc, facts }:
 * `problems` lists every error as `<file>: <field>: <problem>` (empty when valid); `doc` is the
 * document with its ports rewritten; `facts` (a string) is what npm start acted on once, at start,
 * and a running gateway cannot pick up (the D1 databases it migrated and seeded), for comparing
 * after an edit.
 */
export async function validateStart({ wranglerToml, configPath, configLabel, devVarsPath, ports }) {
  const problems = []
  let top
  try {
    top = await readWranglerEnv(undefined, wranglerToml)
  } catch (err) {
    problems.push(`wrangler.toml: wrangler cannot read it: ${err.message ?? err}`)
  }
  const read = readServedDocument(configPath, configLabel, ports)
  if (read.problems) return { problems: [...problems, ...read.problems], facts: null }

  const { parseConfig, ConfigError } = await loadConfigModule()
  const secrets = readDevVars(devVarsPath)
  let config
  try {
    // The bindings wrangler dev gives the Worker: .dev.vars secrets, the document as GATEHOUSE.
    config = parseConfig({ ...secrets, GATEHOUSE: read.doc })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const issue of err.issues)
      problems.push(`${configLabel}: ${issue.field}: ${issue.problem}`)
    if (err.issues.some((issue) => /\bsecret\b/.test(issue.problem))) {
      problems.push(
        `.dev.vars: add each missing secret there, NAME="value" on a line of its own (at least 32 characters); wrangler dev reads it`,
      )
    }
  }
  if (top !== undefined && config !== undefined) {
    // The rule names the file wrangler.toml's vars select; npm start serves configLabel instead.
    const selected = configSource(top.vars)
    for (const p of storageBindingProblems(top, config, '')) {
      problems.push(`wrangler.toml: ${String(p).replaceAll(selected, configLabel)}`)
    }
  }
  const facts = top === undefined ? null : startFacts(top, read.doc)
  return { problems, doc: read.doc, facts }
}

/** What npm start acted on once, at start: the D1 databases and the storage table naming them. */
function startFacts(top, doc) {
  const d1 = (top.d1_databases ?? [])
    .map((db) => `${db.binding}=${db.database_name}:${db.migrations_dir ?? ''}`)
    .sort()
  return JSON.stringify({
    d1,
    storage: doc?.storage ?? null,
  })
}
