import { describe, expect, it } from 'vitest'
import { pathHazard, queryHazard, splitRequestTarget } from '../../../src/proxy/request-target'

describe('splitRequestTarget', () => {
  it.each([
    ['https://gw.test/api/echo', '/api/echo', ''],
    ['https://gw.test/api/echo?a=1&b=2', '/api/echo', '?a=1&b=2'],
    ['https://gw.test/api/echo#frag', '/api/echo', ''],
    ['https://gw.test/api/echo?a=1#frag', '/api/echo', '?a=1'],
    ['https://gw.test/api/echo#frag?a=1', '/api/echo', ''],
    ['https://gw.test/api/echo?next=/a/b#x/y', '/api/echo', '?next=/a/b'],
    ['https://gw.test/', '/', ''],
    ['https://gw.test/?', '/', '?'],
    ['https://gw.test', '/', ''],
    ['https://gw.test:8443/a/%2e%2e/b?q=%2F', '/a/%2e%2e/b', '?q=%2F'],
    ['http://127.0.0.1:8787/api//x?y', '/api//x', '?y'],
  ])('splits %s into its raw path and query', (url, path, search) => {
    expect(splitRequestTarget(url)).toEqual({ path, search })
  })

  it('keeps the path exactly as Request.url serialises it, without decoding', () => {
    const url = new Request('https://gw.test/api/%7Euser/%20x?q=%41').url
    expect(splitRequestTarget(url)).toEqual({ path: '/api/%7Euser/%20x', search: '?q=%41' })
  })

  it('reads the query of a Request.url with no explicit path', () => {
    const url = new Request('https://gw.test?next=/admin').url
    expect(splitRequestTarget(url)).toEqual({ path: '/', search: '?next=/admin' })
  })

  // Regression: a URL string with no '/' before its query has the path '/'.
  it('takes the path of a URL with no path before its query to be /', () => {
    expect(splitRequestTarget('https://gw.test?next=/admin')).toEqual({
      path: '/',
      search: '?next=/admin',
    })
  })
})

describe('pathHazard', () => {
  it.each([
    '/',
    '/api/echo',
    '/api/echo/',
    '/api/echo/a-b_c.d~e',
    '/api/echo/%20x',
    '/api/echo/%21%2A%7B',
    '/api/x|y',
    '/api/.well-known/x',
    '/api/a..b',
    '/api/.../x',
    "/api/!$&'()*+,=:@",
  ])('accepts %s', (path) => {
    expect(pathHazard(path)).toBeNull()
  })

  it.each([
    ['a parent segment', '/a/../b'],
    ['a current segment', '/a/./b'],
    ['a trailing parent segment', '/a/..'],
    ['a trailing current segment', '/a/.'],
    ['a root parent segment', '/..'],
    ['a root current segment', '/.'],
    ['a leading empty segment', '//a'],
    ['an inner empty segment', '/a//b'],
    ['a trailing empty segment', '/a//'],
    ['an encoded parent segment', '/a/%2e%2e/b'],
    ['a half-encoded parent segment', '/a/.%2e/b'],
    ['an upper-case encoded dot', '/a/%2E/b'],
    ['an encoded slash', '/a%2fb'],
    ['an upper-case encoded slash', '/a%2Fb'],
    ['an encoded backslash', '/a%5cb'],
    ['an upper-case encoded backslash', '/a%5Cb'],
    ['a raw backslash', '/a\\b'],
    ['a raw semicolon', '/a;b'],
    ['an encoded semicolon', '/a%3bb'],
    ['an upper-case encoded semicolon', '/a%3Bb'],
    ['an encoded NUL', '/a%00b'],
    ['a double-encoded slash', '/a%252fb'],
    ['a double-encoded dot', '/a/%252e%252e/b'],
    ['an invalid escape', '/a%zz'],
    ['a truncated escape', '/a%2'],
    ['a lone percent', '/a%'],
    ['a relative path', 'a'],
    ['an empty path', ''],
    ['a raw NUL', '/a\u0000b'],
    ['a raw newline', '/a\nb'],
    ['a raw carriage return', '/a\rb'],
    ['a raw tab', '/a\tb'],
    ['a raw escape character', '/a\u001bb'],
    ['a raw DEL', '/a\u007fb'],
    ['a raw space', '/a b'],
    ['a raw double quote', '/a"b'],
    ['raw angle brackets', '/a<b>'],
    // RFC 3986 §2.3: unreserved characters never need encoding; encoded, they only hide a path.
    ['an encoded lower-case letter', '/api/account/%61dmin'],
    ['an encoded upper-case letter', '/api/account/%41DMIN'],
    ['an encoded letter in upper-case hex', '/api/account/%6Fk'],
    ['an encoded digit', '/api/v%31/x'],
    ['an encoded hyphen', '/api/a%2db'],
    ['an encoded underscore', '/api/a%5Fb'],
    ['an encoded tilde', '/api/%7euser'],
  ])('rejects %s', (_label, path) => {
    expect(pathHazard(path)).not.toBeNull()
  })

  // Regression: C1 controls (U+0080–U+009F) are control characters too.
  it('rejects a raw C1 control character (NEL)', () => {
    expect(pathHazard('/a\u0085b')).not.toBeNull()
  })
})

describe('pathHazard and percent-encoded UTF-8', () => {
  it.each(['/caf%C3%A9', '/%E2%9C%93', '/a%20b'])('accepts valid UTF-8 %s', (path) => {
    expect(pathHazard(path)).toBeNull()
  })

  it.each(['/api/public/%c0%ae%c0%ae/echo', '/a%C0%AF', '/a%e0%80%ae', '/a%80', '/a%ff', '/a%C3'])(
    'refuses an overlong or invalid UTF-8 encoding %s',
    (path) => {
      expect(pathHazard(path)).not.toBeNull()
    },
  )
})

describe('queryHazard', () => {
  it.each(['', '?', '?a=1&b=2', '?q=%20x', '?next=/a/../b', '?q=%2F%5C', '?q=%0A'])(
    'accepts %j',
    (search) => {
      expect(queryHazard(search)).toBeNull()
    },
  )

  it.each([
    ['a raw NUL', '?a=\u0000'],
    ['a raw newline', '?a=1\nb'],
    ['a raw carriage return', '?a=1\r'],
    ['a raw tab', '?a=\t'],
    ['a raw unit separator', '?a=\u001f'],
    ['a raw DEL', '?a=\u007f'],
    ['an encoded NUL', '?a=%00'],
    ['an encoded NUL after other escapes', '?a=%20&b=x%00y'],
  ])('rejects %s', (_label, search) => {
    expect(queryHazard(search)).not.toBeNull()
  })
})
