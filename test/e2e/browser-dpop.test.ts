// DPoP in the browser (RFC 9449), proven in real Chromium against the real `npm start` stack
// through the demo page and gatehouse/client: a login binds the session to a key the page keeps
// in IndexedDB and cannot export; every API call carries a fresh proof; a reload keeps the
// session without a new login; two tabs refreshing at once cost one rotation (and without Web
// Locks and BroadcastChannel each tab still refreshes for itself); and a token taken out of the
// page is refused anywhere else — as Bearer, and with a proof by any other key.

import { createHash } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import type { Route } from 'playwright-core'
import { describe, expect, inject, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { SUBJECT, call, split, withBearer } from '../helpers/stack/attack-kit'
import {
  act,
  answeredCalls,
  gatewayCalls,
  logInOnDemoPage,
  readStatus,
  readStoredKey,
  recordWire,
  sentRefreshToken,
  signInPage,
  useChromium,
} from '../helpers/stack/browser'
import { expectLoggedReason } from '../helpers/stack/gateway-log'
import { GATEWAY, originCount } from '../helpers/stack/stack'

const newContext = useChromium()

async function newPage() {
  return (await newContext()).newPage()
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url')

/** RFC 7638 thumbprint of an EC public key: what cnf.jkt names. */
function thumbprint(jwk: { crv?: unknown; kty?: unknown; x?: unknown; y?: unknown }): string {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
}

const claims = (jwt: string) => split(jwt).payload as Record<string, unknown> & { sid: string }
const boundKey = (jwt: string) => (claims(jwt).cnf as { jkt: string }).jkt

/**
 * The rotations the gateway logged for a session: its `event: "request"` lines for
 * POST /auth/refresh answered 200 (one per rotation, a reused successor included).
 */
async function rotationsLogged(sid: string): Promise<number> {
  const text = await readFile(inject('gatehouse').log, 'utf8')
  return text
    .split('\n')
    .filter((line) => line.includes('"/auth/refresh"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((l) => l.event === 'request' && l.status === 200 && l.sid === sid).length
}

describe('DPoP in Chromium through gatehouse/client', () => {
  it('logs in with a proof and calls a DPoP-required route with a fresh proof', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    const token = await logInOnDemoPage(page)
    expect(await readStatus(page)).toMatchObject({ session: 'active', tokenType: 'DPoP' })
    const [login] = await answeredCalls(wire, '/auth/login')
    expect(boundKey(token)).toBe(thumbprint(split(login!.headers.dpop!).header.jwk as object))

    const status = await act(page, '#call-bound')
    expect(status).toMatchObject({ outcome: 'ok', httpStatus: '200', subject: SUBJECT.alice })
    const [api] = await answeredCalls(wire, '/api/bound/hello')
    expect(api!.headers.authorization).toBe(`DPoP ${token}`)
    const proof = split(api!.headers.dpop!)
    expect(proof.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
    expect(proof.payload).toMatchObject({
      htm: 'GET',
      htu: `${GATEWAY}/api/bound/hello`,
      ath: sha256(token),
    })
    expect(thumbprint(proof.header.jwk as object)).toBe(boundKey(token))
    expect(sentRefreshToken(api!)).toBeNull() // the cookie stays on /auth
  })

  it('keeps the session across a reload: a refresh by the same key, no new login', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    const token = await logInOnDemoPage(page)
    expect(await act(page, '#call-bound')).toMatchObject({ outcome: 'ok', httpStatus: '200' })

    await page.reload()
    await page.waitForSelector('#status[data-ready="true"]')
    expect(await readStatus(page)).toMatchObject({
      action: 'restore',
      session: 'active',
      tokenType: 'DPoP',
    })
    const after = await act(page, '#call-bound')
    expect(after).toMatchObject({ outcome: 'ok', httpStatus: '200', subject: SUBJECT.alice })
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual([
        'POST /auth/login 200',
        'GET /api/bound/hello 200',
        'POST /auth/refresh 200',
        'GET /api/bound/hello 200',
      ])
    const [refresh] = await answeredCalls(wire, '/auth/refresh')
    expect(thumbprint(split(refresh!.headers.dpop!).header.jwk as object)).toBe(boundKey(token))
    const [, second] = await answeredCalls(wire, '/api/bound/hello', 2)
    expect(second!.headers.authorization).not.toBe(`DPoP ${token}`)
  })

  it('keeps a private key in IndexedDB that page script can use but not export, and no token', async () => {
    const page = await newPage()
    const token = await logInOnDemoPage(page)
    const key = await readStoredKey(page)
    expect(key).toMatchObject({
      extractable: false,
      usages: ['sign'],
      privateExport: 'InvalidAccessError',
    })
    expect(key.publicJwk).not.toHaveProperty('d')
    expect(thumbprint(key.publicJwk)).toBe(boundKey(token))

    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('gatehouse')
        open.onsuccess = () => resolve(open.result)
        open.onerror = () => reject(open.error)
      })
      const store = db.transaction('client').objectStore('client')
      const read = <T>(r: IDBRequest<T>) =>
        new Promise<T>((resolve) => (r.onsuccess = () => resolve(r.result)))
      const [names, values] = await Promise.all([read(store.getAllKeys()), read(store.getAll())])
      db.close()
      return { names: names.map(String), json: JSON.stringify(values), local: localStorage.length }
    })
    expect(stored.names.sort()).toEqual([`dpop-key ${GATEWAY}`, `session ${GATEWAY}`])
    expect(stored.json).not.toContain(token.split('.')[1])
    expect(stored.local).toBe(0)
  })

  it('refuses a token taken out of the page: as Bearer, and with a proof by another key', async () => {
    const page = await newPage()
    const token = await logInOnDemoPage(page)
    const reached = await originCount()
    const target = `${GATEWAY}/api/bound/x`

    for (const path of ['/api/bound/x', '/api/echo/x']) {
      const bearer = await withBearer(path, token)
      expect(bearer.status).toBe(401)
      expect(bearer.headers.get('www-authenticate')).toMatch(
        /^DPoP realm="gatehouse", algs="ES256 EdDSA", error="invalid_token"/,
      )
      await expectLoggedReason(bearer, 'dpop_required')
    }

    // A thief's own key signs a proof that is right in every other respect.
    const thief = await generateKeyPair('ES256')
    const proof = await new SignJWT({ htm: 'GET', htu: target, ath: sha256(token) })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(thief.publicKey) })
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .sign(thief.privateKey)
    const foreign = await call('/api/bound/x', {
      headers: { authorization: `DPoP ${token}`, dpop: proof },
    })
    expect(foreign.status).toBe(401)
    expect(foreign.headers.get('www-authenticate')).toContain('error="invalid_token"')
    await expectLoggedReason(foreign, 'dpop_binding_mismatch')
    expect(await originCount()).toBe(reached)

    // The control: a proof the page's own key signed passes, once. What stops the thief is the
    // key, which never leaves the page (RFC 9449 §11.1: proofs made in a compromised page can
    // still be used elsewhere until their iat window closes, one request each).
    await readStoredKey(page)
    const inPage = await signInPage(page, { htm: 'GET', htu: target, ath: sha256(token) })
    const headers = { authorization: `DPoP ${token}`, dpop: inPage }
    expect((await call('/api/bound/x', { headers })).status).toBe(200)
    const replayed = await call('/api/bound/x', { headers })
    expect(replayed.status).toBe(401)
    await expectLoggedReason(replayed, 'dpop_replay')
  })

  it('lets two tabs refreshing at once share one rotation, both staying logged in', async () => {
    const context = await newContext()
    const [tabA, tabB] = [await context.newPage(), await context.newPage()]
    const [wireA, wireB] = [await recordWire(tabA), await recordWire(tabB)]
    const token = await logInOnDemoPage(tabA)
    const sid = claims(token).sid
    // A second tab takes the first tab's token over the channel: no rotation to open it.
    await tabB.goto(`${GATEWAY}/demo`)
    await tabB.waitForSelector('#status[data-ready="true"]')
    expect(await readStatus(tabB)).toMatchObject({ session: 'active', refreshes: '0' })
    expect(gatewayCalls(wireB)).toEqual([])

    // The first refresh to leave either tab is held until the other tab has asked as well.
    const held: Route[] = []
    let release: () => void = () => undefined
    const released = new Promise<void>((resolve) => (release = resolve))
    await context.route('**/auth/refresh', async (route) => {
      held.push(route)
      await released
      await route.continue()
    })
    const refreshA = act(tabA, '#refresh')
    await expect.poll(() => held.length).toBe(1)
    const refreshB = act(tabB, '#refresh')
    await tabB.waitForFunction(() => document.getElementById('status')?.dataset.busy === 'true', {
      polling: 25,
    })
    release()
    const [a, b] = await Promise.all([refreshA, refreshB])
    await context.unrouteAll()
    expect([a.outcome, b.outcome]).toEqual(['ok', 'ok'])
    expect([a.refreshes, b.refreshes]).toEqual(['1', '0'])
    expect(held).toHaveLength(1)
    expect([...gatewayCalls(wireA), ...gatewayCalls(wireB)]).toEqual([
      'POST /auth/login 200',
      'POST /auth/refresh 200',
    ])
    await expect.poll(() => rotationsLogged(sid)).toBe(1)

    // Both tabs go on with the one new token.
    expect(await act(tabA, '#call-bound')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
    expect(await act(tabB, '#call-bound')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
    const [callA] = await answeredCalls(wireA, '/api/bound/hello')
    const [callB] = await answeredCalls(wireB, '/api/bound/hello')
    expect(callB!.headers.authorization).toBe(callA!.headers.authorization)
    expect(callA!.headers.authorization).not.toBe(`DPoP ${token}`)
    expect(await rotationsLogged(sid)).toBe(1)
  })

  it('keeps working without Web Locks and BroadcastChannel: each tab refreshes for itself', async () => {
    const context = await newContext()
    await context.addInitScript(() => {
      delete (Navigator.prototype as { locks?: unknown }).locks
      delete (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel
    })
    const [tabA, tabB] = [await context.newPage(), await context.newPage()]
    const wireB = await recordWire(tabB)
    await logInOnDemoPage(tabA)
    expect(await tabA.evaluate(() => 'locks' in navigator || 'BroadcastChannel' in window)).toBe(
      false,
    )
    // No channel to take the token from: the new tab restores the session with a rotation of
    // its own, with the shared key and cookie.
    await tabB.goto(`${GATEWAY}/demo`)
    await tabB.waitForSelector('#status[data-ready="true"]')
    expect(await readStatus(tabB)).toMatchObject({ session: 'active', refreshes: '1' })
    expect(gatewayCalls(wireB)).toEqual(['POST /auth/refresh 200'])
    for (const tab of [tabA, tabB, tabA]) {
      expect(await act(tab, '#refresh')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
      expect(await act(tab, '#call-bound')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
    }
  })

  it('ends the session in every tab when one logs out', async () => {
    const context = await newContext()
    const [tabA, tabB] = [await context.newPage(), await context.newPage()]
    await logInOnDemoPage(tabA)
    await tabB.goto(`${GATEWAY}/demo`)
    await tabB.waitForSelector('#status[data-session="active"]')
    const wireB = await recordWire(tabB)

    expect(await act(tabA, '#logout')).toMatchObject({ outcome: 'ok', session: 'none' })
    await tabB.waitForSelector('#status[data-session="none"]')
    // Tab B neither refreshes nor sends the old token: no session, no key.
    expect(await act(tabB, '#call-bound')).toMatchObject({ outcome: 'error', httpStatus: '401' })
    const [call] = await answeredCalls(wireB, '/api/bound/hello')
    expect(call!.headers.authorization).toBeUndefined()
    expect(gatewayCalls(wireB)).toEqual(['GET /api/bound/hello 401'])
  })
})
