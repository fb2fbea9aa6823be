import { describe, expect, it } from 'vitest'
import {
  sanitizeResponseHeaders,
  forwardableRequestHeaders,
  withoutCookies,
  type ForwardHeaderOptions,
} from '../../../src/proxy/header-rules'

const GATEWAY_COOKIE = '__Host-gh_rt'
const OPTIONS: ForwardHeaderOptions = {
  forwardAuthorization: false,
  gatewayCookies: [GATEWAY_COOKIE],
}

function forward(init: [string, string][], options: ForwardHeaderOptions = OPTIONS): Headers {
  const incoming = new Headers()
  for (const [name, value] of init) incoming.append(name, value)
  return forwardableRequestHeaders(incoming, options)
}

const names = (headers: Headers): string[] => [...headers.keys()]

describe('forwardableRequestHeaders', () => {
  it('keeps ordinary headers with their values', () => {
    const out = forward([
      ['Accept', 'application/json'],
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['User-Agent', 'test-agent/1.0'],
      ['X-Custom', 'kept'],
      ['Accept-Language', 'fr'],
    ])
    expect(Object.fromEntries(out)).toEqual({
      accept: 'application/json',
      'content-type': 'text/plain; charset=utf-8',
      'user-agent': 'test-agent/1.0',
      'x-custom': 'kept',
      'accept-language': 'fr',
    })
  })

  it.each([
    'X-Auth-Subject',
    'x-auth-subject',
    'X_Auth_Subject',
    'x_auth-subject',
    'x-auth_subject',
    'X-AUTH-TENANT',
    'x-auth-signature',
    'X-Auth-Timestamp',
    'x-auth-nonce',
    'x-auth-anything-new',
  ])('drops the identity-namespace header %s', (name) => {
    expect(
      names(
        forward([
          [name, 'evil'],
          ['accept', '*/*'],
        ]),
      ),
    ).toEqual(['accept'])
  })

  it.each([
    'Connection',
    'Keep-Alive',
    'Proxy-Authorization',
    'Proxy-Authenticate',
    'Proxy-Connection',
    'TE',
    'Trailer',
    'Upgrade',
    'Host',
  ])('drops the hop-by-hop or proxy header %s', (name) => {
    expect(
      names(
        forward([
          [name, 'x'],
          ['accept', '*/*'],
        ]),
      ),
    ).toEqual(['accept'])
  })

  it.each([
    'Forwarded',
    'X-Forwarded-For',
    'X-Forwarded-Host',
    'X-Forwarded-Proto',
    'x_forwarded_for',
    'X-Real-IP',
    'True-Client-IP',
    'X-Client-IP',
    'X-Original-URL',
    'X-Original-URI',
    'X-Rewrite-URL',
    'X-HTTP-Method-Override',
    'X-Method-Override',
    'X-Request-Id',
    'x_request_id',
    'traceparent',
    'X-Gatehouse-Debug',
    'X-Envoy-Original-Path',
  ])('drops the client-set forwarding, override or gateway header %s', (name) => {
    expect(
      names(
        forward([
          [name, 'x'],
          ['accept', '*/*'],
        ]),
      ),
    ).toEqual(['accept'])
  })

  it('drops every header listed in Connection, whatever the case or separator', () => {
    const out = forward([
      ['Connection', 'keep-alive, X-Hop-One ,x_hop_two, X-HOP-THREE'],
      ['x-hop-one', '1'],
      ['X_Hop_Two', '2'],
      ['x-hop-two', '2b'],
      ['x-hop-three', '3'],
      ['x-end-to-end', 'kept'],
    ])
    expect(names(out)).toEqual(['x-end-to-end'])
  })

  it('drops authorization unless the route forwards it', () => {
    const init: [string, string][] = [
      ['Authorization', 'Bearer abc'],
      ['accept', '*/*'],
    ]
    expect(forward(init).has('authorization')).toBe(false)
    expect(forward(init, { ...OPTIONS, forwardAuthorization: true }).get('authorization')).toBe(
      'Bearer abc',
    )
  })

  it('removes only the gateway cookie and keeps the others in order', () => {
    const out = forward([['Cookie', `theme=dark; ${GATEWAY_COOKIE}=secret; lang=en`]])
    expect(out.get('cookie')).toBe('theme=dark; lang=en')
  })

  it('compares the gateway cookie name case-insensitively', () => {
    const out = forward([['Cookie', 'a=1;__HOST-GH_RT=secret;b=2']])
    expect(out.get('cookie')).toBe('a=1; b=2')
  })

  it('keeps a cookie whose name merely starts with the gateway cookie name', () => {
    const out = forward([['Cookie', `${GATEWAY_COOKIE}x=1; ${GATEWAY_COOKIE}=secret`]])
    expect(out.get('cookie')).toBe(`${GATEWAY_COOKIE}x=1`)
  })

  it('drops the Cookie header when only the gateway cookie was sent', () => {
    expect(forward([['Cookie', `${GATEWAY_COOKIE}=secret`]]).has('cookie')).toBe(false)
  })

  // Regression: HTTP/2 cookie crumbs arrive as several fields, joined by ', ' (RFC 9113 §8.2.3).
  it('removes the gateway cookie when Cookie arrived as several fields', () => {
    const out = forward([
      ['Cookie', 'a=1'],
      ['Cookie', `${GATEWAY_COOKIE}=secret`],
    ])
    expect(out.get('cookie') ?? '').not.toContain('secret')
  })
})

describe('withoutCookies', () => {
  it('returns the header unchanged when the gateway owns no cookies', () => {
    expect(withoutCookies('a=1;b=2', [])).toBe('a=1;b=2')
  })

  it('removes a bare cookie name and empty pairs', () => {
    expect(withoutCookies(`a=1; ; ${GATEWAY_COOKIE}; b=2`, [GATEWAY_COOKIE])).toBe('a=1; b=2')
  })
})

/** What the client receives: a copy of the origin's headers, sanitized in place. */
function clientResponseHeaders(origin: Headers, gatewayCookies: string[]): Headers {
  const out = new Headers(origin)
  sanitizeResponseHeaders(out, gatewayCookies)
  return out
}

describe('sanitizeResponseHeaders', () => {
  function originHeaders(): Headers {
    const h = new Headers()
    h.append('content-type', 'application/json')
    h.append('cache-control', 'no-store')
    h.append('x-origin', 'kept')
    h.append('set-cookie', 'app=1; Path=/; HttpOnly')
    h.append('set-cookie', `${GATEWAY_COOKIE}=forged; Path=/; Secure`)
    h.append('set-cookie', '__host-GH_RT=; Max-Age=0')
    h.append('set-cookie', 'other=2; Path=/api')
    return h
  }

  it('keeps ordinary headers', () => {
    const out = clientResponseHeaders(originHeaders(), [GATEWAY_COOKIE])
    expect(out.get('content-type')).toBe('application/json')
    expect(out.get('cache-control')).toBe('no-store')
    expect(out.get('x-origin')).toBe('kept')
  })

  it('drops Set-Cookie for the gateway cookie in any case and keeps the others', () => {
    const out = clientResponseHeaders(originHeaders(), [GATEWAY_COOKIE])
    expect(out.getSetCookie()).toEqual(['app=1; Path=/; HttpOnly', 'other=2; Path=/api'])
  })

  it('keeps every Set-Cookie when the gateway owns no cookies', () => {
    expect(clientResponseHeaders(originHeaders(), []).getSetCookie()).toHaveLength(4)
  })

  it.each([
    'Connection',
    'Keep-Alive',
    'Proxy-Authenticate',
    'Proxy-Connection',
    'TE',
    'Trailer',
    'Upgrade',
  ])('drops the hop-by-hop response header %s', (name) => {
    const h = new Headers({ [name]: 'x', 'x-origin': 'kept' })
    expect(names(clientResponseHeaders(h, [GATEWAY_COOKIE]))).toEqual([
      'x-content-type-options',
      'x-origin',
    ])
  })

  it('marks every proxied answer nosniff, over whatever the origin said', () => {
    const h = new Headers({ 'x-content-type-options': 'sniff-away', 'x-origin': 'kept' })
    const out = clientResponseHeaders(h, [])
    expect(out.get('x-content-type-options')).toBe('nosniff')
  })

  it('drops response headers listed in Connection', () => {
    const h = new Headers({ connection: 'X-Hop', 'x-hop': '1', 'x-origin': 'kept' })
    expect(names(clientResponseHeaders(h, []))).toEqual(['x-content-type-options', 'x-origin'])
  })

  // Regression: Connection tokens and header names are compared in the same '_'-folded form.
  it('drops a response header named in Connection with an underscore', () => {
    const h = new Headers({ connection: 'x_hop', x_hop: '1', 'x-origin': 'kept' })
    expect(names(clientResponseHeaders(h, []))).toEqual(['x-content-type-options', 'x-origin'])
  })
})
