// TOTP (RFC 6238) and its base32 secrets: the RFC's own vectors, the ±1 step window, single use
// per time step, and the otpauth:// URI an authenticator app scans.

import { describe, expect, it } from 'vitest'
import {
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  base32Decode,
  base32Encode,
  hotp,
  matchTotp,
  newTotpSecret,
  totpCode,
  totpUri,
} from '../../src/factors/totp'

/** RFC 6238 Appendix B / RFC 4226 Appendix D: the ASCII seed "12345678901234567890". */
const RFC_SECRET = new TextEncoder().encode('12345678901234567890')

describe('hotp and totpCode', () => {
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('matches the RFC 6238 SHA-1 vector at T=%i', async (seconds, expected) => {
    expect(await hotp(RFC_SECRET, Math.floor(seconds / TOTP_PERIOD_SECONDS), 8)).toBe(expected)
  })

  it('matches the RFC 4226 Appendix D HOTP values as 6-digit codes', async () => {
    const expected = ['755224', '287082', '359152', '969429', '338314']
    expected.push('254676', '287922', '162583', '399871', '520489')
    const codes = await Promise.all(expected.map((_, counter) => totpCode(RFC_SECRET, counter)))
    expect(codes).toEqual(expected)
  })

  it('refuses a negative or fractional counter', async () => {
    await expect(hotp(RFC_SECRET, -1, TOTP_DIGITS)).rejects.toThrow(RangeError)
    await expect(hotp(RFC_SECRET, 1.5, TOTP_DIGITS)).rejects.toThrow(RangeError)
  })
})

describe('matchTotp', () => {
  const step = Math.floor(1_700_000_000 / TOTP_PERIOD_SECONDS)
  const now = step * TOTP_PERIOD_SECONDS + 10
  const codeAt = (offset: number) => totpCode(RFC_SECRET, step + offset)

  it('the codes around the test instant are distinct (precondition)', async () => {
    const codes = await Promise.all([-2, -1, 0, 1, 2].map(codeAt))
    expect(new Set(codes).size).toBe(5)
  })

  it.each([-1, 0, 1])('accepts the code of step %i from now and returns that step', async (d) => {
    expect(await matchTotp(RFC_SECRET, await codeAt(d), now, null)).toBe(step + d)
  })

  it.each([-2, 2])('refuses the code of step %i from now', async (d) => {
    expect(await matchTotp(RFC_SECRET, await codeAt(d), now, null)).toBeNull()
  })

  it('widens the window with skewSteps', async () => {
    expect(await matchTotp(RFC_SECRET, await codeAt(-2), now, null, 2)).toBe(step - 2)
    expect(await matchTotp(RFC_SECRET, await codeAt(-1), now, null, 0)).toBeNull()
  })

  it('refuses a code whose step was already used, and an older one after it', async () => {
    const code = await codeAt(0)
    expect(await matchTotp(RFC_SECRET, code, now, step)).toBeNull()
    expect(await matchTotp(RFC_SECRET, await codeAt(-1), now, step)).toBeNull()
    expect(await matchTotp(RFC_SECRET, code, now, step - 1)).toBe(step)
    expect(await matchTotp(RFC_SECRET, await codeAt(1), now, step)).toBe(step + 1)
  })

  it('ignores spaces and refuses anything but 6 digits', async () => {
    const code = await codeAt(0)
    expect(await matchTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, now, null)).toBe(
      step,
    )
    for (const bad of ['', code.slice(1), `${code}0`, `${code.slice(1)}a`, `-${code.slice(1)}`]) {
      expect(await matchTotp(RFC_SECRET, bad, now, null)).toBeNull()
    }
  })

  it('refuses a wrong code and a code of another secret', async () => {
    const code = await codeAt(0)
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')
    expect(await matchTotp(RFC_SECRET, wrong, now, null)).toBeNull()
    const other = newTotpSecret()
    expect(await matchTotp(other, code, now, null)).toBe(
      (await totpCode(other, step)) === code ? step : null,
    )
  })

  it('matches nothing for a clock that is not a finite instant', async () => {
    expect(await matchTotp(RFC_SECRET, await codeAt(0), Number.NaN, null)).toBeNull()
    expect(await matchTotp(RFC_SECRET, await codeAt(0), -1, null)).toBeNull()
  })
})

describe('base32', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('encodes the RFC 4648 §10 vector %j without padding', (text, expected) => {
    const bytes = new TextEncoder().encode(text)
    expect(base32Encode(bytes)).toBe(expected)
    expect(base32Decode(expected)).toEqual(bytes)
  })

  it('round-trips random secrets of every length up to 40 bytes', () => {
    for (let length = 0; length <= 40; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length))
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes)
    }
  })

  it('decodes lower case, spaces and padding', () => {
    const foobar = new TextEncoder().encode('foobar')
    expect(base32Decode('mzxw 6ytb oi======')).toEqual(foobar)
  })

  it.each(['MZXW6YT1', 'MZXW6YT8', 'MZ-XW', 'M', 'MZX', 'MZXW6Y', 'MZXW6YTBé'])(
    'returns null for %j',
    (text) => {
      expect(base32Decode(text)).toBeNull()
    },
  )

  it('makes 20-byte secrets that encode to 32 characters', () => {
    const secret = newTotpSecret()
    expect(secret.length).toBe(20)
    expect(base32Encode(secret)).toMatch(/^[A-Z2-7]{32}$/)
    expect(base32Encode(newTotpSecret())).not.toBe(base32Encode(secret))
  })
})

describe('totpUri', () => {
  it('follows the Key Uri Format with a percent-encoded Issuer:account label', () => {
    const secret = new TextEncoder().encode('foobar')
    const uri = totpUri(secret, 'Gatehouse demo', 'alice@example.com')
    expect(uri).toBe(
      'otpauth://totp/Gatehouse%20demo:alice%40example.com?secret=MZXW6YTBOI' +
        '&issuer=Gatehouse%20demo&algorithm=SHA1&digits=6&period=30',
    )
  })

  it('encodes a colon or ampersand in the account so the label stays two parts', () => {
    const uri = new URL(totpUri(newTotpSecret(), 'Acme & Co', 'a:b&c'))
    expect(uri.protocol).toBe('otpauth:')
    expect(uri.host).toBe('totp')
    expect(uri.pathname).toBe('/Acme%20%26%20Co:a%3Ab%26c')
    expect(uri.searchParams.get('issuer')).toBe('Acme & Co')
    expect(uri.searchParams.get('secret')).toMatch(/^[A-Z2-7]{32}$/)
  })
})
