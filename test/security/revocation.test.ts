// Revocation variants: after a logout, an RFC 7009 revocation or an admin revocation, the very
// next request on a route that checks revocation (critical: /api/secure and the admin API) is
// refused; a `low` route keeps accepting until expiry, as DESIGN.md's tiers state, and says so to
// the origin. No re-encoding of a revoked token slips past either kind of route: one that breaks
// the strict encoding is refused as malformed everywhere, and one re-signed by its issuer (the
// demo third-party issuer, whose key the tests hold) is still the same revoked token. Every
// refusal asserts the reason the gateway logged.

import { describe, expect, it } from 'vitest'
import {
  DEMO,
  DEMO_IDP,
  SUBJECT,
  b64url,
  call,
  createUser,
  demoIdpClaims,
  demoIdpHeader,
  expectAccepted,
  expectRefused,
  postJson,
  sessionOf,
  signDemoIdpRaw,
  split,
  unb64url,
  withBearer,
  type Refusal,
} from '../helpers/stack/attack-kit'

const logout = (token: string) =>
  call('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } })

/** A fresh alice session whose access token already passed the critical route once. */
async function liveSession(device = 'revocation-phone') {
  const s = await sessionOf(DEMO.alice, device)
  await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', s.accessToken))
  return s
}

describe('logout', () => {
  it('refuses the logged-out token on the critical route at once', async () => {
    const s = await liveSession()
    expect((await logout(s.accessToken)).status).toBe(204)
    await expectRefused('revoked', () => withBearer('/api/secure/x', s.accessToken), {
      detail: 'revoked by sid',
    })
  })

  it('keeps serving the logged-out token on the low route, and tells the origin it did not check', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    const echo = await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', s.accessToken))
    expect(echo.headers['x-auth-revocation']).toBe('skipped; tier=low')
  })

  it('refuses the refresh token of a logged-out session', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    await expectRefused('invalid_grant', () =>
      postJson('/auth/refresh', { refresh_token: s.refreshToken, device_id: 'revocation-phone' }),
    )
  })

  it('ends the session when logging out with the refresh token instead', async () => {
    const s = await liveSession()
    const res = await postJson('/auth/logout', {
      refresh_token: s.refreshToken,
      device_id: 'revocation-phone',
    })
    expect(res.status).toBe(204)
    await expectRefused('revoked', () => withBearer('/api/secure/x', s.accessToken), {
      detail: 'revoked by sid',
    })
  })

  it('leaves another session of the same user untouched', async () => {
    const a = await liveSession('phone-a')
    const b = await liveSession('phone-b')
    await logout(a.accessToken)
    await expectRefused('revoked', () => withBearer('/api/secure/x', a.accessToken))
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', b.accessToken))
  })

  it('is idempotent: a second logout with the same token changes nothing and reveals nothing', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    expect((await logout(s.accessToken)).status).toBe(204)
    await expectRefused('revoked', () => withBearer('/api/secure/x', s.accessToken))
  })

  it('refuses a logged-out admin token on the admin API (critical)', async () => {
    const s = await sessionOf(DEMO.admin, 'revocation-admin')
    expect((await withBearer('/admin/keys', s.accessToken)).status).toBe(200)
    await logout(s.accessToken)
    await expectRefused('revoked', () => withBearer('/admin/keys', s.accessToken))
  })
})

describe('RFC 7009 revocation', () => {
  const revoke = (token: string) =>
    call('/auth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(token)}`,
    })

  it('revokes one access token by jti; the session’s next token still works', async () => {
    const s = await liveSession()
    expect((await revoke(s.accessToken)).status).toBe(200)
    await expectRefused('revoked', () => withBearer('/api/secure/x', s.accessToken), {
      detail: 'revoked by jti',
    })
    const refreshed = await postJson('/auth/refresh', {
      refresh_token: s.refreshToken,
      device_id: 'revocation-phone',
    })
    const next = (JSON.parse(refreshed.body) as { access_token: string }).access_token
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', next))
  })

  it('ends the whole session when given the refresh token', async () => {
    const s = await liveSession()
    expect((await revoke(s.refreshToken)).status).toBe(200)
    await expectRefused('revoked', () => withBearer('/api/secure/x', s.accessToken), {
      detail: 'revoked by sid',
    })
  })

  it('answers 200 for garbage without revoking anything (nothing revealed)', async () => {
    const s = await liveSession()
    expect((await revoke('not-a-token')).status).toBe(200)
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', s.accessToken))
  })
})

describe('a revoked token re-encoded', () => {
  const SECURE = '/api/secure/x'
  const LOW = '/api/echo/x'
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

  let operator: Promise<string> | null = null
  /** The demo admin holds gatehouse:operator, which may revoke in the demo issuer's tenant. */
  const operatorToken = () =>
    (operator ??= sessionOf(DEMO.admin, 'revocation-operator').then((s) => s.accessToken))

  interface Revoked {
    token: string
    header: Record<string, unknown>
    claims: Record<string, unknown>
  }

  /**
   * A demo-issuer token, served once on the critical route, then revoked through the admin API —
   * by its jti, or every token of its subject — and refused as revoked on the critical route.
   */
  async function revokedDemoToken(by: 'jti' | 'subject'): Promise<Revoked> {
    const header = demoIdpHeader()
    const claims = demoIdpClaims()
    const token = signDemoIdpRaw(header, claims)
    await expectAccepted(claims.sub as string, () => withBearer(SECURE, token))
    const who = { sub: claims.sub, tenant: DEMO_IDP.tenant, iss: DEMO_IDP.issuer }
    const res = await postJson(
      '/admin/revocations',
      by === 'jti' ? { ...who, jti: claims.jti } : who,
      {
        authorization: `Bearer ${await operatorToken()}`,
      },
    )
    expect(res.status).toBe(200)
    await expectRefused('revoked', () => withBearer(SECURE, token), { detail: `revoked by ${by}` })
    return { token, header, claims }
  }

  // Re-encodings an attacker can make of the very bytes they hold: the strict parser refuses each
  // as malformed on every route, before the signature (which would verify) or revocation.
  const broken: Array<[string, (r: Revoked) => string, Refusal, RegExp]> = [
    ['with a padded signature', (r) => `${r.token}=`, 'malformed', /^signature encoding$/],
    [
      'with a non-canonical last signature character',
      (r) => {
        const last = r.token.at(-1) as string
        return r.token.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) ^ 1]
      },
      'malformed',
      /^signature encoding$/,
    ],
    [
      'with its signature in standard base64',
      (r) => {
        const t = split(r.token)
        return `${t.h}.${t.p}.${unb64url(t.s).toString('base64')}`
      },
      'malformed',
      /^signature encoding$/,
    ],
    [
      'with a padded header segment',
      (r) => {
        const t = split(r.token)
        return `${t.h}=.${t.p}.${t.s}`
      },
      'invalid_request',
      /^not a single Bearer or DPoP credential$/,
    ],
  ]
  const brokenRows = broken.flatMap(([name, fn, reason, detail]) =>
    [SECURE, LOW].map((path) => [name, path, fn, reason, detail] as const),
  )

  it.each(brokenRows)('refuses it %s on %s', async (_name, path, reencode, reason, detail) => {
    const revoked = await revokedDemoToken('jti')
    await expectRefused(reason, () => withBearer(path, reencode(revoked)), { detail })
  })

  // Re-encodings only the issuer could make (re-signed): the same token, so still revoked.
  const resigned: Array<[string, 'jti' | 'subject', (r: Revoked) => string]> = [
    [
      'with its header re-serialised with spaces and re-signed',
      'jti',
      (r) => signDemoIdpRaw(JSON.stringify(r.header, null, 1), r.claims),
    ],
    [
      'with its claims reordered and re-signed',
      'jti',
      (r) => signDemoIdpRaw(r.header, Object.fromEntries(Object.entries(r.claims).reverse())),
    ],
    [
      'with a fresh jti, re-signed, after a revocation of its subject',
      'subject',
      (r) => signDemoIdpRaw(r.header, { ...r.claims, jti: crypto.randomUUID() }),
    ],
  ]

  it.each(resigned)('refuses it %s on the critical route', async (_name, by, reencode) => {
    const revoked = await revokedDemoToken(by)
    await expectRefused('revoked', () => withBearer(SECURE, reencode(revoked)), {
      detail: `revoked by ${by}`,
    })
  })

  it.each(resigned)(
    'serves it %s on the low route exactly as the revoked original (the tier skips revocation)',
    async (_name, by, reencode) => {
      const revoked = await revokedDemoToken(by)
      for (const token of [revoked.token, reencode(revoked)]) {
        const echo = await expectAccepted(revoked.claims.sub as string, () =>
          withBearer(LOW, token),
        )
        expect(echo.headers['x-auth-revocation']).toBe('skipped; tier=low')
      }
    },
  )

  it('refuses a revoked token whose jti was edited (signature kept) for its signature', async () => {
    const revoked = await revokedDemoToken('jti')
    const t = split(revoked.token)
    const edited = `${t.h}.${b64url(JSON.stringify({ ...t.payload, jti: crypto.randomUUID() }))}.${t.s}`
    for (const path of [SECURE, LOW]) {
      await expectRefused('bad_signature', () => withBearer(path, edited))
    }
  })
})

describe('admin revocation', () => {
  it('revokes every token of a subject at once, on every critical route', async () => {
    const user = await createUser('revoked-subject', ['echo:read'])
    const a = await sessionOf(user, 'a')
    const b = await sessionOf(user, 'b')
    await expectAccepted(user.id, () => withBearer('/api/secure/x', a.accessToken))
    const admin = await sessionOf(DEMO.admin, 'revocation-admin-2')
    const res = await postJson(
      '/admin/revocations',
      { sub: user.id, tenant: 'demo' },
      { authorization: `Bearer ${admin.accessToken}` },
    )
    expect(res.status).toBe(200)
    for (const token of [a.accessToken, b.accessToken]) {
      await expectRefused('revoked', () => withBearer('/api/secure/x', token))
    }
  })

  it('refuses the revocation API to a user without gatehouse:admin', async () => {
    const s = await sessionOf(DEMO.alice, 'revocation-phone')
    await expectRefused(
      'insufficient_scope',
      () =>
        postJson(
          '/admin/revocations',
          { sub: SUBJECT.admin, tenant: 'demo' },
          { authorization: `Bearer ${s.accessToken}` },
        ),
      { scope: 'gatehouse:admin' },
    )
  })
})
