// Strict base64url (RFC 4648 §5) as JWS requires it (RFC 7515 §2): no padding, no whitespace,
// and canonical — the unused low bits of the last character must be zero, so every byte string
// has exactly one accepted encoding (no re-encoded twin of a revoked or logged signature).
// One table-driven pass; no atob, no string replacement, nothing allocated but the output.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const INVALID = 255
const DECODE = new Uint8Array(128).fill(INVALID)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

/** Decodes canonical unpadded base64url ('' is zero bytes); returns null for any other input. */
export function decodeBase64Url(input: string): Uint8Array | null {
  const len = input.length
  const tail = len % 4
  if (tail === 1) return null
  const out = new Uint8Array((len * 3) >> 2)
  let o = 0
  let i = 0
  const full = len - tail
  for (; i < full; i += 4) {
    const a = sextet(input, i)
    const b = sextet(input, i + 1)
    const c = sextet(input, i + 2)
    const d = sextet(input, i + 3)
    if ((a | b | c | d) > 63) return null // any invalid sextet is 255
    out[o++] = (a << 2) | (b >> 4)
    out[o++] = ((b & 15) << 4) | (c >> 2)
    out[o++] = ((c & 3) << 6) | d
  }
  if (tail === 2) {
    const a = sextet(input, i)
    const b = sextet(input, i + 1)
    if ((a | b) > 63 || (b & 15) !== 0) return null
    out[o++] = (a << 2) | (b >> 4)
  } else if (tail === 3) {
    const a = sextet(input, i)
    const b = sextet(input, i + 1)
    const c = sextet(input, i + 2)
    if ((a | b | c) > 63 || (c & 3) !== 0) return null
    out[o++] = (a << 2) | (b >> 4)
    out[o++] = ((b & 15) << 4) | (c >> 2)
  }
  return out
}

function sextet(input: string, index: number): number {
  const code = input.charCodeAt(index)
  return code < 128 ? (DECODE[code] as number) : INVALID
}

/** Encodes bytes as unpadded base64url. */
export function encodeBase64Url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out +=
      ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!
  }
  return out
}

const utf8 = new TextEncoder()

/** Encodes a string's UTF-8 bytes as unpadded base64url. */
export function encodeBase64UrlString(text: string): string {
  return encodeBase64Url(utf8.encode(text))
}
