// Runs a command with the repository as its working directory, non-interactive (CI=1), without
// wrangler's telemetry or colours, and collects its output instead of streaming it.

import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Resolves to {code, output}; never rejects (a spawn error is exit code 1). */
export function runQuiet(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', (err) => resolve({ code: 1, output: String(err) }))
    child.on('exit', (code) => resolve({ code: code ?? 1, output }))
  })
}
