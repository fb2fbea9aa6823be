// The short soak inside `npm test` (README § Soak test): ten seconds of `npm run soak`'s mixed
// traffic against the e2e stack — logins in both tenants, web and mobile refreshes with two-tab
// races and deliberate replays, low and critical API calls, admin revocations and an emergency
// key rotation halfway — then every check of the full soak, from outside (answers, the gateway's
// log lines, the demo origin's count) and from the stack's D1 databases.

import { expect, inject, it } from 'vitest'
import { runSoak } from '../../scripts/lib/soak/run.mjs'

const SOAK_SECONDS = 10
const USER_ACTORS = 4
/** Traffic, then the log lines, the D1 reads (about a second per wrangler call) and the audit queue. */
const SOAK_TEST_TIMEOUT_MS = 90_000

it(
  'answers mixed traffic with no 5xx, no revoked credential accepted and every replay detected',
  async () => {
    const stack = inject('gatehouse')
    const result = await runSoak({
      root: process.cwd(),
      gateway: stack.gateway,
      origin: stack.origin,
      stateDir: stack.stateDir,
      log: stack.log,
      seconds: SOAK_SECONDS,
      concurrency: USER_ACTORS,
      rotation: 'emergency',
    })
    console.log(result.summary)
    expect(result.ok, [...result.lines, result.summary].join('\n')).toBe(true)
    // The run exercised what it checks.
    expect(result.counts.replays).toBeGreaterThan(0)
    expect(result.counts.revokedPresented).toBeGreaterThan(0)
    expect(result.counts.races).toBeGreaterThan(0)
  },
  SOAK_TEST_TIMEOUT_MS,
)
