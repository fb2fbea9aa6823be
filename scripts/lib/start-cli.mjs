// npm start's command line and environment: the usage text, the flags (only --help), the ports
// and the file it serves. A wrong flag is a usage error (exit 2), never silently ignored.

import { isAbsolute, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

/** The exit code of a command-line usage error (the BSD sysexits / shell convention). */
const USAGE_EXIT_CODE = 2

export const USAGE = `Usage: npm start [-- --help]

Runs the Gatehouse local demo: writes any missing secret to .dev.vars, validates the
configuration (config/demo.json, or the file GATEHOUSE_CONFIG names) with the gateway's own
validator and checks that every secret it names is in .dev.vars, applies the D1 migrations
locally, seeds the demo users, starts the demo origin and serves the gateway with wrangler dev.
On a configuration error it lists every problem and exits 1 before starting anything.

Environment (ports on 127.0.0.1; the demo configuration's URLs are rewritten to them):
  GATEHOUSE_PORT       the gateway (default 8787; on another port, wrangler's inspector is
                       on port + 1000)
  DEMO_ORIGIN_PORT     the demo origin and the demo third-party issuer (default 8788)
  PYTHON_ORIGIN_PORT   where /api/py forwards, the Python example origin (default 8789; not
                       started by npm start, see README)
  GO_ORIGIN_PORT       where /api/go forwards, the Go example origin (default 8790; not started)
  DEMO_SPA_PORT        the single-page app allowed by CORS on /api/echo (default 5173; not
                       started)
  GATEHOUSE_CONFIG     the configuration file to serve instead of config/demo.json
  GATEHOUSE_STATE_DIR  where local D1, KV and Durable Object state lives (default
                       .wrangler/state)

While it runs, saving the configuration file validates it again: a valid one restarts the
gateway with it ("config reloaded"), an invalid one is reported with every problem and the
gateway keeps the previous one. wrangler dev reloads a saved wrangler.toml itself; a change to
the D1 databases (or the storage table naming them) needs a restart of npm start, which says so.

Ctrl-C, SIGTERM or SIGHUP stops the gateway (wrangler and workerd) and the demo origin.

Options:
  -h, --help  print this help and exit`

/**
 * Reads npm start's arguments: returns normally when there is nothing to do but start; prints the
 * usage and exits 0 on --help, prints it to stderr and exits 2 on anything else.
 */
export function handleStartArgs(argv) {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }))
  } catch (err) {
    console.error(`npm start: ${err.message}\n\n${USAGE}`)
    process.exit(USAGE_EXIT_CODE)
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
}

function port(env, name, fallback) {
  const raw = env[name]
  if (raw === undefined || raw === '') return { port: fallback }
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    return { problem: `${name}: must be a port number (1-65535), not ${JSON.stringify(raw)}` }
  }
  return { port: value }
}

/**
 * npm start's settings from its environment: { ports (demo port → port served on), gatewayPort,
 * originPort, configPath, configLabel, customConfig, persistTo, problems }. A relative
 * GATEHOUSE_CONFIG is taken from the directory npm was run in (INIT_CWD), like a shell path.
 */
export function readStartEnv(env, root) {
  const problems = []
  const read = (name, fallback) => {
    const result = port(env, name, fallback)
    if (result.problem) problems.push(result.problem)
    return result.port ?? fallback
  }
  const ports = {
    8787: read('GATEHOUSE_PORT', 8787),
    8788: read('DEMO_ORIGIN_PORT', 8788),
    8789: read('PYTHON_ORIGIN_PORT', 8789),
    8790: read('GO_ORIGIN_PORT', 8790),
    5173: read('DEMO_SPA_PORT', 5173),
  }
  const custom = env.GATEHOUSE_CONFIG
  const customConfig = custom !== undefined && custom !== ''
  const configPath = customConfig
    ? resolve(env.INIT_CWD ?? process.cwd(), custom)
    : join(root, 'config', 'demo.json')
  const inRoot = relative(root, configPath)
  const configLabel = inRoot.startsWith('..') || isAbsolute(inRoot) ? configPath : inRoot
  return {
    ports,
    gatewayPort: ports[8787],
    originPort: ports[8788],
    configPath,
    configLabel,
    customConfig,
    persistTo: env.GATEHOUSE_STATE_DIR || undefined,
    problems,
  }
}
