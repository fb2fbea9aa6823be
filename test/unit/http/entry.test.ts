// Which requests the Hono app claims and which go straight to the proxy (src/http/entry.ts):
// every path an endpoint or its middleware could match must reach the app, in any case and in
// any percent-encoding; everything else is a proxied request.

import { describe, expect, it } from 'vitest'
import { isAppPath } from '../../../src/http/entry'

const BASE = 'https://gw.example'

describe('isAppPath', () => {
  it.each([
    '/auth/login',
    '/auth',
    '/AUTH/login',
    '/Auth/refresh',
    '/authx/anything',
    '/admin/users',
    '/.well-known/jwks.json',
    '/.WELL-KNOWN/jwks.json',
    '/healthz',
    '/healthz/',
    '/metrics',
    '/demo',
    '/demo/client/app.js',
    // Hono decodes a path before matching: any '%' in the path goes to the app.
    '/%61uth/login',
    '/api/%2e%2e/auth/login',
    '/api/echo/%7e',
  ])('sends %s to the app', (path) => {
    expect(isAppPath(BASE + path)).toBe(true)
  })

  it.each([
    '/api/echo/x',
    '/api/public',
    '/',
    '/api/auth/login',
    '/api/echo/x?next=%2Fauth%2Flogin',
    '/api/echo?q=%25',
  ])('sends %s to the proxy', (path) => {
    expect(isAppPath(BASE + path)).toBe(false)
  })

  it('sends a URL without a path to the app (it answers whatever it is)', () => {
    expect(isAppPath('https://gw.example')).toBe(true)
  })
})
