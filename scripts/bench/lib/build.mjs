// Builds every Worker the benchmark serves with wrangler's own bundler (`deploy --dry-run`, which
// works offline): Gatehouse exactly as wrangler.toml describes it, and the bench-only Workers in
// bench/workers/. Output goes to .wrangler/bench/build/<name>/ (git-ignored), rebuilt every run,
// so a fresh clone needs nothing but `npm ci`.

import { mkdir, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runQuiet } from '../../lib/run-quiet.mjs'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const BENCH_STATE_DIR = join(ROOT, '.wrangler', 'bench')
const BUILD_DIR = join(BENCH_STATE_DIR, 'build')
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler')

/** The bench-only Workers: name → entry under bench/workers/. */
const BENCH_WORKERS = {
  'gatehouse-bench': 'bench/workers/gatehouse-bench.ts',
  'verify-bench': 'bench/workers/verify-bench.ts',
  'profile-bench': 'bench/workers/profile-bench.ts',
  'dpop-bench': 'bench/workers/dpop-bench.ts',
  'api-edge-bench': 'bench/workers/api-edge-bench.ts',
  'assertion-bench': 'bench/workers/assertion-bench.ts',
  'pass-through': 'bench/workers/pass-through.ts',
}

async function run(command, args) {
  const { code, output } = await runQuiet(command, args)
  if (code !== 0) throw new Error(`${basename(command)} ${args.join(' ')} failed:\n${output}`)
  return output
}

/** Bundles one Worker; resolves to { dir, script } (script is the bundled entry module). */
async function bundle(name, configPath, main) {
  const dir = join(BUILD_DIR, name)
  await rm(dir, { recursive: true, force: true })
  await run(WRANGLER, ['deploy', '--dry-run', '--config', configPath, '--outdir', dir])
  return { name, dir, script: join(dir, basename(main).replace(/\.[mc]?[jt]s$/, '.js')) }
}

async function bundleBenchWorker(name, entry, compatibilityDate) {
  const configPath = join(BUILD_DIR, `${name}.wrangler.json`)
  const main = join(ROOT, entry)
  const config = { name, main, compatibility_date: compatibilityDate, workers_dev: false }
  await writeFile(configPath, JSON.stringify(config, null, 2))
  return bundle(name, configPath, main)
}

/**
 * Builds Gatehouse and every bench Worker in parallel. Returns name → { dir, script } or, for a
 * bench Worker that fails to build, name → { error } (its section is then skipped, not fatal).
 */
export async function buildAll({ compatibilityDate, mainEntry }) {
  await mkdir(BUILD_DIR, { recursive: true })
  const jobs = [bundle('gatehouse', join(ROOT, 'wrangler.toml'), mainEntry)]
  for (const [name, entry] of Object.entries(BENCH_WORKERS)) {
    jobs.push(bundleBenchWorker(name, entry, compatibilityDate).catch((error) => ({ name, error })))
  }
  const builds = await Promise.all(jobs)
  return Object.fromEntries(builds.map((b) => [b.name, b]))
}
