// Real-browser helpers for the e2e tests: Debian's Chromium driven by playwright-core (installed
// with apt-get on first use, see scripts/lib/ensure-chromium.mjs), the demo page's actions, a
// wire recorder that reads what Chromium actually sent and received (DevTools protocol: status
// codes even of answers that CORS hides from page script, and the Cookie header as sent), and a
// throwaway HTTP server for pages of a foreign origin.

import { createServer, type Server } from 'node:http'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect } from 'vitest'
// @ts-expect-error: a plain .mjs script without type declarations (it is also run as a command)
import { ensureChromium } from '../../../scripts/lib/ensure-chromium.mjs'
import { DEMO, GATEWAY, REFRESH_COOKIE } from './stack'

/** apt-get may have to download Chromium and its libraries (about 40 s here, more on a slow mirror). */
const CHROMIUM_INSTALL_TIMEOUT_MS = 600_000

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Launches headless Debian Chromium, installing it first if missing. playwright-core gives every
 * launch a fresh temporary user-data dir (removed on close), and every `browser.newContext()` is
 * an isolated cookie jar, so tests share no browser state.
 */
async function launchChromium(): Promise<Browser> {
  const executablePath = (await ensureChromium()) as string
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true })
}

/**
 * One Chromium for the calling test file (launched before its tests, closed after them); each
 * call of the returned function opens a fresh, isolated context (its own cookie jar).
 */
export function useChromium(): () => Promise<BrowserContext> {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await launchChromium()
  }, CHROMIUM_INSTALL_TIMEOUT_MS)
  afterAll(async () => {
    await browser?.close()
  })
  return () => {
    if (browser === undefined) throw new Error('Chromium is not running')
    return browser.newContext()
  }
}

export type Status = Record<string, string | undefined>

/** The demo page's read-only summary: the data-* attributes of #status. */
export function readStatus(page: Page): Promise<Status> {
  return page.locator('#status').evaluate((el) => ({ ...(el as HTMLElement).dataset }))
}

/** Clicks one of the demo page's buttons and waits until that action has finished. */
export async function act(page: Page, selector: string): Promise<Status> {
  const before = Number((await readStatus(page)).seq)
  // Chromium starves a tab that is not in front of animation frames once another tab took
  // input, and a click waits for two frames (element stable): ~2 s per click in the two-tab test.
  await page.bringToFront()
  await page.click(selector)
  await page.waitForFunction(
    (n) => Number(document.getElementById('status')?.dataset.seq) > n,
    before,
    // A fixed interval, not the default requestAnimationFrame: a tab in the background gets no
    // animation frames, and the two-tab test drives one.
    { polling: 25 },
  )
  return readStatus(page)
}

/**
 * Opens /demo and logs alice in through the form. Resolves to the access token, read from the
 * login response on the wire as DevTools would: the page itself offers no way to read it.
 */
export async function logInOnDemoPage(page: Page): Promise<string> {
  await page.goto(`${GATEWAY}/demo`)
  await page.waitForSelector('#status[data-ready="true"]')
  await page.fill('input[name=password]', DEMO.alice.password)
  const answer = page.waitForResponse(
    (r) => r.url() === `${GATEWAY}/auth/login` && r.request().method() === 'POST',
  )
  const status = await act(page, '#login-button')
  if (status.outcome !== 'ok') throw new Error(`demo login failed: ${status.httpStatus}`)
  return ((await (await answer).json()) as { access_token: string }).access_token
}

/** One request as Chromium put it on the wire. */
export interface WireRequest {
  id: string
  method: string
  /** Path and query on the gateway, or the full URL elsewhere. */
  target: string
  /** Request headers as sent (lower-case names), known once Chromium reports them. */
  headers: Record<string, string>
  /** Why Chromium withheld the refresh cookie from this request (empty: sent or not applicable). */
  refreshCookieBlocked: string[]
  /** Response status; null until (or unless) an answer arrived. */
  status: number | null
}

/**
 * Records every request a page makes, including preflights and CORS-blocked answers.
 * `userAgent` overrides the page's User-Agent (the gateway's device fingerprint of web clients).
 */
export async function recordWire(
  page: Page,
  options: { userAgent?: string } = {},
): Promise<WireRequest[]> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  if (options.userAgent !== undefined) {
    await cdp.send('Network.setUserAgentOverride', { userAgent: options.userAgent })
  }
  const list: WireRequest[] = []
  const byId = new Map<string, WireRequest>()
  const entry = (id: string): WireRequest => {
    let found = byId.get(id)
    if (found === undefined) {
      found = { id, method: '', target: '', headers: {}, refreshCookieBlocked: [], status: null }
      byId.set(id, found)
      list.push(found)
    }
    return found
  }
  cdp.on('Network.requestWillBeSent', (e) => {
    const w = entry(e.requestId)
    w.method = e.request.method
    w.target = e.request.url.startsWith(GATEWAY)
      ? e.request.url.slice(GATEWAY.length)
      : e.request.url
  })
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    const w = entry(e.requestId)
    for (const [name, value] of Object.entries(e.headers)) w.headers[name.toLowerCase()] = value
    for (const c of e.associatedCookies) {
      if (c.cookie.name === REFRESH_COOKIE) w.refreshCookieBlocked = c.blockedReasons
    }
  })
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    entry(e.requestId).status = e.statusCode
  })
  return list
}

/**
 * "METHOD target status" for the requests to the gateway's auth and API paths that reached the
 * network (a request the browser refused to send, after a failed preflight, is left out).
 */
export function gatewayCalls(wire: readonly WireRequest[]): string[] {
  return wire
    .filter((w) => /^\/(auth|api)\//.test(w.target) && Object.keys(w.headers).length > 0)
    .map((w) => `${w.method} ${w.target} ${w.status ?? 'pending'}`)
}

/**
 * The recorded requests to `target` once at least `count` of them went out and were answered.
 * Polls: DevTools events arrive independently of the page's own progress.
 */
export async function answeredCalls(
  wire: readonly WireRequest[],
  target: string,
  count = 1,
): Promise<WireRequest[]> {
  const done = () =>
    wire.filter(
      (w) => w.target === target && w.status !== null && Object.keys(w.headers).length > 0,
    )
  await expect.poll(() => done().length).toBeGreaterThanOrEqual(count)
  return done()
}

/** The refresh token carried by a request's Cookie header, or null when none was sent. */
export function sentRefreshToken(w: WireRequest): string | null {
  const pair = (w.headers.cookie ?? '')
    .split(';')
    .map((p) => p.trim())
    .find((p) => p.startsWith(`${REFRESH_COOKIE}=`))
  return pair === undefined ? null : pair.slice(REFRESH_COOKIE.length + 1)
}

/** A throwaway HTTP server on a free loopback port answering every GET with `html`. */
export async function serveHtml(html: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { port: typeof address === 'object' && address ? address.port : 0, server }
}

/** What page script can do with the demo page's DPoP key, read from IndexedDB as any script could. */
export interface StoredKeyReport {
  /** The private key's [[extractable]] slot. */
  readonly extractable: boolean
  readonly usages: string[]
  /** The name of the error exportKey('jwk', privateKey) threw, or 'exported' if it did not. */
  readonly privateExport: string
  /** The public key as exportKey gives it (always extractable). */
  readonly publicJwk: JsonWebKey
}

/**
 * Reads the gatehouse/client key pair of the page's origin from IndexedDB (client/key-store.js:
 * database `gatehouse`, store `client`, record `dpop-key <origin>`), tries to export both halves,
 * and leaves the pair on `window.__storedDpopKey` for signInPage.
 */
export function readStoredKey(page: Page): Promise<StoredKeyReport> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('gatehouse')
      open.onsuccess = () => resolve(open.result)
      open.onerror = () => reject(open.error)
    })
    const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
      const got = db.transaction('client').objectStore('client').get(`dpop-key ${location.origin}`)
      got.onsuccess = () => resolve(got.result as CryptoKeyPair)
      got.onerror = () => reject(got.error)
    })
    db.close()
    ;(window as unknown as { __storedDpopKey: CryptoKeyPair }).__storedDpopKey = pair
    let privateExport = 'exported'
    try {
      await crypto.subtle.exportKey('jwk', pair.privateKey)
    } catch (err) {
      privateExport = (err as Error).name
    }
    return {
      extractable: pair.privateKey.extractable,
      usages: [...pair.privateKey.usages],
      privateExport,
      publicJwk: await crypto.subtle.exportKey('jwk', pair.publicKey),
    }
  })
}

/**
 * A DPoP proof signed inside the page with the key readStoredKey found: what an injected script
 * could make (and send away) while the page is open, without ever holding the key itself.
 */
export function signInPage(
  page: Page,
  claims: { htm: string; htu: string; ath?: string },
): Promise<string> {
  return page.evaluate(async (claims) => {
    const pair = (window as unknown as { __storedDpopKey: CryptoKeyPair }).__storedDpopKey
    const b64 = (bytes: Uint8Array) =>
      btoa(String.fromCharCode(...bytes))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '')
    const utf8 = new TextEncoder()
    const { x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey)
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: { crv: 'P-256', kty: 'EC', x, y } }
    const payload = { ...claims, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) }
    const input = `${b64(utf8.encode(JSON.stringify(header)))}.${b64(utf8.encode(JSON.stringify(payload)))}`
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      pair.privateKey,
      utf8.encode(input),
    )
    return `${input}.${b64(new Uint8Array(signature))}`
  }, claims)
}
