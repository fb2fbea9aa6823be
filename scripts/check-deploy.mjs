// npm run check:deploy — is this tree deployable? Offline, no Cloudflare account needed:
//   1. scripts/check-config.mjs for the top level (local demo profile) and [env.production]:
//      the gateway's own validation plus the deploy rules (bindings, https, no demo page); and
//      compatibility_date no newer than the installed workerd supports (else the local runtime
//      and the tests run something other than production);
//   2. `wrangler deploy --dry-run --env production --outdir <tmp>`: wrangler's real bundling;
//   3. the bundle (every uploaded module: the .js and the argon2 .wasm) against a size budget;
//   4. the deploy tests (node --test test/deploy/*.test.mjs): docs/DEPLOY.md shows exactly what
//      `npm run deploy:setup` prints, its secret loop never replaces a set secret,
//      `deploy-setup --run` refuses without the account or the custom-domain check, and the D1
//      databases follow the configuration's storage table (session shards, audit database).
//
// The budget is ours, not the platform's: the Workers limits are 3 MiB (free) and 10 MiB (paid)
// after gzip, far above this gateway. A tight budget makes a dependency that drags in a
// megabyte fail CI the day it lands. First set at 291 KiB raw / 81 KiB gzip (+ ~25 %). Raised
// once, deliberately, at 449 KiB raw / 123 KiB gzip: session shards, DPoP, the origin assertion
// (two signing modes, body digests), CORS, rate limits, WebSockets, and the demo page's client
// library embedded as text (~35 KiB) — all our own code, no new dependency. Budget = that + ~25 %.
// Raise it deliberately, in a commit that says why.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import {
  ROOT,
  WRANGLER,
  compatibilityDateProblem,
  readWranglerEnv,
  workerdCompatibilityDate,
} from './lib/deploy-config.mjs'
import { runQuiet } from './lib/run-quiet.mjs'

const KIB = 1024
/** Uncompressed size of every uploaded module (what wrangler calls "Total Upload"). */
export const BUNDLE_BUDGET_RAW_BYTES = 860 * KIB
/** Gzip size of the same: what Cloudflare's script size limit is measured in. */
export const BUNDLE_BUDGET_GZIP_BYTES = 260 * KIB
/** The platform limits, for the report (Workers Free / Paid, after compression). */
const PLATFORM_LIMIT_GZIP_BYTES = { free: 3 * KIB * KIB, paid: 10 * KIB * KIB }
/** Wrangler writes these next to the modules; they are not uploaded as code. */
const NOT_UPLOADED = new Set(['.map', '.md'])
const ENVIRONMENT = 'production'
const DEPLOY_TESTS = join(ROOT, 'test', 'deploy')

async function run(command, args, { quiet = false } = {}) {
  const result = await runQuiet(command, args)
  if (!quiet || result.code !== 0) process.stdout.write(result.output)
  return result
}

function kib(bytes) {
  return `${(bytes / KIB).toFixed(1)} KiB`
}

let failed = false

console.log('check:deploy 1/4 — configuration')
for (const envArgs of [[], ['--env', ENVIRONMENT]]) {
  const { code } = await run(process.execPath, [
    join(ROOT, 'scripts', 'check-config.mjs'),
    ...envArgs,
  ])
  if (code !== 0) failed = true
}
const supported = await workerdCompatibilityDate()
if (supported === null) {
  console.error('check:deploy: cannot read the installed workerd version (node_modules/workerd)')
  failed = true
} else {
  for (const env of [undefined, ENVIRONMENT]) {
    const { compatibility_date: date } = await readWranglerEnv(env)
    const problem = compatibilityDateProblem(date, supported)
    const label = env === undefined ? 'wrangler.toml (top level)' : `wrangler.toml [env.${env}]`
    if (problem) {
      console.error(`check:deploy: ${label} ${problem}`)
      failed = true
    } else console.log(`  ${label} compatibility_date ${date} ≤ workerd ${supported}`)
  }
}

console.log(`check:deploy 2/4 — wrangler deploy --dry-run --env ${ENVIRONMENT}`)
const outdir = await mkdtemp(join(tmpdir(), 'gatehouse-dry-run-'))
try {
  const dryRun = await run(
    WRANGLER,
    ['deploy', '--dry-run', '--env', ENVIRONMENT, '--outdir', outdir],
    { quiet: true },
  )
  if (dryRun.code !== 0) {
    console.error(`check:deploy: the dry run failed (exit ${dryRun.code})`)
    process.exit(1)
  }
  const reported = /Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/.exec(dryRun.output)

  console.log('check:deploy 3/4 — bundle size')
  const files = (await readdir(outdir)).filter((f) => !NOT_UPLOADED.has(extname(f))).sort()
  let raw = 0
  let gzip = 0
  for (const file of files) {
    const bytes = await readFile(join(outdir, file))
    const zipped = gzipSync(bytes).length
    raw += bytes.length
    gzip += zipped
    console.log(
      `  ${file.padEnd(56)} ${kib(bytes.length).padStart(11)}  gzip ${kib(zipped).padStart(10)}`,
    )
  }
  if (files.length === 0) {
    console.error('check:deploy: the dry run wrote no modules')
    process.exit(1)
  }
  // Wrangler gzips the upload as a whole and may come out a little larger than our per-file sum:
  // judge by the larger of the two, so the budget never passes on a rounding difference.
  const reportedGzip = reported ? Math.round(parseFloat(reported[2]) * KIB) : 0
  gzip = Math.max(gzip, reportedGzip)
  console.log(
    `  measured   raw ${kib(raw)} / gzip ${kib(gzip)}` +
      (reported ? `   (wrangler's own count: ${reported[1]} / gzip ${reported[2]})` : ''),
  )
  console.log(
    `  budget     raw ${kib(BUNDLE_BUDGET_RAW_BYTES)} / gzip ${kib(BUNDLE_BUDGET_GZIP_BYTES)}` +
      `   (platform limit gzip: ${kib(PLATFORM_LIMIT_GZIP_BYTES.free)} free, ` +
      `${kib(PLATFORM_LIMIT_GZIP_BYTES.paid)} paid)`,
  )
  console.log(
    `  headroom   raw ${kib(BUNDLE_BUDGET_RAW_BYTES - raw)} / gzip ${kib(BUNDLE_BUDGET_GZIP_BYTES - gzip)}`,
  )
  if (raw > BUNDLE_BUDGET_RAW_BYTES) {
    console.error(
      `check:deploy: bundle ${kib(raw)} exceeds the raw budget ${kib(BUNDLE_BUDGET_RAW_BYTES)}`,
    )
    failed = true
  }
  if (gzip > BUNDLE_BUDGET_GZIP_BYTES) {
    console.error(
      `check:deploy: bundle ${kib(gzip)} gzip exceeds the budget ${kib(BUNDLE_BUDGET_GZIP_BYTES)}`,
    )
    failed = true
  }
} finally {
  await rm(outdir, { recursive: true, force: true })
}

console.log('check:deploy 4/4 — the deploy tests (docs/DEPLOY.md against deploy:setup, D1 rules)')
const testFiles = (await readdir(DEPLOY_TESTS))
  .filter((f) => f.endsWith('.test.mjs'))
  .sort()
  .map((f) => join(DEPLOY_TESTS, f))
const deployTests = await run(process.execPath, ['--test', ...testFiles], { quiet: true })
const shown = testFiles.map((f) => f.slice(ROOT.length + 1)).join(' ')
if (deployTests.code === 0) {
  const passed = /^# pass (\d+)/m.exec(deployTests.output)?.[1] ?? '?'
  console.log(`  ${passed} tests passed (node --test ${shown})`)
} else {
  console.error(`check:deploy: a deploy test failed (node --test ${shown})`)
  failed = true
}

if (failed) {
  console.error('check:deploy: FAILED')
  process.exit(1)
}
console.log('check:deploy: ok')
