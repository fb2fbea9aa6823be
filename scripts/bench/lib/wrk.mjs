// The load generator for every end-to-end variant: wrk (C, one thread), which loads this 2-core
// machine far less than a Node client would. Installed from Debian when missing. Each run uses
// the same connection count and duration; results come back as numbers via wrk-report.lua.

import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BENCH_STATE_DIR } from './build.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPORT_SCRIPT = join(HERE, 'wrk-report.lua')

/** The distinct-token script with the report appended (wrk takes a single -s script). */
function tokensScript() {
  mkdirSync(BENCH_STATE_DIR, { recursive: true })
  const path = join(BENCH_STATE_DIR, 'wrk-tokens.lua')
  writeFileSync(
    path,
    readFileSync(join(HERE, 'wrk-tokens.lua'), 'utf8') + readFileSync(REPORT_SCRIPT, 'utf8'),
  )
  return path
}
const WRK_TIMEOUT_SECONDS = 5

function hasWrk() {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined
}

function apt(args) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  return spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0
}

/** Makes sure wrk is on PATH, installing Debian's package if needed; throws if it cannot. */
export function ensureWrk() {
  if (hasWrk()) return
  console.log('bench: installing wrk (apt-get install -y wrk)…')
  if (!apt(['install', '-y', 'wrk'])) {
    apt(['update'])
    apt(['install', '-y', 'wrk'])
  }
  if (!hasWrk()) throw new Error('wrk is missing and `apt-get install -y wrk` failed')
}

/**
 * Runs wrk against `url` for `durationSeconds` with `connections` keep-alive connections; with
 * `tokensFile`, each request carries the next bearer token of that file (one per line).
 * Resolves to { rps, p50Ms, p90Ms, p99Ms, requests, errors, non2xx }.
 */
export function runWrk({ url, connections, durationSeconds, headers = {}, tokensFile }) {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${durationSeconds}s`,
    `--timeout`,
    `${WRK_TIMEOUT_SECONDS}s`,
  ]
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
  args.push('-s', tokensFile ? tokensScript() : REPORT_SCRIPT, url)
  if (tokensFile) args.push('--', tokensFile)
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '))
      if (line === undefined) return reject(new Error(`wrk printed no report:\n${out}`))
      const r = JSON.parse(line.slice('WRK_JSON '.length))
      const errors = r.errors_connect + r.errors_read + r.errors_write + r.errors_timeout
      resolve({
        rps: r.requests / (r.duration_us / 1e6),
        p50Ms: r.p50_us / 1000,
        p90Ms: r.p90_us / 1000,
        p99Ms: r.p99_us / 1000,
        requests: r.requests,
        errors,
        non2xx: r.errors_status,
      })
    })
  })
}
