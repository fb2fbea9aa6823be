import { describe, expect, it } from 'vitest'
import { planLifecycle, type KeyRow, type LifecyclePolicy } from '../../../src/keys/key-lifecycle'

const policy: LifecyclePolicy = { rotationIntervalMs: 1000, publishLeadMs: 100, retireGraceMs: 300 }
const key = (
  kid: string,
  state: KeyRow['state'],
  createdAt: number,
  extra: Partial<KeyRow> = {},
): KeyRow => ({
  kid,
  state,
  createdAt,
  activatedAt: state === 'current' ? createdAt : null,
  retiredAt: null,
  ...extra,
})

describe('planLifecycle', () => {
  it('bootstraps a current and a next key on an empty store', () => {
    const plan = planLifecycle([], 0, policy)
    expect(plan).toMatchObject({ bootstrapCurrent: true, generateNext: true, promote: null })
  })

  it('waits for the rotation interval before promoting the next key', () => {
    const rows = [key('a', 'current', 0), key('b', 'next', 0)]
    expect(planLifecycle(rows, 999, policy).promote).toBeNull()
    expect(planLifecycle(rows, 999, policy).wakeAt).toBe(1000)
    expect(planLifecycle(rows, 1000, policy)).toMatchObject({ promote: 'b', generateNext: true })
  })

  it('never promotes a next key published for less than the lead time, even when forced', () => {
    const rows = [key('a', 'current', 0), key('b', 'next', 950)]
    expect(planLifecycle(rows, 1000, policy).promote).toBeNull()
    expect(planLifecycle(rows, 1000, policy, true).promote).toBeNull()
    expect(planLifecycle(rows, 1000, policy).wakeAt).toBe(1050)
    expect(planLifecycle(rows, 1050, policy).promote).toBe('b')
  })

  it('promotes at once when there is no current key (emergency), whatever the lead time', () => {
    expect(planLifecycle([key('b', 'next', 990)], 1000, policy).promote).toBe('b')
  })

  it('deletes a retired key only after the grace period', () => {
    const rows = [
      key('a', 'retired', 0, { retiredAt: 1000 }),
      key('b', 'current', 1000),
      key('c', 'next', 1000),
    ]
    expect(planLifecycle(rows, 1299, policy).delete).toEqual([])
    expect(planLifecycle(rows, 1299, policy).wakeAt).toBe(1300)
    expect(planLifecycle(rows, 1300, policy).delete).toEqual(['a'])
  })
})
