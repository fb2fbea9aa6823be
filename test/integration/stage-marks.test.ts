// The proxy path's stage marks (src/observability/stage-marks.ts), which the benchmark's chart
// is built from: with a recorder installed, a proxied request marks every stage it runs, once,
// in request order; a refused request ends with its answer; without a recorder nothing is
// recorded.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { STAGES, recordStages, type Stage } from '../../src/observability/stage-marks'
import { authEnv, webSession } from '../helpers/auth'
import { installNetwork, send } from '../helpers/gateway'

const gw = authEnv()
let marks: Stage[]
beforeEach(() => {
  installNetwork()
  marks = []
  recordStages((stage) => marks.push(stage))
})
afterEach(() => {
  recordStages(null)
  vi.restoreAllMocks()
})

describe('stage marks', () => {
  it('marks every stage of a critical route once, in the declared order', async () => {
    const { access } = await webSession(gw)
    marks = []
    expect((await send(gw, '/api/secure/x', { token: access })).status).toBe(200)
    expect(marks).toEqual([...STAGES])
  })

  it('marks no token stages on a public route', async () => {
    expect((await send(gw, '/api/public/x')).status).toBe(200)
    expect(marks).toEqual(STAGES.filter((s) => s !== 'authenticate' && s !== 'revocation'))
  })

  it('ends a refused request with its answer and record', async () => {
    expect((await send(gw, '/api/echo/x')).status).toBe(401)
    expect(marks).toEqual(['context', 'route', 'response headers', 'record'])
  })

  it('records nothing once the recorder is removed', async () => {
    recordStages(null)
    expect((await send(gw, '/api/public/x')).status).toBe(200)
    expect(marks).toEqual([])
  })
})
