// Which issuers a route accepts (default: our own issuer when there is one, else every
// configured issuer), and where each issuer keeps its scopes (`scope_claim`, `scope_format`).

import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/config/config'
import { MISSING, configError, sourceOf, validDocument, withField } from './fixtures'

type Json = Record<string, unknown>
const set = (path: (string | number)[], value: unknown, doc: Json = validDocument()) =>
  withField(doc, path, value)
const routeIssuers = (doc: Json) => parseConfig(sourceOf(doc)).routes.map((r) => [...r.issuers])

describe('routes[].issuers', () => {
  it('defaults to the self issuer only: a third party reaches a route only where it is named', () => {
    expect(routeIssuers(validDocument())).toEqual([
      ['https://gatehouse.test'],
      ['https://gatehouse.test'],
    ])
  })

  it('defaults to every configured issuer when none is self', () => {
    let doc = set(['issuers'], [(validDocument().issuers as Json[])[1]])
    doc = set(['auth'], MISSING, doc)
    doc = set(['routes', 1, 'tier'], 'low', doc)
    expect(routeIssuers(doc)).toEqual([['https://idp.test/'], ['https://idp.test/']])
  })

  it('accepts exactly the issuers a route names', () => {
    const doc = set(['routes', 1, 'issuers'], ['https://idp.test/', 'https://gatehouse.test'])
    expect(routeIssuers(doc)[1]).toEqual(['https://idp.test/', 'https://gatehouse.test'])
  })

  it('refuses an issuer no issuers entry configures, naming the route and the entry', () => {
    const doc = set(['routes', 1, 'issuers'], ['https://gatehouse.test', 'https://idp.test'])
    const err = configError(sourceOf(doc))
    expect(err.issues).toEqual([
      {
        field: 'GATEHOUSE.routes["/api/echo/*"].issuers[1]',
        problem: expect.stringContaining('names no configured issuer'),
      },
    ])
  })
})

describe('issuers[].scope_claim and scope_format', () => {
  it('default to the space-delimited scope claim', () => {
    const issuer = parseConfig(sourceOf(validDocument())).issuers[1]
    expect(issuer).toMatchObject({ scopeClaim: 'scope', scopeFormat: 'space' })
  })

  it('read an array claim such as scp for a third-party issuer', () => {
    let doc = set(['issuers', 1, 'scope_claim'], 'scp')
    doc = set(['issuers', 1, 'scope_format'], 'array', doc)
    const issuer = parseConfig(sourceOf(doc)).issuers[1]
    expect(issuer).toMatchObject({ scopeClaim: 'scp', scopeFormat: 'array' })
  })
})
