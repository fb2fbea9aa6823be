// closestName: the known field a typo most likely meant, or nothing.

import { describe, expect, it } from 'vitest'
import { closestName } from '../../../src/config/suggest'

const ROUTE_FIELDS = [
  'prefix',
  'origin',
  'auth',
  'read_scopes',
  'write_scopes',
  'tier',
  'timeout_ms',
]

describe('closestName', () => {
  it.each([
    ['read_scope', 'read_scopes'],
    ['raed_scopes', 'read_scopes'],
    ['Prefix', 'prefix'],
    ['tire', 'tier'],
    ['timeout', 'timeout_ms'],
    ['write', 'write_scopes'],
  ])('suggests %s → %s', (typo, meant) => {
    expect(closestName(typo, ROUTE_FIELDS)).toBe(meant)
  })

  it.each(['colour', 'x', 'ab', 'scopes_everywhere'])('suggests nothing for %s', (typo) => {
    expect(closestName(typo, ROUTE_FIELDS)).toBeUndefined()
  })

  it('suggests nothing when several fields start with the typo', () => {
    expect(closestName('max', ['max_in_flight', 'max_bound_body_bytes'])).toBeUndefined()
  })
})
