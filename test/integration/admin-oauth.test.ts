// The admin API (gatehouse:admin, tier critical) and the RFC 7009 / RFC 7662 endpoints,
// including garbage input: revocation answers 200 and reveals nothing; introspection says
// {"active": false} and nothing more for anything not active.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  adminAccess,
  authEnv,
  json,
  login,
  operatorAccess,
  refreshWeb,
  webSession,
} from '../helpers/auth'
import { expectRefused, installNetwork, send, type Network } from '../helpers/gateway'
import { b64url, split } from '../helpers/tokens'

const gw = authEnv()
let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

function form(fields: Record<string, string>, token?: string): RequestInit & { token?: string } {
  return {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    ...(token === undefined ? {} : { token }),
  }
}

describe('admin API', () => {
  it('requires an access token with gatehouse:admin', async () => {
    expect((await send(gw, '/admin/sessions?sub=x')).status).toBe(401)
    const { access } = await webSession(gw)
    const res = await send(gw, '/admin/sessions?sub=x', { token: access })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toContain('scope="gatehouse:admin"')
  })

  it('requires gatehouse:operator for the signing keys, whatever else the token holds', async () => {
    const res = await send(gw, '/admin/keys', { token: await adminAccess(gw) })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toContain('scope="gatehouse:operator"')
    expect((await send(gw, '/admin/keys', { token: await operatorAccess(gw) })).status).toBe(200)
  })

  it('stops honouring a revoked admin token on the next request', async () => {
    const token = await operatorAccess(gw)
    expect((await send(gw, '/admin/keys', { token })).status).toBe(200)
    expect(
      (await send(gw, '/admin/revocations', { ...json({ jti: split(token).payload.jti }), token }))
        .status,
    ).toBe(200)
    expect((await send(gw, '/admin/keys', { token })).status).toBe(401)
  })

  it('creates users who can log in, refuses duplicates and weak passwords', async () => {
    const token = await adminAccess(gw)
    const user = {
      tenant: 'acme',
      username: `new-${crypto.randomUUID().slice(0, 6)}`,
      password: 'correct horse battery',
    }
    const created = await send(gw, '/admin/users', {
      ...json({ ...user, scopes: ['echo:read'] }),
      token,
    })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    expect((await login(gw, { id, ...user })).status).toBe(200)
    expect(
      (await send(gw, '/admin/users', { ...json({ ...user, scopes: [] }), token })).status,
    ).toBe(409)
    expect(
      (
        await send(gw, '/admin/users', {
          ...json({ ...user, username: 'weak', password: 'short' }),
          token,
        })
      ).status,
    ).toBe(400)
    expect(
      (
        await send(gw, '/admin/users', {
          ...json({ ...user, username: 'bad', scopes: ['a b'] }),
          token,
        })
      ).status,
    ).toBe(400)
  })

  it('lists a user’s sessions without token material and ends one', async () => {
    const token = await adminAccess(gw)
    const s = await webSession(gw)
    const list = await send(gw, `/admin/sessions?sub=${s.user.id}&tenant=acme`, { token })
    const body = (await list.json()) as { sessions: Record<string, unknown>[] }
    expect(body.sessions).toHaveLength(1)
    expect(JSON.stringify(body)).not.toContain('ghr1.')
    const sid = body.sessions[0]?.sid as string
    expect((await send(gw, `/admin/sessions/${sid}`, { method: 'DELETE', token })).status).toBe(204)
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
    expect((await send(gw, `/admin/sessions/${sid}x`, { method: 'DELETE', token })).status).toBe(
      404,
    )
  })

  it('rotates keys in an emergency and reports the removed kid', async () => {
    const token = await operatorAccess(gw)
    const res = await send(gw, '/admin/keys/rotate', { ...json({ emergency: true }), token })
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    expect(body.removed_kid).toBe(split(token).header.kid)
    // The admin token was signed by the removed key: refused at once.
    expect((await send(gw, '/admin/keys', { token })).status).toBe(401)
  })

  it('removes a named key in an emergency, whatever its state, and lists keys in seconds', async () => {
    const token = await operatorAccess(gw)
    const before = (await (await send(gw, '/admin/keys', { token })).json()) as {
      keys: { kid: string; state: string; created_at: number }[]
    }
    const next = before.keys.find((k) => k.state === 'next') as { kid: string; created_at: number }
    expect(next.created_at).toBeLessThan(Date.now() / 1000 + 5) // seconds, not milliseconds
    const res = await send(gw, '/admin/keys/rotate', {
      ...json({ emergency: true, kid: next.kid }),
      token,
    })
    expect(await res.json()).toMatchObject({ rotated: true, removed_kid: next.kid })
    const jwks = (await (await send(gw, '/.well-known/jwks.json')).json()) as {
      keys: { kid: string }[]
    }
    expect(jwks.keys.map((k) => k.kid)).not.toContain(next.kid)
    const after = (await (await send(gw, '/admin/keys', { token })).json()) as {
      keys: { state: string }[]
    }
    expect(after.keys.filter((k) => k.state === 'next')).toHaveLength(1)
    const unknown = await send(gw, '/admin/keys/rotate', {
      ...json({ emergency: true, kid: 'nope' }),
      token,
    })
    expect(unknown.status).toBe(404)
  })

  it('answers garbage bodies with 400, not 500', async () => {
    const token = await adminAccess(gw)
    for (const body of ['{}', '[]', '{"jti":5}', 'not json']) {
      const res = await send(gw, '/admin/revocations', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        token,
      })
      expect(res.status).toBe(400)
    }
  })
})

describe('RFC 7009 token revocation', () => {
  it('revoking a refresh token ends its session, access tokens included', async () => {
    const s = await webSession(gw)
    const res = await send(
      gw,
      '/auth/revoke',
      form({ token: s.refresh, token_type_hint: 'refresh_token' }),
    )
    expect(res.status).toBe(200)
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
    await expectRefused(net, gw, '/api/secure/x', { token: s.access }, 401)
  })

  it('revoking an access token kills that token only', async () => {
    const s = await webSession(gw)
    expect((await send(gw, '/auth/revoke', form({ token: s.access }))).status).toBe(200)
    await expectRefused(net, gw, '/api/secure/x', { token: s.access }, 401)
    expect((await refreshWeb(gw, s.refresh)).status).toBe(200)
  })

  it('answers 200 for unknown, garbage and foreign tokens, and 400 without a token', async () => {
    for (const token of [
      'garbage',
      'ghr1.x.y',
      `ghr1.${'A'.repeat(22)}.${'B'.repeat(43)}`,
      'a.b.c',
      'x'.repeat(5000),
    ]) {
      expect((await send(gw, '/auth/revoke', form({ token }))).status).toBe(200)
    }
    expect((await send(gw, '/auth/revoke', form({}))).status).toBe(400)
    expect(
      (
        await send(gw, '/auth/revoke', {
          method: 'POST',
          body: 'token=x',
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBe(400)
  })
})

describe('RFC 7662 token introspection', () => {
  it('is for administrators only', async () => {
    const s = await webSession(gw)
    expect((await send(gw, '/auth/introspect', form({ token: s.access }))).status).toBe(401)
    expect((await send(gw, '/auth/introspect', form({ token: s.access }, s.access))).status).toBe(
      403,
    )
  })

  it('describes an active access token and an active refresh token', async () => {
    const token = await adminAccess(gw)
    const s = await webSession(gw)
    const access = (await (
      await send(gw, '/auth/introspect', form({ token: s.access }, token))
    ).json()) as Record<string, unknown>
    expect(access).toMatchObject({
      active: true,
      sub: s.user.id,
      scope: 'echo:read echo:write',
      token_type: 'Bearer',
    })
    const refresh = (await (
      await send(gw, '/auth/introspect', form({ token: s.refresh }, token))
    ).json()) as Record<string, unknown>
    expect(refresh).toMatchObject({ active: true, token_type: 'refresh_token', sub: s.user.id })
  })

  it('says only {"active": false} for revoked, rotated, tampered and garbage tokens', async () => {
    const token = await adminAccess(gw)
    const s = await webSession(gw)
    await refreshWeb(gw, s.refresh) // rotates: the old refresh token is no longer active
    await send(gw, '/auth/revoke', form({ token: s.access }))
    const { header } = split(s.access)
    for (const candidate of [s.access, s.refresh, 'garbage', `${header.kid}`]) {
      const res = await send(gw, '/auth/introspect', form({ token: candidate }, token))
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ active: false })
    }
  })

  it('says only {"active": false} for a live token whose claims were edited', async () => {
    const token = await adminAccess(gw)
    const s = await webSession(gw)
    const introspect = async (candidate: string) =>
      (await send(gw, '/auth/introspect', form({ token: candidate }, token))).json()
    // The control: the token itself is live (unexpired, unrevoked) and active.
    expect(await introspect(s.access)).toMatchObject({ active: true, sub: s.user.id })
    const { h, p, payload } = split(s.access)
    for (const edit of [
      { scope: `${payload.scope as string} gatehouse:admin` },
      { sub: 'usr_someone_else' },
      { exp: (payload.exp as number) + 60 },
    ]) {
      const tampered = `${h}.${b64url(JSON.stringify({ ...payload, ...edit }))}.${split(s.access).s}`
      expect(tampered.split('.')[1]).not.toBe(p)
      expect(await introspect(tampered), JSON.stringify(edit)).toEqual({ active: false })
    }
  })
})
