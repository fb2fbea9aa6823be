// npm run mutate — listed-mutation testing of the security checks. Each mutation in
// scripts/mutations.mjs (a plausible bug: a dropped condition, `<` for `<=`, a widened regex) is
// applied alone to a throwaway copy of the tree and the workerd suites run against it; a mutant
// counts as killed only when a test that passed on the unmutated copy fails. Prints a table per
// folder of src/, the survivors, a summary line, writes .wrangler/mutation-report.json, and exits
// 1 when a `security: true` mutation survives (2 when the list or the baseline cannot be used).
//
// Trade-offs: a curated list, not StrykerJS (which needs Node >= 22 from v10, and whose sandbox
// does not load this project under @cloudflare/vitest-pool-workers). Each mutant runs the suites
// listed for its folder (~10 s), not the whole suite (~60 s, ~100 s on a busy machine):
// `--escalate` re-runs each survivor against the whole suite, and a failure seen only there must
// reproduce with its test files alone, because the slow throttle suites flake under load. The
// copy gets a real node_modules copy, not a symlink: the pool resolves the argon2 wasm import to
// its real path, and outside the copy's root its module fallback cannot load it. Mutants run one
// after another (2-core machine).
//
//   npm run mutate                         every mutation, each against its folder's suites
//   npm run mutate -- --only verify        one folder of src/ or a mutation id (repeatable,
//                                          comma-separated)
//   npm run mutate -- --list               the list, each entry checked against the working tree
//   npm run mutate -- --ref HEAD           mutate a commit instead of the working tree
//   npm run mutate -- --escalate           survivors are re-run against the whole workerd suite
//   npm run mutate -- --full               the whole suite for every mutant (slow)

import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'
import { FOLDER_TESTS, MUTATIONS } from './mutations.mjs'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const REPORT_PATH = join(REPO, '.wrangler', 'mutation-report.json')
/** Top-level entries never copied: dependencies are copied apart, the rest is state or output. */
const SKIPPED_ENTRIES = new Set([
  'node_modules',
  '.git',
  '.wrangler',
  '.e2e-state',
  'coverage',
  'dist',
])
/** Caches inside node_modules that the copy need not carry (vite rebuilds them). */
const SKIPPED_MODULE_CACHES = new Set(['.cache', '.vite', '.vite-temp'])
/** A whole workerd run takes ~40 s here; past these something hangs. */
const QUICK_RUN_TIMEOUT_MS = 4 * 60_000
const FULL_RUN_TIMEOUT_MS = 8 * 60_000
const TAIL_CHARS = 2_000
/** How vitest reports a test or hook that ran out of time (a load flake as often as a kill). */
const TIMED_OUT = /timed out in \d+ ?ms/i

const EXIT_SURVIVOR = 1
const EXIT_UNUSABLE = 2

function parseArgs(argv) {
  const args = { only: [], list: false, full: false, escalate: false, ref: null }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--list') args.list = true
    else if (arg === '--full') args.full = true
    else if (arg === '--escalate') args.escalate = true
    else if (arg === '--only') args.only.push(...(argv[++i] ?? '').split(',').filter(Boolean))
    else if (arg === '--ref') args.ref = argv[++i] ?? null
    else
      fail(
        `unknown argument ${arg} (flags: --only <id|folder>, --list, --ref <git-ref>, --escalate, --full)`,
      )
  }
  return args
}

/** The list, the copy or the baseline cannot be used: exit 2 (after cleanup), never a score. */
class Unusable extends Error {}

function fail(message) {
  throw new Unusable(message)
}

/** src/<folder>/… → folder; the report groups by it. */
function folderOf(file) {
  const parts = file.split('/')
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : null
}

/** Shape problems of the list itself (ids, fields, paths), as messages. */
function checkListShape(mutations) {
  const problems = []
  const seen = new Set()
  for (const m of mutations) {
    const label = m.id ?? '(no id)'
    if (typeof m.id !== 'string' || !/^[a-z0-9-]+$/.test(m.id))
      problems.push(`${label}: id must be kebab-case`)
    if (seen.has(m.id)) problems.push(`${label}: duplicate id`)
    seen.add(m.id)
    for (const field of ['file', 'find', 'replace', 'description']) {
      if (typeof m[field] !== 'string') problems.push(`${label}: ${field} must be a string`)
    }
    if (typeof m.security !== 'boolean') problems.push(`${label}: security must be true or false`)
    if (m.find === '' || m.find === m.replace)
      problems.push(`${label}: find must be non-empty and differ from replace`)
    const folder = typeof m.file === 'string' ? folderOf(m.file) : null
    if (folder === null) problems.push(`${label}: file must be under src/<folder>/`)
    else if (m.tests === undefined && FOLDER_TESTS[folder] === undefined)
      problems.push(
        `${label}: no tests listed for folder ${folder} (FOLDER_TESTS) and none on the entry`,
      )
    if (m.tests !== undefined && (!Array.isArray(m.tests) || m.tests.length === 0))
      problems.push(`${label}: tests must be a non-empty list when given`)
  }
  return problems
}

function selectMutations(only) {
  if (only.length === 0) return MUTATIONS
  const unknown = only.filter((t) => !MUTATIONS.some((m) => m.id === t || folderOf(m.file) === t))
  if (unknown.length > 0) fail(`--only names no mutation id or folder: ${unknown.join(', ')}`)
  return MUTATIONS.filter((m) => only.includes(m.id) || only.includes(folderOf(m.file)))
}

function occurrences(text, find) {
  let count = 0
  for (let at = text.indexOf(find); at !== -1; at = text.indexOf(find, at + find.length)) count++
  return count
}

/** Why a mutation cannot be applied in `root` (find missing or ambiguous, no parse), or null. */
async function applicability(root, m) {
  const path = join(root, m.file)
  if (!existsSync(path)) return `${m.file} does not exist`
  const source = await readFile(path, 'utf8')
  const count = occurrences(source, m.find)
  if (count !== 1) return `find occurs ${count} times in ${m.file} (must be exactly once)`
  try {
    await transform(
      source.replace(m.find, () => m.replace),
      { loader: 'ts', sourcefile: m.file },
    )
  } catch (err) {
    return `the mutated ${m.file} does not parse: ${String(err.message).split('\n')[0]}`
  }
  for (const test of testsOf(m)) {
    if (!existsSync(join(root, test))) return `test path ${test} does not exist`
  }
  return null
}

function testsOf(m) {
  return m.tests ?? FOLDER_TESTS[folderOf(m.file)] ?? []
}

async function listCommand(mutations) {
  let broken = 0
  for (const m of mutations) {
    const problem = await applicability(REPO, m)
    if (problem !== null) broken++
    const flag = m.security ? 'security' : 'hardening'
    console.log(`${m.id.padEnd(46)} ${flag.padEnd(9)} ${m.file}`)
    console.log(`  ${m.description}${problem === null ? '' : `\n  BROKEN: ${problem}`}`)
  }
  const folders = [...new Set(mutations.map((m) => folderOf(m.file)))]
  console.log(
    `\n${mutations.length} mutations (${mutations.filter((m) => m.security).length} on security checks) in ${folders.join(', ')}` +
      (broken > 0 ? `; ${broken} cannot be applied to the working tree` : ''),
  )
  process.exit(broken > 0 ? EXIT_UNUSABLE : 0)
}

/** Copies the tree to mutate (working tree or a git ref) plus node_modules into a temp dir. */
async function snapshot(ref) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-mutate-'))
  if (ref !== null) {
    const archive = execFileSync('git', ['archive', '--format=tar', ref], {
      cwd: REPO,
      maxBuffer: 1 << 30,
    })
    execFileSync('tar', ['-x', '-C', dir], { input: archive })
  } else {
    await cp(REPO, dir, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => {
        const rel = relative(REPO, src)
        return rel === '' || !SKIPPED_ENTRIES.has(rel.split(sep)[0])
      },
    })
  }
  const modules = join(REPO, 'node_modules')
  await cp(modules, join(dir, 'node_modules'), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = relative(modules, src)
      return rel === '' || !SKIPPED_MODULE_CACHES.has(rel.split(sep)[0])
    },
  })
  return dir
}

let running = null

/** Runs vitest in `dir` on `filters` (all suites when empty); resolves to its JSON report or a failure. */
function runVitest(dir, filters, timeoutMs) {
  const out = join(dir, '.mutate-result.json')
  const args = [
    join(dir, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--reporter=json',
    `--outputFile=${out}`,
    ...filters,
  ]
  return new Promise((resolve) => {
    let output = ''
    const started = Date.now()
    const child = spawn(process.execPath, args, {
      cwd: dir,
      detached: true, // its own process group, so a timeout ends workerd too
      env: { ...process.env, CI: 'true', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    running = child
    const keep = (chunk) => {
      output = (output + chunk).slice(-TAIL_CHARS)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child)
    }, timeoutMs)
    child.on('close', async () => {
      clearTimeout(timer)
      running = null
      const seconds = (Date.now() - started) / 1000
      if (timedOut) return resolve({ kind: 'timeout', seconds, tail: output })
      try {
        const report = JSON.parse(await readFile(out, 'utf8'))
        await rm(out, { force: true })
        resolve({ kind: 'report', report, seconds })
      } catch {
        resolve({ kind: 'error', seconds, tail: output })
      }
    })
  })
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Test outcomes of a vitest JSON report: per test key, and the files that failed as a whole. */
function outcomes(report, dir) {
  const tests = new Map()
  const timedOut = new Set()
  const brokenFiles = new Map()
  for (const file of report.testResults ?? []) {
    const rel = relative(dir, file.name).split(sep).join('/')
    for (const a of file.assertionResults ?? []) {
      tests.set(`${rel} > ${a.fullName}`, a.status)
      if (TIMED_OUT.test(String(a.failureMessages ?? ''))) timedOut.add(`${rel} > ${a.fullName}`)
    }
    if (
      file.status === 'failed' &&
      (file.assertionResults ?? []).every((a) => a.status !== 'failed')
    ) {
      brokenFiles.set(
        rel,
        String(file.message ?? 'suite failed')
          .split('\n')[0]
          .slice(0, 160),
      )
    }
  }
  return { tests, timedOut, brokenFiles }
}

/** Tests that passed in the baseline and failed here (plus files that failed to run at all). */
function killers(baseline, run) {
  const found = []
  for (const [key, status] of run.tests) {
    if (status === 'failed' && baseline.tests.get(key) === 'passed') found.push(key)
  }
  for (const [file, message] of run.brokenFiles) {
    const hadPassing = [...baseline.tests].some(
      ([key, s]) => s === 'passed' && key.startsWith(`${file} > `),
    )
    if (hadPassing && !baseline.brokenFiles.has(file))
      found.push(`${file} (suite failed: ${message})`)
  }
  return found
}

/** The test files named in killer keys (`file > test` or `file (suite failed: …)`). */
function killerFiles(keys) {
  return [...new Set(keys.map((k) => k.split(/ > | \(suite failed/)[0]))]
}

/**
 * Applies one mutation, runs its folder's suites (and, with `escalate`, the whole suite if it
 * survived them), and restores the file. A failure seen only in the whole-suite run must reproduce when its test
 * files run alone (the mutant still applied): a whole run on a busy 2-core machine has timing
 * flakes, and a flake is not a kill.
 */
async function runMutation(dir, m, baseline, { full, escalate }) {
  const path = join(dir, m.file)
  const original = await readFile(path, 'utf8')
  await writeFile(
    path,
    original.replace(m.find, () => m.replace),
  )
  const stages = []
  const unconfirmed = []
  const run = async (stage, filters) => {
    const timeout = stage === 'full' ? FULL_RUN_TIMEOUT_MS : QUICK_RUN_TIMEOUT_MS
    const result = await runVitest(dir, filters, timeout)
    const entry = { stage, seconds: Math.round(result.seconds * 10) / 10 }
    stages.push(entry)
    if (result.kind !== 'report') return { failed: result }
    entry.tests = result.report.numTotalTests
    entry.failed = result.report.numFailedTests
    const seen = outcomes(result.report, dir)
    return { killedBy: killers(baseline, seen), timedOut: seen.timedOut }
  }
  try {
    const plan = full
      ? [['full', []]]
      : [['quick', testsOf(m)], ...(escalate ? [['full', []]] : [])]
    for (const [stage, filters] of plan) {
      const first = await run(stage, filters)
      if (first.failed)
        return { status: first.failed.kind, stages, killedBy: [], tail: first.failed.tail }
      if (first.killedBy.length === 0) continue
      // A kill by real assertions in the mutant's own suites stands; a kill that is nothing but
      // timeouts, or that only the whole suite saw, must happen again with its files alone.
      const onlyTimeouts = first.killedBy.every((k) => first.timedOut.has(k))
      if (stage === 'quick' && !onlyTimeouts) {
        return { status: 'killed', stages, killedBy: first.killedBy }
      }
      const again = await run('confirm', killerFiles(first.killedBy))
      const real = (again.killedBy ?? []).filter((k) => !again.timedOut.has(k))
      if (real.length > 0) return { status: 'killed', stages, killedBy: real }
      unconfirmed.push(...first.killedBy)
    }
    return { status: 'survived', stages, killedBy: [], unconfirmed }
  } finally {
    await writeFile(path, original)
  }
}

function score(list) {
  return `${list.filter((r) => r.status === 'killed').length}/${list.length}`
}

function printReport(results) {
  const folders = [...new Set(results.map((r) => r.folder))]
  console.log('\nfolder       mutations  killed  survived  score')
  for (const folder of folders) {
    const rows = results.filter((r) => r.folder === folder)
    const killed = rows.filter((r) => r.status === 'killed').length
    const pct = Math.round((100 * killed) / rows.length)
    console.log(
      `${folder.padEnd(12)} ${String(rows.length).padStart(9)}  ${String(killed).padStart(6)}  ${String(rows.length - killed).padStart(8)}  ${String(pct).padStart(4)} %`,
    )
  }
  const survivors = results.filter((r) => r.status !== 'killed')
  if (survivors.length > 0) {
    console.log('\nnot killed:')
    for (const r of survivors) {
      const what = r.status === 'survived' ? '' : ` [${r.status}]`
      console.log(
        `  ${r.security ? 'SECURITY ' : 'hardening'} ${r.id}${what} (${r.file}): ${r.description}`,
      )
      const flakes = killerFiles(r.unconfirmed ?? [])
      if (flakes.length > 0)
        console.log(`      (a whole-suite failure in ${flakes.join(', ')} did not reproduce alone)`)
    }
  }
  const perFolder = folders.map((f) => `${f} ${score(results.filter((r) => r.folder === f))}`)
  const security = results.filter((r) => r.security)
  console.log(
    `\nmutation score: ${perFolder.join(', ')}, total ${score(results)} (security checks ${score(security)})`,
  )
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const problems = checkListShape(MUTATIONS)
  if (problems.length > 0) fail(`scripts/mutations.mjs is malformed:\n  ${problems.join('\n  ')}`)
  const selected = selectMutations(args.only)
  if (args.list) return listCommand(selected)

  const started = Date.now()
  console.log(
    `mutate: copying ${args.ref === null ? 'the working tree' : args.ref} and node_modules…`,
  )
  const dir = await snapshot(args.ref)
  const commit = execFileSync('git', ['rev-parse', '--short', args.ref ?? 'HEAD'], { cwd: REPO })
    .toString()
    .trim()
  const source = args.ref === null ? `working tree (on ${commit})` : `${args.ref} (${commit})`
  const cleanup = async () => {
    const child = running
    if (child !== null) {
      // workerd writes into the copy until it is gone: wait for the group to die, then delete.
      const closed = once(child, 'close')
      killGroup(child)
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))])
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      void cleanup().finally(() => process.exit(130))
    })
  }
  try {
    const broken = []
    for (const m of selected) {
      const problem = await applicability(dir, m)
      if (problem !== null) broken.push(`${m.id}: ${problem}`)
    }
    if (broken.length > 0) {
      fail(
        `${broken.length} mutation(s) cannot be applied; fix scripts/mutations.mjs:\n  ${broken.join('\n  ')}`,
      )
    }

    console.log('mutate: baseline run of the unmutated copy…')
    const base = await runVitest(dir, [], FULL_RUN_TIMEOUT_MS)
    if (base.kind !== 'report')
      fail(`the baseline run did not finish (${base.kind}):\n${base.tail}`)
    const baseline = outcomes(base.report, dir)
    const baselineFailing = [...baseline.tests].filter(([, s]) => s === 'failed').map(([k]) => k)
    const passing = [...baseline.tests.values()].filter((s) => s === 'passed').length
    if (passing === 0) fail('the baseline run passed no test')
    console.log(`mutate: baseline ${passing} passing tests in ${Math.round(base.seconds)} s`)
    if (baselineFailing.length > 0 || baseline.brokenFiles.size > 0) {
      console.log(
        `mutate: WARNING: ${baselineFailing.length} tests (and ${baseline.brokenFiles.size} files) fail before any mutation; ` +
          'they cannot kill a mutant, so the scores below are lower bounds. First ones:',
      )
      for (const key of baselineFailing.slice(0, 10)) console.log(`    ${key}`)
    }

    const results = []
    for (const [i, m] of selected.entries()) {
      const outcome = await runMutation(dir, m, baseline, args)
      const result = {
        id: m.id,
        folder: folderOf(m.file),
        file: m.file,
        description: m.description,
        security: m.security,
        ...outcome,
      }
      results.push(result)
      const took = outcome.stages.map((s) => `${s.stage} ${s.seconds} s`).join(', ')
      const by = outcome.killedBy.length > 0 ? ` by ${outcome.killedBy[0]}` : ''
      console.log(`[${i + 1}/${selected.length}] ${m.id}: ${outcome.status} (${took})${by}`)
      if (outcome.status === 'error' || outcome.status === 'timeout') console.log(outcome.tail)
    }

    printReport(results)
    const minutes = Math.round((Date.now() - started) / 6000) / 10
    await mkdir(dirname(REPORT_PATH), { recursive: true })
    await writeFile(
      REPORT_PATH,
      JSON.stringify(
        {
          finishedAt: new Date().toISOString(),
          source,
          minutes,
          baseline: {
            passing,
            failing: baselineFailing,
            brokenFiles: [...baseline.brokenFiles.keys()],
          },
          results: results.map(({ tail: _tail, ...r }) => ({
            ...r,
            killedBy: r.killedBy.slice(0, 5),
            unconfirmed: (r.unconfirmed ?? []).slice(0, 5),
          })),
        },
        null,
        2,
      ) + '\n',
    )
    console.log(
      `mutate: ${source}, ${minutes} min; report in ${relative(process.cwd(), REPORT_PATH)}`,
    )
    const unkilledSecurity = results.filter((r) => r.security && r.status !== 'killed')
    process.exitCode = unkilledSecurity.length > 0 ? EXIT_SURVIVOR : 0
  } finally {
    await cleanup()
  }
}

try {
  await main()
} catch (err) {
  if (!(err instanceof Unusable)) throw err
  console.error(`mutate: ${err.message}`)
  process.exitCode = EXIT_UNUSABLE
}
