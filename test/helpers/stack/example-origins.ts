// The Python and Go example origins (examples/) for origin-languages.test.ts: their toolchains
// from Debian (installed when missing — this machine's tests run as root — or a reason to skip),
// each origin started as its README says on a port of its own, and a wire tap: a plain relay on
// the port the gateway's route names, recording every request the gateway sends there before
// passing it on unchanged (Host header included). The tap is what an attacker between gateway and
// origin sees; tests replay what it recorded straight to the origin.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const APT_TIMEOUT_MS = 600_000
const ORIGIN_START_TIMEOUT_MS = 20_000
/** No __pycache__ left in examples/ by the Python origin and its tests. */
export const QUIET_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
/** go build and go test without cgo, with a build cache even where HOME is not set. */
export const GO_ENV = {
  ...QUIET_ENV,
  CGO_ENABLED: '0',
  ...(process.env.HOME
    ? {}
    : {
        GOCACHE: join(tmpdir(), 'gatehouse-go-cache'),
        GOPATH: join(tmpdir(), 'gatehouse-gopath'),
      }),
}
/** Debian's own interpreter: python3-jwt installs into its dist-packages, not a pyenv's. */
export const DEBIAN_PYTHON = '/usr/bin/python3'

type Toolchain = 'python' | 'go'
const PACKAGES: Record<Toolchain, string[]> = {
  python: ['python3-jwt', 'python3-cryptography'],
  go: ['golang-go'],
}

function works(toolchain: Toolchain): boolean {
  const probe =
    toolchain === 'python'
      ? spawnSync(DEBIAN_PYTHON, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' })
      : spawnSync('go', ['version'], { stdio: 'ignore', env: GO_ENV })
  return probe.status === 0
}

function apt(args: string[]): boolean {
  const run = spawnSync('apt-get', args, {
    stdio: 'ignore',
    timeout: APT_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return run.status === 0
}

/**
 * Makes a toolchain usable: already there, or its Debian packages installed (an `apt-get
 * update` first only when the install fails). Returns null when usable, else why not.
 */
export function ensureToolchain(toolchain: Toolchain): string | null {
  if (works(toolchain)) return null
  const packages = PACKAGES[toolchain]
  const missing = packages.filter(
    (p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0,
  )
  if (missing.length === 0) return `${packages.join(', ')} installed but not usable`
  if (process.getuid?.() !== 0) return `${missing.join(', ')} missing and not root to install`
  const install = ['install', '-y', '--no-install-recommends', ...missing]
  if (!apt(install) && !(apt(['update']) && apt(install))) {
    return `apt-get install ${missing.join(' ')} failed`
  }
  return works(toolchain) ? null : `${missing.join(', ')} installed but not usable`
}

/** The demo profile's origin secret, from the .dev.vars npm start keeps (scripts/lib/dev-vars.mjs). */
export function demoOriginSecret(): string {
  const line = readFileSync(join(process.cwd(), '.dev.vars'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ORIGIN_SECRET_DEMO='))
  const value = line?.slice('ORIGIN_SECRET_DEMO='.length).replace(/^"|"$/g, '')
  if (!value) throw new Error('e2e: no ORIGIN_SECRET_DEMO in .dev.vars')
  return value
}

export interface RunningOrigin {
  readonly port: number
  stop(): void
}

async function waitUntilListening(port: number, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + ORIGIN_START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`origin exited (${child.exitCode}):\n${log()}`)
    try {
      await fetch(`http://127.0.0.1:${port}/`)
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error(
    `origin on ${port} did not listen within ${ORIGIN_START_TIMEOUT_MS} ms:\n${log()}`,
  )
}

/**
 * Starts `command args` (an example origin) with `env` added to its environment (secrets go
 * there, never in args) and resolves once it answers HTTP on `port`.
 */
export async function startOrigin(
  command: string,
  args: string[],
  port: number,
  cwd: string,
  env: Record<string, string> = {},
): Promise<RunningOrigin> {
  const child = spawn(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...QUIET_ENV, ...env },
  })
  let output = ''
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  await waitUntilListening(port, child, () => output)
  return { port, stop: () => void child.kill('SIGTERM') }
}

/** `go build`s examples/origin-go into a temporary directory; returns the binary and a cleanup. */
export function buildGoOrigin(): { binary: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-origin-go-'))
  const binary = join(dir, 'origin-go')
  const build = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: join(process.cwd(), 'examples', 'origin-go'),
    encoding: 'utf8',
    env: GO_ENV,
  })
  if (build.status !== 0 || !existsSync(binary)) {
    throw new Error(`go build failed:\n${build.stderr}`)
  }
  return { binary, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface Wire {
  readonly method: string
  readonly target: string
  readonly headers: Record<string, string>
  readonly body: Buffer
}

export interface Tap {
  /** What the gateway sent for `target`, the latest first found. */
  recorded(target: string): Wire
  close(): Promise<void>
}

/** A relay on `port` that records each request and passes it to `upstreamPort` unchanged. */
export async function startTap(port: number, upstreamPort: number): Promise<Tap> {
  const seen: Wire[] = []
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const wire: Wire = {
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.join(', ') : (v ?? ''),
        ]),
      ),
      body: Buffer.concat(chunks),
    }
    seen.push(wire)
    const answer = await sendRaw(upstreamPort, wire)
    res.writeHead(answer.status, { 'content-type': 'application/json' })
    res.end(answer.text)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    recorded(target) {
      const wire = seen.findLast((w) => w.target === target)
      if (wire === undefined) throw new Error(`the tap saw no request for ${target}`)
      return wire
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

export interface OriginAnswer {
  readonly status: number
  readonly text: string
  readonly json: { ok: boolean; reason?: string; claims?: Record<string, unknown> } & Record<
    string,
    unknown
  >
}

/**
 * Sends a request to 127.0.0.1:`port` with exactly these headers (Host included, which fetch
 * would not let a caller set) and body.
 */
export function sendRaw(
  port: number,
  wire: Omit<Wire, 'body'> & { body?: Buffer },
): Promise<OriginAnswer> {
  const headers = { ...wire.headers }
  delete headers['transfer-encoding']
  if (wire.body !== undefined && wire.body.length > 0)
    headers['content-length'] = String(wire.body.length)
  else delete headers['content-length']
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: wire.method, path: wire.target, headers, setHost: false },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          let json: OriginAnswer['json']
          try {
            json = JSON.parse(text) as OriginAnswer['json']
          } catch {
            json = { ok: false, reason: `not JSON: ${text.slice(0, 200)}` }
          }
          resolve({ status: res.statusCode ?? 0, text, json })
        })
      },
    )
    req.on('error', reject)
    req.end(wire.body !== undefined && wire.body.length > 0 ? wire.body : undefined)
  })
}
