// Login: no account enumeration by status, body or headers; brute force slowed to 429 with
// Retry-After per username (in any spelling) and per client IP; the password compared exactly.
// Timing is covered as "the same number of hashes" by test/integration/auth-login.test.ts
// (one Argon2 run for an unknown user, a wrong password and a disabled account alike); over
// HTTP the suite asserts only what a client can compare reliably: status, body and headers.
// Every failing attempt here targets a throwaway user created through the admin API.

import { describe, expect, it } from 'vitest'
import {
  GATEWAY,
  call,
  createUser,
  expectRejected,
  freshIp,
  postJson,
  sessionOf,
  tryLogin,
  withBearer,
  type Answer,
  type CreatedUser,
} from '../helpers/stack/attack-kit'

const USER_FAILURES_ALLOWED = 5
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** What an answer reveals: status, body, and header names other than per-request ones. */
function fingerprint(res: Answer) {
  const names: string[] = []
  res.headers.forEach((_value, name) => {
    if (!['x-request-id', 'date'].includes(name)) names.push(name)
  })
  return { status: res.status, body: res.body, names: names.sort() }
}

/**
 * Fails logins until the gateway answers 429 with Retry-After ≥ `minRetry` seconds (waiting out
 * shorter blocks, which doubles the next one). Returns the attempts answered 401 before the
 * first 429, and that last 429.
 */
async function failUntilBlocked(
  attempt: (i: number) => Promise<Answer>,
  minRetry = 2,
): Promise<{ evaluatedBeforeBlock: number; blocked: Answer }> {
  let evaluatedBeforeBlock = -1
  for (let i = 0; i < 40; i++) {
    const res = await attempt(i)
    if (res.status === 401) continue
    expect(res.status).toBe(429)
    if (evaluatedBeforeBlock < 0) evaluatedBeforeBlock = i
    const retry = Number(res.headers.get('retry-after'))
    expect(retry).toBeGreaterThanOrEqual(1)
    if (retry >= minRetry) return { evaluatedBeforeBlock, blocked: res }
    await sleep(retry * 1000)
  }
  throw new Error('never throttled')
}

describe('no enumeration', () => {
  it('answers an unknown user exactly like a wrong password', async () => {
    const user = await createUser('enum')
    const wrong = await expectRejected(401, () =>
      tryLogin({ username: user.username, password: 'nope-nope' }),
    )
    const unknown = await expectRejected(401, () =>
      tryLogin({ username: `ghost-${crypto.randomUUID()}`, password: 'nope-nope' }),
    )
    expect(fingerprint(unknown)).toEqual(fingerprint(wrong))
    expect(JSON.parse(wrong.body)).toEqual({
      error: 'invalid_grant',
      error_description: 'The credentials are invalid',
    })
    expect(wrong.headers.get('set-cookie')).toBeNull()
  })

  it('answers an unknown tenant exactly like a wrong password', async () => {
    const user = await createUser('enum')
    const wrong = await expectRejected(401, () =>
      tryLogin({ username: user.username, password: 'nope-nope' }),
    )
    const other = await expectRejected(401, () =>
      tryLogin({ tenant: 'no-such-tenant', username: user.username, password: user.password }),
    )
    expect(fingerprint(other)).toEqual(fingerprint(wrong))
  })

  it('answers a disabled account, even with its right password, exactly like a wrong password', async () => {
    const user = await createUser('enum')
    const admin = await sessionOf(
      { username: 'admin', password: 'admin-demo-password' },
      'enum-admin',
    )
    const disabled = await postJson(
      `/admin/users/${user.id}/disable`,
      {},
      { authorization: `Bearer ${admin.accessToken}` },
    )
    expect(disabled.status).toBe(200)
    const wrong = await expectRejected(401, () =>
      tryLogin({ username: user.username, password: 'nope-nope' }),
    )
    const right = await expectRejected(401, () => tryLogin(user))
    expect(fingerprint(right)).toEqual(fingerprint(wrong))
  })

  it('answers a web login failure without a cookie, like a mobile one', async () => {
    const user = await createUser('enum')
    const web = await expectRejected(401, () =>
      tryLogin(
        { username: user.username, password: 'nope-nope' },
        { client: 'web', device_id: undefined },
        { origin: GATEWAY },
      ),
    )
    expect(web.headers.get('set-cookie')).toBeNull()
    expect(JSON.parse(web.body)).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('brute force', () => {
  it('blocks a username from one network after its allowed failures, even for the right password, but not its owner elsewhere', async () => {
    const user = await createUser('brute')
    const attacker = { 'cf-connecting-ip': freshIp() }
    const { evaluatedBeforeBlock } = await failUntilBlocked(() =>
      tryLogin({ username: user.username, password: `guess-${crypto.randomUUID()}` }, {}, attacker),
    )
    expect(evaluatedBeforeBlock).toBeGreaterThanOrEqual(USER_FAILURES_ALLOWED + 1)
    expect(evaluatedBeforeBlock).toBeLessThanOrEqual(USER_FAILURES_ALLOWED + 2)
    const right = await expectRejected(429, () => tryLogin(user, {}, attacker))
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(right.body)).toMatchObject({ error: 'slow_down' })
    // The owner, from another network, is not locked out by the attack (targeted lockout).
    expect((await tryLogin(user)).status).toBe(200)
  })

  it('counts every spelling of a username (case, full-width) against one throttle', async () => {
    const user = await createUser('brute')
    const spellings = [
      user.username.toUpperCase(),
      user.username,
      [...user.username]
        .map((c) => (/[a-z]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
        .join(''),
    ]
    const attacker = { 'cf-connecting-ip': freshIp() }
    const { evaluatedBeforeBlock } = await failUntilBlocked((i) =>
      tryLogin({ username: spellings[i % 3] as string, password: `guess-${i}` }, {}, attacker),
    )
    expect(evaluatedBeforeBlock).toBeLessThanOrEqual(USER_FAILURES_ALLOWED + 2)
    await expectRejected(429, () => tryLogin(user, {}, attacker))
  })

  it('blocks one client IP that tries many usernames, and only that IP', async () => {
    const ip = freshIp()
    const { evaluatedBeforeBlock } = await failUntilBlocked((i) =>
      tryLogin(
        { username: `spray-${i}-${crypto.randomUUID()}`, password: 'Winter2026!' },
        {},
        { 'cf-connecting-ip': ip },
      ),
    )
    expect(evaluatedBeforeBlock).toBeGreaterThanOrEqual(21)
    const user = await createUser('spray-victim')
    await expectRejected(429, () => tryLogin(user, {}, { 'cf-connecting-ip': ip }))
    expect((await tryLogin(user, {}, { 'cf-connecting-ip': freshIp() })).status).toBe(200)
  })

  // Regression: attempts are reserved atomically before the hash (one D1 batch per attempt), so a
  // burst of concurrent guesses gets no more than the free attempts plus one.
  it('evaluates no more than the allowed failures when guesses arrive concurrently', async () => {
    const user = await createUser('burst')
    const attacker = { 'cf-connecting-ip': freshIp() }
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tryLogin({ username: user.username, password: `guess-${i}` }, {}, attacker),
      ),
    )
    const evaluated = answers.filter((a) => a.status === 401).length
    expect(answers.every((a) => a.status === 401 || a.status === 429)).toBe(true)
    expect(evaluated).toBeLessThanOrEqual(USER_FAILURES_ALLOWED + 1)
  })
})

describe('the password is compared exactly', () => {
  const PASSWORD = 'Correct-Horse-9-Battery-é'
  const variants: Array<[string, (p: string) => string]> = [
    ['with a leading space', (p) => ` ${p}`],
    ['with a trailing space', (p) => `${p} `],
    ['with a trailing newline', (p) => `${p}\n`],
    ['with a trailing NUL', (p) => `${p}\u0000`],
    ['truncated by one character', (p) => p.slice(0, -1)],
    ['truncated to 8 characters', (p) => p.slice(0, 8)],
    ['in upper case', (p) => p.toUpperCase()],
    ['in lower case', (p) => p.toLowerCase()],
    ['doubled', (p) => p + p],
    ['with é decomposed (NFD)', (p) => p.normalize('NFD')],
    ['with a Cyrillic lookalike letter', (p) => p.replace('o', '\u043e')],
    ['in full-width letters', (p) => p.replace('C', '\uff23')],
  ]

  it.each(variants)(
    'refuses the password %s, while the exact one works',
    async (_name, variant) => {
      const user: CreatedUser = await createUser('exact', ['echo:read'], PASSWORD)
      await expectRejected(401, () =>
        tryLogin({ username: user.username, password: variant(PASSWORD) }),
      )
      expect((await tryLogin(user)).status).toBe(200)
    },
  )
})

describe('login requests', () => {
  it.each([
    ['from a foreign Origin', { origin: 'https://attacker.example' }],
    ['from a cross-site fetch', { origin: GATEWAY, 'sec-fetch-site': 'cross-site' }],
  ])('refuses a browser login %s (login CSRF) with 403', async (_name, headers) => {
    const user = await createUser('csrf')
    await expectRejected(403, () =>
      tryLogin(user, { client: 'web', device_id: undefined }, headers),
    )
  })

  it.each<[string, () => Promise<Answer>]>([
    [
      'a mobile login without a device id',
      () => tryLogin({ username: 'x', password: 'y' }, { device_id: undefined }),
    ],
    [
      'a password over 1 024 characters',
      () => tryLogin({ username: 'x', password: 'p'.repeat(1025) }),
    ],
    [
      'a username that is an array',
      () => postJson('/auth/login', { tenant: 'demo', username: ['admin'], password: 'x' }),
    ],
    ['a body that is a JSON array', () => postJson('/auth/login', [{ tenant: 'demo' }])],
    [
      'a text/plain body',
      () =>
        call('/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: '{}',
        }),
    ],
  ])('refuses %s with 400', async (_name, act) => {
    await expectRejected(400, act)
  })

  it('ignores a scope asked for at login: the token carries only the user’s scopes', async () => {
    const user = await createUser('scope', ['echo:read'])
    const res = await tryLogin(user, { scope: 'echo:read gatehouse:admin' })
    expect(JSON.parse(res.body)).toMatchObject({ scope: 'echo:read' })
    const token = (JSON.parse(res.body) as { access_token: string }).access_token
    await expectRejected(403, () => withBearer('/admin/keys', token))
  })
})
