// A bucket move's access to the shards: `wrangler d1 execute` on one environment's D1 (remote, or
// local with wrangler's persistence), rows read page by page as JSON, SQL run from a file or a
// command, and the same commands as a human would type them, for the plan. One wrangler process
// per call: ~2-4 s each locally (a Miniflare start), so a page reads every moved table at once.

import { spawn } from 'node:child_process'
import { ROOT, WRANGLER } from './deploy-config.mjs'
import { MOVED_TABLES, PRIMARY_KEY, candidatePageQuery } from './bucket-move.mjs'

/** Rows per table and page: a page of refresh tokens is ~0.5 MB of JSON. */
export const PAGE_ROWS = 1000
/** Output kept from a failed wrangler call, for the error. */
const FAILURE_TAIL_CHARS = 4000

function shellWord(word) {
  if (/^[\w./=:-]+$/.test(word)) return word
  return /["$`\\!]/.test(word) ? `'${word.replace(/'/g, `'\\''`)}'` : `"${word}"`
}

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(WRANGLER, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    })
    const out = []
    const err = []
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => err.push(d))
    child.on('error', (e) => resolve({ code: 1, stdout: '', stderr: String(e) }))
    child.on('exit', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    )
  })
}

/**
 * The shards of one environment. `target`: wrangler's arguments naming it (`--remote --env
 * production`, `--local --persist-to DIR`, `--config FILE`). Every method rejects with an Error
 * (the end of wrangler's output in its message) when wrangler fails.
 */
export function d1Shards(target, buckets) {
  /** A wrangler call as a shell command line. */
  const commandLine = (binding, d1Args) =>
    ['npx', 'wrangler', 'd1', 'execute', binding, ...target, ...d1Args].map(shellWord).join(' ')

  async function execute(binding, d1Args) {
    const result = await run(['d1', 'execute', binding, ...target, ...d1Args])
    if (result.code === 0) return result.stdout
    const tail = `${result.stdout}\n${result.stderr}`.trim().slice(-FAILURE_TAIL_CHARS)
    throw new Error(`wrangler d1 execute ${binding} failed (exit ${result.code}):\n${tail}`)
  }

  /** Every row of the shard that may be in the buckets, for selectRows. */
  async function readCandidates(binding) {
    const rows = Object.fromEntries(MOVED_TABLES.map((t) => [t, []]))
    const after = Object.fromEntries(MOVED_TABLES.map((t) => [t, null]))
    let open = [...MOVED_TABLES]
    while (open.length > 0) {
      const command = open
        .map((t) => candidatePageQuery(t, buckets, after[t], PAGE_ROWS))
        .join(';\n')
      const answers = JSON.parse(await execute(binding, ['--json', '--command', command]))
      open = open.filter((table, i) => {
        const page = answers[i]?.results
        if (!Array.isArray(page)) throw new Error(`no rows of ${table} in wrangler's answer`)
        rows[table].push(...page)
        if (page.length > 0) after[table] = page.at(-1)[PRIMARY_KEY[table]]
        return page.length === PAGE_ROWS
      })
    }
    return rows
  }

  /** The first page of each table's candidates, as commands (for the plan). */
  const firstPages = (binding) =>
    MOVED_TABLES.map((t) =>
      commandLine(binding, [
        '--json',
        '--command',
        candidatePageQuery(t, buckets, null, PAGE_ROWS),
      ]),
    )

  return { commandLine, execute, readCandidates, firstPages }
}
