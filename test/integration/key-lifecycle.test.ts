// The signing-key lifecycle in the real KeyManager Durable Object, with time moved forward by
// calling advance(now) inside the object: next → current → retired → deleted, tokens signed
// before a rotation still verifying after it, and emergency rotation refusing them at once.

import { env, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { getKeyManager, type KeyManager } from '../../src/keys/key-manager'
import { jwksKvKey, type StoredJwks } from '../../src/keys/key-store'
import { rotateSigningKeys } from '../../src/http/admin/key-rotation'
import { PUBLIC_URL, authEnv, webSession } from '../helpers/auth'
import { expectRefused, installNetwork, send, servicesOf, type Network } from '../helpers/gateway'
import { split } from '../helpers/tokens'

const gw = authEnv()
const settings = servicesOf(gw).keySettings
const DAY_MS = 86_400_000
const sink = {
  queue: undefined,
  waitUntil: () => undefined,
  requestId: null,
  now: () => Date.now(),
}

let net: Network
beforeEach(() => {
  net = installNetwork()
  servicesOf(gw).signer.forget()
})
afterEach(() => vi.restoreAllMocks())

/** Runs `fn` inside the KeyManager instance (its exported class, with its real storage). */
function inKeyManager<R>(
  fn: (km: KeyManager, state: DurableObjectState) => Promise<R>,
): Promise<R> {
  return runInDurableObject(getKeyManager(env.KEYS), (instance, state) =>
    fn(instance as unknown as KeyManager, state),
  )
}

async function advance(now: number) {
  return inKeyManager((km) => km.advance(settings, now))
}

async function publishedKids(): Promise<string[]> {
  const doc = await env.JWKS_CACHE.get<StoredJwks>(jwksKvKey(PUBLIC_URL), 'json')
  return (doc?.keys ?? []).map((k) => (k as { kid: string }).kid)
}

describe('key lifecycle', () => {
  it('publishes the next key before it signs, rotates, retires and finally deletes', async () => {
    const before = (await webSession(gw)).access
    const status = await getKeyManager(env.KEYS).status(settings)
    const current = status.find((k) => k.state === 'current')?.kid as string
    const next = status.find((k) => k.state === 'next')?.kid as string
    expect(split(before).header.kid).toBe(current)
    expect(await publishedKids()).toEqual(expect.arrayContaining([current, next]))

    const rotatedAt = Date.now() + 30 * DAY_MS + 1
    const rotated = await advance(rotatedAt)
    expect(rotated.find((k) => k.kid === next)?.state).toBe('current')
    expect(rotated.find((k) => k.kid === current)?.state).toBe('retired')
    const newNext = rotated.find((k) => k.state === 'next')?.kid as string
    expect(await publishedKids()).toEqual(expect.arrayContaining([current, next, newNext]))

    servicesOf(gw).signer.forget() // as rotateSigningKeys does; other isolates reload within SIGNING_KEY_CACHE_MS
    const after = (await webSession(gw)).access
    expect(split(after).header.kid).toBe(next)
    expect((await send(gw, '/api/echo/x', { token: before })).status).toBe(200)
    expect((await send(gw, '/api/echo/x', { token: after })).status).toBe(200)

    const deleted = await advance(rotatedAt + settings.policy.retireGraceMs + 1)
    expect(deleted.map((k) => k.kid)).not.toContain(current)
    expect(await publishedKids()).not.toContain(current)
  })

  it('refuses a manual rotation until the next key has been published long enough', async () => {
    await getKeyManager(env.KEYS).status(settings)
    const createdAt = Date.now()
    const early = await inKeyManager(async (instance) => {
      await instance.advance(settings, createdAt)
      const rows = await instance.status(settings)
      const nextCreated = rows.find((k) => k.state === 'next')?.createdAt as number
      return instance.rotate(settings, false, nextCreated + 1000)
    })
    expect(early.rotated).toBe(false)
    expect(early.readyAt).toBeGreaterThan(Date.now())
  })

  it('serves the JWKS with every published key and a cache lifetime', async () => {
    await webSession(gw) // a login makes the KeyManager create its keys
    const res = await send(gw, '/.well-known/jwks.json')
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('public, max-age=300')
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] }
    expect(keys.length).toBeGreaterThanOrEqual(2)
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' })
      expect(key.d).toBeUndefined()
    }
    const meta = (await (
      await send(gw, '/.well-known/oauth-authorization-server')
    ).json()) as Record<string, unknown>
    expect(meta).toMatchObject({
      issuer: PUBLIC_URL,
      jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
    })
  })

  it('stores private keys only sealed', async () => {
    await webSession(gw) // a login makes the KeyManager create its keys
    const rows = await inKeyManager(async (_km, state) =>
      state.storage.sql.exec('SELECT public_jwk, sealed_private FROM signing_keys').toArray(),
    )
    for (const row of rows) {
      expect(String(row.sealed_private)).not.toContain('"d"')
      expect(JSON.parse(String(row.public_jwk)).d).toBeUndefined()
    }
  })
})

describe('emergency rotation', () => {
  it('refuses tokens signed by the removed key at once and signs with a new one', async () => {
    const compromised = (await webSession(gw)).access
    expect((await send(gw, '/api/echo/x', { token: compromised })).status).toBe(200)
    const result = await rotateSigningKeys(servicesOf(gw), true, sink)
    expect(result.removed).toBe(split(compromised).header.kid)
    expect(await publishedKids()).not.toContain(result.removed)
    await expectRefused(net, gw, '/api/echo/x', { token: compromised }, 401)
    const fresh = (await webSession(gw)).access
    expect(split(fresh).header.kid).toBe(result.current)
    expect((await send(gw, '/api/echo/x', { token: fresh })).status).toBe(200)
  })
})
