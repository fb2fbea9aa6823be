// Steps 3 and 5 of adding a session shard (docs/RUNBOOK.md § Adding a session shard): copies the
// users, sessions, refresh tokens, second factors and recovery codes of frozen buckets from one
// shard to another, and — after
// the cut-over is deployed — deletes them from the first. Refuses unless the environment's
// configuration is at that step (scripts/lib/bucket-move-layout.mjs), and prints the edit that
// gets it there. Without --run it prints the plan. Login counters are not moved (the runbook
// says why). Rows are read page by page with `wrangler d1 execute --json`; the copy is one SQL
// file (a transaction) in a private temporary directory, removed afterwards.
//
//   npm run shards:move -- --buckets 512-767 --from SESSIONS_0 --to SESSIONS_2 --env production
//   npm run shards:move -- --buckets 512-767 --from SESSIONS_0 --to SESSIONS_2 --run
//   npm run shards:move -- --buckets 512-767 --from SESSIONS_0 --to SESSIONS_2 --cleanup --run
//   … --local [--persist-to DIR] [--config rehearsal.toml]    # local D1 (wrangler's persistence)

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  configSource,
  readWranglerEnv,
  storageBindingProblems,
  validateGatehouse,
} from './lib/deploy-config.mjs'
import {
  MOVED_TABLES,
  compareSelections,
  copyStatements,
  deleteStatements,
  isSame,
  keysOf,
  notOnTarget,
  rangesText,
  selectRows,
  summarizeProblems,
} from './lib/bucket-move.mjs'
import {
  cutOverLayout,
  stepRefusal,
  storageEditLines,
  storageTable,
} from './lib/bucket-move-layout.mjs'
import { PAGE_ROWS, d1Shards } from './lib/bucket-move-d1.mjs'
import { parseBuckets } from './lib/placement.mjs'

/** One --command of DELETEs stays under Linux's 128 KiB limit on one argument. */
const COMMAND_MAX_BYTES = 90_000
const TABLE_LABEL = {
  users: 'users',
  sessions: 'sessions',
  refresh_tokens: 'refresh tokens',
  factors: 'factors',
  recovery_codes: 'recovery codes',
}

const { values: args } = parseArgs({
  options: {
    buckets: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    env: { type: 'string' },
    local: { type: 'boolean', default: false },
    'persist-to': { type: 'string' },
    config: { type: 'string' },
    run: { type: 'boolean', default: false },
    cleanup: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

function usage(message) {
  if (message) console.error(`move-buckets: ${message}`)
  console.error(
    'usage: npm run shards:move -- --buckets 512-767 --from SESSIONS_0 --to SESSIONS_2 ' +
      '[--env production | --local [--persist-to DIR]] [--config wrangler.toml] [--cleanup] [--run]',
  )
  process.exit(message ? 2 : 0)
}

function fail(message, lines = []) {
  console.error(`move-buckets: ${message}`)
  for (const line of lines) console.error(`  ${line}`)
  process.exit(1)
}

if (args.help) usage()
if (args.local && args.env) usage('--local uses the top-level (demo) environment; drop --env')
if (args['persist-to'] && !args.local) usage('--persist-to goes with --local')
for (const name of ['buckets', 'from', 'to']) if (!args[name]) usage(`--${name} is required`)
let buckets
try {
  buckets = parseBuckets(args.buckets)
} catch (err) {
  usage(`--buckets: ${err.message}`)
}
const move = { buckets, from: args.from, to: args.to }
const step = args.cleanup ? 'cleanup' : 'copy'
const envName = args.local ? undefined : (args.env ?? 'production')
const label = envName === undefined ? '' : `[env.${envName}] `
const where = args.local ? 'local D1' : `remote D1 [env.${envName}]`
const range = rangesText(buckets)

// ── The configuration must be at this step ───────────────────────────────────────────────────
const wranglerEnv = await readWranglerEnv(envName, args.config)
const checked = await validateGatehouse(wranglerEnv.vars, label)
if (checked.problem) fail(`${checked.problem} (run: node scripts/check-config.mjs)`)
const bindingProblem = storageBindingProblems(wranglerEnv, checked.config, label)[0]
if (bindingProblem) fail(`${bindingProblem} (run: node scripts/check-config.mjs)`)
const layout = checked.config.storage
const source = configSource(wranglerEnv.vars)

const refusal = stepRefusal(layout, move, step)
if (refusal !== null) {
  fail(
    `${step} of buckets ${range} from ${move.from} to ${move.to} refused: ${refusal.problem}`,
    refusal.edit === null ? [] : [`edit ${source}:`, ...storageEditLines(refusal.edit, '  ')],
  )
}

// ── wrangler d1 execute ──────────────────────────────────────────────────────────────────────
const target = [
  ...(args.local
    ? ['--local', ...(args['persist-to'] ? ['--persist-to', args['persist-to']] : [])]
    : ['--remote', '--env', envName]),
  ...(args.config ? ['--config', args.config] : []),
]

const shards = d1Shards(target, buckets)

async function execute(binding, d1Args) {
  try {
    return await shards.execute(binding, d1Args)
  } catch (err) {
    fail(`${err.message}\n(${where})`)
  }
}

async function selected(binding) {
  try {
    return await selectRows(await shards.readCandidates(binding), buckets)
  } catch (err) {
    fail(`reading ${binding} (${where}): ${err.message}`)
  }
}

const counts = (keys) => MOVED_TABLES.map((t) => `${keys[t].length} ${TABLE_LABEL[t]}`).join(', ')
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`
const nextCommand = (extra) =>
  [
    'npm run shards:move --',
    `--buckets ${range} --from ${move.from} --to ${move.to}`,
    args.local
      ? `--local${args['persist-to'] ? ` --persist-to ${args['persist-to']}` : ''}`
      : `--env ${envName}`,
    ...(args.config ? [`--config ${args.config}`] : []),
    extra,
  ].join(' ')

/** A compareSelections result as lines: per table, how many rows are missing, extra, changed. */
function differences(comparison) {
  return MOVED_TABLES.map(
    (t) =>
      `${TABLE_LABEL[t]}: ${Object.entries(comparison[t])
        .map(([kind, keys]) => `${keys.length} ${kind}`)
        .join(', ')}`,
  )
}

function refuseSplitRows(selection, binding) {
  if (selection.problems.length === 0) return
  fail(
    `${binding} holds rows the buckets would split from their parents; nothing was changed:`,
    summarizeProblems(selection.problems),
  )
}

// ── The plan ─────────────────────────────────────────────────────────────────────────────────
console.log(
  `move-buckets: ${step} of buckets ${range} (${buckets.length}) from ${move.from} to ${move.to}, ${where}`,
)
console.log(
  `  checked against ${source} in this checkout: ${step === 'copy' ? 'the freeze' : 'the cut-over'} ` +
    'must be deployed, and every isolate on it, before --run',
)
if (!args.run) {
  const lines =
    step === 'copy'
      ? [
          `1. read the rows that may be in the buckets from ${move.from}, ${PAGE_ROWS} per table and page (next pages: AND <key> > <last key>), and select them exactly:`,
          ...shards.firstPages(move.from).map((command) => `    ${command}`),
          `2. read the same from ${move.to}: rows there in the buckets that ${move.from} does not hold (an abandoned attempt) are deleted`,
          `3. write the deletes and INSERT OR REPLACE of users, sessions, refresh tokens, factors, recovery codes to a private temporary file and run it:`,
          `    ${shards.commandLine(move.to, ['--file', '<tmp>/copy.sql', '--yes'])}`,
          ...(args.local
            ? []
            : [
                `   (D1 imports the file in one transaction; ${move.to} answers no query meanwhile)`,
              ]),
          `4. verify: ${move.to}'s rows in the buckets equal what was read from ${move.from}, and ${move.from} did not change meanwhile`,
          `then step 4: give the buckets to ${move.to} and unfreeze them in one change, deploy, and run --cleanup`,
        ]
      : [
          `1. read the rows in the buckets from ${move.from} and ${move.to}; refuse if ${move.from} holds a live row ${move.to} does not`,
          `2. delete them from ${move.from}: recovery codes, factors, refresh tokens, sessions, users, ${COMMAND_MAX_BYTES / 1000} KB of DELETEs per call:`,
          `    ${shards.commandLine(move.from, ['--command', 'DELETE FROM recovery_codes WHERE code_hash IN (…); …'])}`,
          `3. verify: ${move.from} holds no row in the buckets`,
        ]
  console.log('plan (--run does this):')
  for (const line of lines) console.log(`  ${line}`)
  process.exit(0)
}

// ── --run ────────────────────────────────────────────────────────────────────────────────────
const started = Date.now()
if (step === 'copy') {
  const rows = await selected(move.from)
  refuseSplitRows(rows, move.from)
  const onTarget = await selected(move.to)
  const read = seconds(started)
  const { statements, stale } = copyStatements(rows, onTarget)
  const writing = Date.now()
  if (statements.length > 0) {
    // The rows hold hashes and sealed secrets only (successors, TOTP secrets, bound to their
    // rows); still, the file stays private.
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-move-'))
    try {
      const file = join(dir, 'copy.sql')
      writeFileSync(file, statements.join('\n') + '\n', { mode: 0o600 })
      await execute(move.to, ['--file', file, '--yes'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const wrote = seconds(writing)
  const verifying = Date.now()
  const copied = compareSelections(rows, await selected(move.to))
  if (!isSame(copied)) {
    fail(
      `${move.to} does not hold exactly the rows read from ${move.from}; run the copy again`,
      differences(copied),
    )
  }
  const drift = compareSelections(rows, await selected(move.from))
  if (!isSame(drift)) {
    fail(
      `${move.from} changed during the copy: is the freeze deployed everywhere? The copy is ` +
        `idempotent: run it again (${nextCommand('--run')})`,
      differences(drift),
    )
  }
  console.log(
    `copied ${counts(keysOf(rows))} in ${seconds(started)} (read ${read}, write ${wrote}, verify ${seconds(verifying)})`,
  )
  if (MOVED_TABLES.some((t) => stale[t].length > 0)) {
    console.log(
      `  deleted first from ${move.to}, left there by an earlier attempt: ${counts(stale)}`,
    )
  }
  console.log(
    `  ${move.to} holds exactly these rows in the buckets; ${move.from} did not change meanwhile`,
  )
  console.log(`next (step 4): in one change, edit ${source}:`)
  for (const line of storageEditLines(storageTable(cutOverLayout(layout, move)), '    '))
    console.log(line)
  console.log(`  deploy, then (step 5): ${nextCommand('--cleanup --run')}`)
} else {
  const rows = await selected(move.from)
  const onTarget = await selected(move.to)
  const absent = notOnTarget(rows, onTarget, Math.floor(Date.now() / 1000))
  if (MOVED_TABLES.some((t) => absent[t].length > 0)) {
    // Recovery codes are named by their user: a hash identifies nothing to a person.
    const missingCodes = new Set(absent.recovery_codes)
    const codeOwners = new Set(
      rows.recovery_codes.filter((c) => missingCodes.has(c.code_hash)).map((c) => c.user_id),
    )
    fail(
      `${move.from} holds live rows in the buckets that ${move.to} does not (${counts(absent)}): ` +
        'written there after the copy. Nothing was deleted (docs/RUNBOOK.md § Adding a session ' +
        'shard, step 5). A factor or recovery code can also be one the user removed or replaced ' +
        `on ${move.to} since the cut-over: never copy such a row back.`,
      summarizeProblems([
        ...absent.users.map((id) => `user ${id}`),
        ...absent.sessions.map((sid) => `session ${sid}`),
        ...absent.factors.map((id) => `factor ${id}`),
        ...[...codeOwners].map((id) => `recovery codes of user ${id}`),
      ]),
    )
  }
  const statements = deleteStatements(keysOf(rows))
  let command = ''
  for (const statement of [...statements, null]) {
    if (
      command !== '' &&
      (statement === null || command.length + statement.length > COMMAND_MAX_BYTES)
    ) {
      await execute(move.from, ['--command', command])
      command = ''
    }
    if (statement !== null) command += `${statement}\n`
  }
  const left = keysOf(await selected(move.from))
  if (MOVED_TABLES.some((t) => left[t].length > 0)) fail(`${move.from} still holds ${counts(left)}`)
  console.log(`deleted ${counts(keysOf(rows))} from ${move.from} in ${seconds(started)}`)
}
