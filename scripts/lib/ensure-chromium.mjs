// Makes sure Debian's Chromium is installed for the browser tests (test/helpers/stack/browser.ts).
// The tests drive the distribution's browser through playwright-core rather than a browser build
// that Playwright would download: only Debian's packages are reachable from CI and developer
// machines. Installs with apt-get (as root, or through non-interactive sudo) when missing.
// Usable as a module (`await ensureChromium()`) or a command (`node scripts/lib/ensure-chromium.mjs`).

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Runs a command with apt's non-interactive settings; resolves to its exit code. */
function run(command, args, log) {
  const asRoot = process.getuid?.() === 0
  const [file, argv] = asRoot ? [command, args] : ['sudo', ['-n', command, ...args]]
  log(`ensure-chromium: ${[file, ...argv].join(' ')}`)
  return new Promise((resolve) => {
    const child = spawn(file, argv, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    child.on('error', () => resolve(-1))
    child.on('exit', (code) => resolve(code ?? -1))
  })
}

/**
 * Resolves to the path of Debian's Chromium, installing the `chromium` package first when it is
 * missing (`apt-get update` only if the first install attempt fails: the package lists may be
 * absent or stale). Rejects when it is still missing afterwards.
 */
export async function ensureChromium({ log = (line) => console.error(line) } = {}) {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH
  const install = ['install', '-y', '-q', 'chromium']
  if ((await run('apt-get', install, log)) !== 0) {
    await run('apt-get', ['update', '-q'], log)
    await run('apt-get', install, log)
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`ensure-chromium: ${CHROMIUM_PATH} is missing and apt-get could not install it`)
  }
  return CHROMIUM_PATH
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await ensureChromium())
}
