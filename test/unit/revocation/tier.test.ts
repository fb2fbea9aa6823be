import { describe, expect, it } from 'vitest'
import { effectiveTier } from '../../../src/revocation/tier'

const SENSITIVE = { 'gatehouse:admin': 'critical', 'billing:write': 'standard' } as const

describe('effectiveTier', () => {
  it('keeps the route tier for a token without sensitive scopes', () => {
    expect(effectiveTier('low', ['echo:read'], SENSITIVE)).toBe('low')
  })

  it('raises a low route to the tier of a sensitive scope', () => {
    expect(effectiveTier('low', ['billing:write'], SENSITIVE)).toBe('standard')
    expect(effectiveTier('low', ['gatehouse:admin'], SENSITIVE)).toBe('critical')
  })

  it('never lowers a tier an earlier scope raised when a later scope is less sensitive', () => {
    expect(effectiveTier('low', ['gatehouse:admin', 'billing:write'], SENSITIVE)).toBe('critical')
    expect(effectiveTier('low', ['billing:write', 'gatehouse:admin'], SENSITIVE)).toBe('critical')
  })

  it('never lowers the route tier', () => {
    expect(effectiveTier('critical', ['billing:write'], SENSITIVE)).toBe('critical')
  })
})
