// npm run soak — mixed traffic on the demo profile against the real `npm start` stack, then
// checks from outside and from the databases (README § Soak test). By default it starts its own
// stack (free ports, throwaway state directory) and stops it at the end; `--gateway URL`
// attaches to a running one instead.
//
//   npm run soak                                  60 s, 6 user actors and the admin actor
//   npm run soak -- --seconds 300 --concurrency 8
//   npm run soak -- --gateway http://127.0.0.1:8787 --origin http://127.0.0.1:8788
//        [--state-dir DIR | --no-db] [--log FILE]  attach: DIR is the stack's GATEHOUSE_STATE_DIR
//                                                  (default: wrangler's .wrangler/state)
//   --rotation emergency|scheduled|none           the key rotation halfway (default emergency:
//                                                  a scheduled attempt, then an emergency one)
//
// Exit code 0 when every check passed, 1 with one line per violation otherwise, 2 on bad usage,
// a stack that would not start or could not be read.

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runSoak } from './lib/soak/run.mjs'
import { startStack } from './lib/soak/stack.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DEFAULT_SECONDS = 60
const DEFAULT_CONCURRENCY = 6
const ROTATIONS = ['emergency', 'scheduled', 'none']

function options() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: String(DEFAULT_SECONDS) },
      concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
      gateway: { type: 'string' },
      origin: { type: 'string' },
      'state-dir': { type: 'string' },
      'no-db': { type: 'boolean', default: false },
      log: { type: 'string' },
      rotation: { type: 'string', default: 'emergency' },
    },
  })
  const seconds = Number(values.seconds)
  const concurrency = Number(values.concurrency)
  if (!(seconds > 0) || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error('--seconds must be > 0 and --concurrency a whole number ≥ 1')
  }
  if (!ROTATIONS.includes(values.rotation)) {
    throw new Error(`--rotation must be one of ${ROTATIONS.join(', ')}`)
  }
  return { ...values, seconds, concurrency }
}

/**
 * The soak needs only the project's own dependencies (wrangler runs the stack and reads its
 * databases): a checkout without them gets `npm ci`, the lockfile's exact versions.
 */
function ensureDependencies() {
  if (existsSync(join(ROOT, 'node_modules', '.bin', 'wrangler'))) return true
  console.log('soak: node_modules missing: npm ci…')
  return spawnSync('npm', ['ci'], { cwd: ROOT, stdio: 'inherit' }).status === 0
}

async function main() {
  let o
  try {
    o = options()
  } catch (err) {
    console.error(`soak: ${err.message}`)
    return 2
  }
  if (!ensureDependencies()) {
    console.error('soak: npm ci failed')
    return 2
  }
  let stack = null
  if (o.gateway === undefined) {
    console.log('soak: starting the stack (npm start on free ports, throwaway state)…')
    try {
      stack = await startStack(ROOT)
    } catch (err) {
      console.error(err.message)
      return 2
    }
    console.log(`soak: gateway ${stack.gateway}, origin ${stack.origin}`)
  }
  const stop = async () => {
    await stack?.stop()
  }
  process.once('SIGINT', () => void stop().then(() => process.exit(130)))
  try {
    console.log(`soak: ${o.seconds} s of traffic, ${o.concurrency} user actors and the admin actor`)
    const result = await runSoak({
      root: ROOT,
      gateway: stack?.gateway ?? o.gateway.replace(/\/$/, ''),
      origin: stack?.origin ?? o.origin?.replace(/\/$/, ''),
      stateDir: o['no-db'] ? null : (stack?.stateDir ?? o['state-dir']),
      log: stack?.log ?? o.log,
      seconds: o.seconds,
      concurrency: o.concurrency,
      rotation: o.rotation,
    })
    for (const line of result.lines) console.log(line)
    console.log(result.summary)
    return result.ok ? 0 : 1
  } catch (err) {
    console.error(`soak: ${err.message}`)
    return 2
  } finally {
    await stop()
  }
}

process.exitCode = await main()
