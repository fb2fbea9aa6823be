// Reading the running stack's local D1 databases, as an operator would: `wrangler d1 execute
// <binding> --local` against the stack's state directory, once per session shard listed in the
// demo profile (config/demo.json storage.session_shards; a single `DB` before sharding) and the
// audit database. Wrangler rather than opening the SQLite files: it maps a binding to its file
// the way the gateway does, and Node 20 has no SQLite of its own. Each call costs about a second,
// so every check's queries for one database go in one call.

import { execFile } from 'node:child_process'
import { join } from 'node:path'

const WRANGLER_TIMEOUT_MS = 60_000

/**
 * Runs SQL statements (`;`-separated) against one local D1 binding; resolves to one array of
 * rows per statement. Throws with wrangler's output when it fails.
 */
export function queryD1(root, stateDir, binding, sql) {
  const wrangler = join(root, 'node_modules', '.bin', 'wrangler')
  const persist = stateDir ? ['--persist-to', stateDir] : []
  const args = ['d1', 'execute', binding, '--local', ...persist, '--json', '--command', sql]
  return new Promise((resolve, reject) => {
    execFile(
      wrangler,
      args,
      {
        cwd: root,
        timeout: WRANGLER_TIMEOUT_MS,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      },
      (err, stdout, stderr) => {
        const start = stdout.indexOf('[')
        if (err || start < 0) {
          const said = `${stdout}\n${stderr}`.trim().split('\n').slice(-8).join('\n')
          return reject(new Error(`wrangler d1 execute ${binding} failed:\n${said}`))
        }
        try {
          resolve(JSON.parse(stdout.slice(start)).map((r) => r.results ?? []))
        } catch (parseError) {
          reject(new Error(`wrangler d1 execute ${binding}: unreadable JSON (${parseError})`))
        }
      },
    )
  })
}

const quote = (text) => `'${String(text).replaceAll("'", "''")}'`

/**
 * What the session shards hold about the run: sessions created since `sinceSeconds` (sid,
 * revoked_at, revoked_reason), the hashes of their unused unexpired refresh tokens, and every
 * session anywhere with more than one unused unexpired refresh token (merged across shards, so
 * a session whose rows were split between shards would still be counted whole).
 */
export async function readSessionShards(root, stateDir, shards, sinceSeconds, nowSeconds) {
  const perShard = await Promise.all(
    shards.map((binding) =>
      queryD1(
        root,
        stateDir,
        binding,
        [
          `SELECT sid, user_id, revoked_at, revoked_reason FROM sessions WHERE created_at >= ${sinceSeconds}`,
          `SELECT sid, token_hash FROM refresh_tokens WHERE used_at IS NULL AND expires_at > ${nowSeconds} AND created_at >= ${sinceSeconds}`,
          `SELECT sid, COUNT(*) AS live FROM refresh_tokens WHERE used_at IS NULL AND expires_at > ${nowSeconds} GROUP BY sid HAVING COUNT(*) > 1`,
        ].join('; '),
      ).then(([sessions, liveTokens, multiLive]) => ({ binding, sessions, liveTokens, multiLive })),
    ),
  )
  const sessions = new Map()
  const liveTokens = new Map()
  const liveCount = new Map()
  for (const shard of perShard) {
    for (const s of shard.sessions) sessions.set(s.sid, { ...s, shard: shard.binding })
    for (const t of shard.liveTokens) {
      liveTokens.set(t.sid, [...(liveTokens.get(t.sid) ?? []), t.token_hash])
    }
    for (const m of shard.multiLive) liveCount.set(m.sid, (liveCount.get(m.sid) ?? 0) + m.live)
  }
  // Sessions with several live tokens that were not created during the run: their state too.
  const older = [...liveCount.keys()].filter((sid) => !sessions.has(sid))
  if (older.length > 0) {
    const list = older.map(quote).join(', ')
    const rows = await Promise.all(
      shards.map((binding) =>
        queryD1(
          root,
          stateDir,
          binding,
          `SELECT sid, user_id, revoked_at, revoked_reason FROM sessions WHERE sid IN (${list})`,
        ),
      ),
    )
    for (const [i, [found]] of rows.entries()) {
      for (const s of found) sessions.set(s.sid, { ...s, shard: shards[i] })
    }
  }
  const sessionsPerShard = Object.fromEntries(perShard.map((s) => [s.binding, s.sessions.length]))
  return { sessions, liveTokens, liveCount, sessionsPerShard }
}

/** Audit events of the run: Map sid → Map type → count. */
export async function readAuditEvents(root, stateDir, binding, sinceSeconds) {
  const [rows] = await queryD1(
    root,
    stateDir,
    binding,
    `SELECT sid, type, COUNT(*) AS n FROM audit_events WHERE at >= ${sinceSeconds} AND sid IS NOT NULL GROUP BY sid, type`,
  )
  const bySid = new Map()
  for (const r of rows) {
    const types = bySid.get(r.sid) ?? new Map()
    types.set(r.type, r.n)
    bySid.set(r.sid, types)
  }
  return bySid
}
