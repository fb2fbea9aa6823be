// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30 s steps,
// the parameters every authenticator app supports. WebCrypto only, no dependency. A code is
// accepted for one step either side of now (clock drift) and each step at most once: the caller
// stores the step matchTotp returns and passes it back as lastStep.

export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
/** RFC 4226 §4 R6 recommends at least 160 bits: the size of an HMAC-SHA1 key's block output. */
const TOTP_SECRET_BYTES = 20
/** Steps accepted either side of the current one (RFC 6238 §5.2: one step of network delay). */
const DEFAULT_SKEW_STEPS = 1
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const BASE32_VALUE = new Map([...BASE32_ALPHABET].map((char, i) => [char, i]))
/** Lengths (mod 8) a base32 text of whole bytes can have (RFC 4648 §6: 0, 1, 2, 3 or 4 bytes). */
const BASE32_VALID_TAILS = new Set([0, 2, 4, 5, 7])
const TOTP_CODE = /^\d{6}$/

/** A new random TOTP secret: 20 bytes from crypto.getRandomValues. */
export function newTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES))
}

/** RFC 4648 §6 base32 of `bytes`, upper-case, without '=' padding (what authenticator apps take). */
export function base32Encode(bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += BASE32_ALPHABET[(buffer >>> bits) & 31]
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31]
  return out
}

/**
 * Decodes RFC 4648 base32, case-insensitive, ignoring spaces and '=' padding (as people type a
 * secret). Returns null for any other character or a length no byte string encodes to.
 */
export function base32Decode(text: string): Uint8Array | null {
  const clean = text.replace(/[ =]/g, '').toUpperCase()
  if (!BASE32_VALID_TAILS.has(clean.length % 8)) return null
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let at = 0
  for (const char of clean) {
    const value = BASE32_VALUE.get(char)
    if (value === undefined) return null
    buffer = ((buffer << 5) | value) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[at++] = (buffer >>> bits) & 0xff
    }
  }
  return out
}

/**
 * The otpauth:// URI an authenticator app scans (Google Authenticator Key Uri Format): label
 * `Issuer:account` with both parts percent-encoded, and the issuer repeated as a parameter.
 */
export function totpUri(secret: Uint8Array, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`
  const params = [
    `secret=${base32Encode(secret)}`,
    `issuer=${encodeURIComponent(issuer)}`,
    'algorithm=SHA1',
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_PERIOD_SECONDS}`,
  ]
  return `otpauth://totp/${label}?${params.join('&')}`
}

function importHotpKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
}

async function hotpWithKey(key: CryptoKey, counter: number, digits: number): Promise<string> {
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError('HOTP counter must be a non-negative safe integer')
  }
  // RFC 4226 §5.2: the counter is an 8-byte big-endian integer.
  const message = new DataView(new ArrayBuffer(8))
  message.setUint32(0, Math.floor(counter / 2 ** 32))
  message.setUint32(4, counter >>> 0)
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, message.buffer))
  // RFC 4226 §5.3 dynamic truncation: 31 bits at the offset the last nibble names.
  const offset = (mac[mac.length - 1] as number) & 0x0f
  const binary = new DataView(mac.buffer).getUint32(offset) & 0x7fffffff
  return String(binary % 10 ** digits).padStart(digits, '0')
}

/**
 * RFC 4226 HOTP value of `secret` at `counter` with `digits` digits (6 for TOTP; 8 reaches the
 * RFC 6238 Appendix B vectors). Throws RangeError for a counter that is not a safe integer ≥ 0.
 */
export async function hotp(secret: Uint8Array, counter: number, digits: number): Promise<string> {
  return hotpWithKey(await importHotpKey(secret), counter, digits)
}

/** The 6-digit TOTP code of `secret` for time step `step` (floor(unix seconds / 30)). */
export function totpCode(secret: Uint8Array, step: number): Promise<string> {
  return hotp(secret, step, TOTP_DIGITS)
}

/** Equal-length strings compared without an early exit (RFC 4226 §7.2 favours constant time). */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/**
 * The time step in [currentStep - skew, currentStep + skew] whose code matches, newer than
 * lastStep (each step usable once), or null. Constant work for every candidate: every code in the
 * window is computed and compared before the answer is chosen. Spaces in `code` are ignored; a
 * code that is not 6 digits, or a `nowSeconds` that is not a finite number ≥ 0, matches nothing.
 */
export async function matchTotp(
  secret: Uint8Array,
  code: string,
  nowSeconds: number,
  lastStep: number | null,
  skewSteps: number = DEFAULT_SKEW_STEPS,
): Promise<number | null> {
  const presented = code.replace(/ /g, '')
  if (!TOTP_CODE.test(presented)) return null
  if (!Number.isFinite(nowSeconds) || nowSeconds < 0) return null
  const skew = Math.max(0, Math.floor(skewSteps))
  const current = Math.floor(nowSeconds / TOTP_PERIOD_SECONDS)
  const key = await importHotpKey(secret)
  const steps: number[] = []
  for (let step = Math.max(0, current - skew); step <= current + skew; step++) steps.push(step)
  const codes = await Promise.all(steps.map((step) => hotpWithKey(key, step, TOTP_DIGITS)))
  let matched: number | null = null
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as number
    const equal = constantTimeEqual(codes[i] as string, presented)
    const fresh = lastStep === null || step > lastStep
    // The earliest fresh match: a later step stays usable for the user's next code.
    if (equal && fresh && matched === null) matched = step
  }
  return matched
}
