// npm run bench — the Gatehouse benchmark harness (issues 6 and 16). Builds the Workers, serves
// them with Miniflare directly, runs every section in a fixed order, prints a table and every
// target as PASS/FAIL with its median and min–max over rounds, writes bench/results.json (this
// run in full, plus the figures of the last runs), draws bench/stages.svg from the profile, and
// ends with one summary line listing every target. `npm run bench -- micro e2e` runs only the
// named sections (for iterating on one of them).

import { execSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { ROOT, buildAll } from './lib/build.mjs'
import { startOrigin } from './lib/origin.mjs'
import { evaluateTargets, renderTable, summaryLine, tableRows } from './lib/report.mjs'
import { stagesSvg } from './lib/stages-svg.mjs'
import { ensureWrk } from './lib/wrk.mjs'
import { benchSecrets, readWranglerConfig } from './lib/workers.mjs'
import { runAssertion } from './sections/assertion.mjs'
import { runApiEdge } from './sections/api-edge.mjs'
import { runAuthServer } from './sections/auth-server.mjs'
import { runDpop } from './sections/dpop.mjs'
import { runEndToEnd } from './sections/e2e.mjs'
import { runKidFlood } from './sections/kid-flood.mjs'
import { runMicro } from './sections/micro.mjs'
import { runProfile } from './sections/profile.mjs'
import { runRevocationGrowth } from './sections/revocation-growth.mjs'
import { runSessionShards } from './sections/session-shards.mjs'

const SECTIONS = [
  'micro',
  'profile',
  'dpop',
  'assertion',
  'e2e',
  'revocationGrowth',
  'auth',
  'shards',
  'kidFlood',
  'apiEdge',
]
const RESULTS_FILE = join(ROOT, 'bench', 'results.json')
const STAGES_FILE = join(ROOT, 'bench', 'stages.svg')
/** Runs kept in results.json's history (their targets' figures, not every table row). */
const HISTORY_RUNS = 20
/** Above this 1-minute load average something else competes for the 2 cores. */
const BUSY_LOAD_AVERAGE = 1.5
const startedAt = performance.now()
const loadAtStart = loadavg()[0]

function log(message) {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)
  console.log(`bench ${seconds}s  ${message}`)
}

function gitDescribe() {
  try {
    const commit = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim()
    const dirty = execSync('git status --porcelain', { cwd: ROOT }).toString().trim() !== ''
    return dirty ? `${commit}+dirty` : commit
  } catch {
    return 'unknown'
  }
}

/** Runs one section; a failure is recorded (with the Worker's log tail) and the run goes on. */
async function section(results, name, fn) {
  if (!selected.includes(name)) return
  log(`${name}…`)
  try {
    results.sections[name] = await fn()
  } catch (err) {
    results.errors[name] = err instanceof Error ? err.message : String(err)
    log(`${name} FAILED: ${results.errors[name]}`)
  }
}

const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : SECTIONS
ensureWrk()
const wrangler = readWranglerConfig()
const compatibilityDate = wrangler.workerOptions.compatibilityDate
log('building Workers (wrangler deploy --dry-run)…')
const builds = await buildAll({ compatibilityDate, mainEntry: wrangler.main })
if (builds.gatehouse.error) throw builds.gatehouse.error
const secrets = benchSecrets(wrangler.gatehouse)
const origin = await startOrigin()
const results = {
  meta: {
    date: new Date().toISOString(),
    commit: gitDescribe(),
    node: process.version,
    cpus: cpus().length,
    loadAverageAtStart: loadAtStart,
    sections: selected,
  },
  sections: {},
  errors: Object.fromEntries(
    Object.values(builds)
      .filter((b) => b.error)
      .map((b) => [`build:${b.name}`, b.error.message]),
  ),
}
const ctx = { wrangler, builds, secrets, origin, compatibilityDate }

try {
  await section(results, 'micro', () => runMicro(ctx))
  await section(results, 'profile', () => runProfile(ctx))
  await section(results, 'dpop', () => runDpop(ctx))
  await section(results, 'assertion', () => runAssertion(ctx))
  await section(results, 'e2e', () => runEndToEnd(ctx))
  await section(results, 'revocationGrowth', () => runRevocationGrowth(ctx))
  await section(results, 'auth', () => runAuthServer(ctx))
  await section(results, 'shards', () => runSessionShards(ctx))
  await section(results, 'kidFlood', () => runKidFlood(ctx))
  await section(results, 'apiEdge', () => runApiEdge(ctx))
} finally {
  origin.close()
}

/** The history of earlier runs from results.json (a file of the old, single-run shape counts as one). */
function previousHistory() {
  if (!existsSync(RESULTS_FILE)) return []
  try {
    const old = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'))
    if (Array.isArray(old.history)) return old.history
    return old.meta ? [historyEntry(old)] : []
  } catch {
    return []
  }
}

/** One run as history keeps it: when, which commit, and every target's figure and verdict. */
function historyEntry(run) {
  return {
    commit: run.meta.commit,
    date: run.meta.date,
    durationSeconds: run.meta.durationSeconds,
    loadAverageAtStart: run.meta.loadAverageAtStart,
    sections: run.meta.sections,
    targets: (run.targets ?? []).map((t) => ({
      name: t.name,
      pass: t.pass,
      ...(t.figure ?? { measured: t.measured ?? null }),
    })),
  }
}

const targets = evaluateTargets(results.sections)
results.targets = targets
results.meta.durationSeconds = Math.round((performance.now() - startedAt) / 1000)
results.meta.loadAverageAtEnd = loadavg()[0]
results.summary = summaryLine(results.meta, targets)
mkdirSync(join(ROOT, 'bench'), { recursive: true })
const history = [historyEntry(results), ...previousHistory()].slice(0, HISTORY_RUNS)
writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...results, history }, null, 2)}\n`)
if (results.sections.profile?.stages) {
  writeFileSync(STAGES_FILE, stagesSvg(results.sections.profile.stages, results.meta))
}

console.log(
  `\nGatehouse benchmark — ${results.meta.commit}, Node ${process.version}, ${results.meta.cpus} cores, ${results.meta.durationSeconds} s\n`,
)
console.log(
  renderTable([
    ['what', 'measured (median of rounds)', 'relation'],
    ...tableRows(results.sections),
  ]),
)
console.log('\nTargets (issue 16, then issues 6 and 12–15; median of rounds, min–max):')
for (const t of targets) console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.shown}`)
if (results.meta.loadAverageAtStart > BUSY_LOAD_AVERAGE) {
  console.log(
    `  NOTE  load average was ${results.meta.loadAverageAtStart.toFixed(1)} at start: other work shared these cores, req/s figures are noisy (see the CPU-bound ratios)`,
  )
}
for (const [name, message] of Object.entries(results.errors))
  console.log(`  ERROR in ${name}: ${message.split('\n')[0]}`)
console.log(`\nwrote ${RESULTS_FILE} (history of ${history.length} run(s))`)
if (results.sections.profile?.stages) console.log(`wrote ${STAGES_FILE}`)
console.log(results.summary)
