// Real-browser helpers for the e2e tests: Debian's Chromium driven by playwright-core (installed
// with apt-get on first use, see scripts/lib/ensure-chromium.mjs), the demo page's actions, a
// wire recorder that reads what Chromium actually sent and received (DevTools protocol: status
// codes even of answers that CORS hides from page script, and the Cookie header as sent), a
// throwaway HTTP server for pages of a foreign origin, and second factors: a DevTools virtual
// authenticator (passkeys) and the codes an authenticator app would show (TOTP).

import { createHmac } from 'node:crypto'
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

/** The gateway by name (http://localhost:<port>): WebAuthn refuses IP-address origins. */
export const GATEWAY_BY_NAME = GATEWAY.replace('//127.0.0.1:', '//localhost:')

/** Opens the demo page at `base` and waits until its script is ready. */
export async function openDemoPage(page: Page, base = GATEWAY): Promise<Status> {
  await page.goto(`${base}/demo`)
  await page.waitForSelector('#status[data-ready="true"]')
  return readStatus(page)
}

export interface DemoUser {
  readonly tenant?: string
  readonly username: string
  readonly password: string
}

/**
 * Fills the open demo page's login form and submits it; resolves to the status after the login
 * (outcome ok, or pending with data-mfa="required" when a second factor is asked for).
 */
export async function submitLogin(page: Page, user: DemoUser): Promise<Status> {
  await page.fill('input[name=tenant]', user.tenant ?? 'demo')
  await page.fill('input[name=username]', user.username)
  await page.fill('input[name=password]', user.password)
  return act(page, '#login-button')
}

/**
 * Opens /demo and logs a user in through the form (alice at the gateway's IP origin unless told
 * otherwise). Resolves to the access token, read from the login response on the wire as
 * DevTools would: the page itself offers no way to read it.
 */
export async function logInOnDemoPage(
  page: Page,
  options: { user?: DemoUser; base?: string } = {},
): Promise<string> {
  const base = options.base ?? GATEWAY
  await openDemoPage(page, base)
  const answer = page.waitForResponse(
    (r) => r.url() === `${base}/auth/login` && r.request().method() === 'POST',
  )
  const status = await submitLogin(page, options.user ?? DEMO.alice)
  if (status.outcome !== 'ok') throw new Error(`demo login failed: ${status.httpStatus}`)
  return ((await (await answer).json()) as { access_token: string }).access_token
}

/** A CDP virtual authenticator attached to one page (its credentials live as long as it does). */
export interface VirtualAuthenticator {
  readonly id: string
  /** The credentials it holds (WebAuthn.getCredentials): discoverable ones name their user. */
  credentials(): Promise<{ credentialId: string; isResidentCredential: boolean; rpId?: string }[]>
}

/**
 * Gives `page` a platform authenticator that always has the user present and verified (a
 * passkey: CTAP2, internal transport, resident keys, user verification), through DevTools.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  return {
    id: authenticatorId,
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  }
}

/** RFC 6238 as the gateway's authenticator-app factor uses it: HMAC-SHA-1, 30 s, 6 digits. */
const TOTP_PERIOD_SECONDS = 30
const TOTP_DIGITS = 6
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 (padding optional) to bytes: a TOTP secret as the page shows it. */
export function base32Decode(text: string): Buffer {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(char)
    if (index < 0) throw new Error(`not base32: ${char}`)
    value = ((value << 5) | index) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** The current RFC 6238 time step by this machine's clock (the gateway's too, locally). */
export const currentTotpStep = (): number => Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS)

/**
 * The code an authenticator app shows for `step` (RFC 6238 §4 over RFC 4226 §5.3's dynamic
 * truncation), computed here with node:crypto rather than by the gateway's own code.
 */
export function totpCode(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', secret).update(counter).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const binary = mac.readUInt32BE(offset) & 0x7fffffff
  return String(binary % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, '0')
}

/** One request as Chromium put it on the wire. */
export interface WireRequest {
  id: string
  method: string
  /** Path and query on the gateway (by IP or by name), or the full URL elsewhere. */
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
 * `userAgent` overrides the page's User-Agent (the gateway's device fingerprint of web clients);
 * `gateways` are the bases a request's target is taken relative to (default: the suite's gateway
 * by IP and by name; a test with a stack of its own names its own).
 */
export async function recordWire(
  page: Page,
  options: { userAgent?: string; gateways?: readonly string[] } = {},
): Promise<WireRequest[]> {
  const gateways = options.gateways ?? [GATEWAY, GATEWAY_BY_NAME]
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
    const base = gateways.find((b) => e.request.url.startsWith(`${b}/`))
    w.target = base === undefined ? e.request.url : e.request.url.slice(base.length)
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
