// Strict base64url (RFC 4648 §5) as JWS requires it (RFC 7515 §2): no padding, no whitespace,
// and canonical — the unused low bits of the last character must be zero, so every byte string
// has exactly one accepted encoding (no re-encoded twin of a revoked or logged signature).
// The coding itself is the runtime's native Uint8Array.fromBase64 / setFromBase64 / toBase64
// (workerd ships them); the strictness is ours: the length and the last character are checked
// first, and what the native decoder tolerates (whitespace, padding) shows in its result
// (checkedDecodedLength). decodeBase64UrlInto decodes into a caller's buffer: a new ArrayBuffer
// costs more than decoding a token segment.

interface NativeBase64 {
  fromBase64(input: string, options: typeof NATIVE_DECODE): Uint8Array
}
interface NativeSetFromBase64 {
  setFromBase64(input: string, options: typeof NATIVE_DECODE): { read: number; written: number }
}
interface NativeToBase64 {
  toBase64(options: { alphabet: 'base64url'; omitPadding: true }): string
}

const NATIVE_DECODE = { alphabet: 'base64url', lastChunkHandling: 'loose' } as const
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const ALPHABET_ONLY = /^[A-Za-z0-9_-]*$/
const SEXTET = new Uint8Array(128)
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i

/**
 * True when `input` is canonical unpadded base64url (what decodeBase64Url accepts), checked
 * without decoding it.
 */
export function isBase64Url(input: string): boolean {
  const len = input.length
  const tail = len % 4
  if (tail === 1) return false
  // The native decoder skips whitespace and ignores unused bits: refuse both first.
  if (!ALPHABET_ONLY.test(input)) return false
  return tail === 0 || ((SEXTET[input.charCodeAt(len - 1)] as number) & (tail === 2 ? 15 : 3)) === 0
}

/** How many bytes a canonical base64url string of `length` characters decodes to. */
export function base64UrlDecodedLength(length: number): number {
  const tail = length % 4
  return ((length - tail) / 4) * 3 + (tail === 0 ? 0 : tail - 1)
}

/** Decodes canonical unpadded base64url ('' is zero bytes); returns null for any other input. */
export function decodeBase64Url(input: string): Uint8Array | null {
  const length = checkedDecodedLength(input)
  if (length < 0) return null
  let bytes: Uint8Array
  try {
    bytes = (Uint8Array as unknown as NativeBase64).fromBase64(input, NATIVE_DECODE)
  } catch {
    return null // a character outside the alphabet
  }
  return bytes.length === length ? bytes : null
}

/**
 * decodeBase64Url into the start of `target` instead of a new array (no allocation: a fresh
 * ArrayBuffer costs more than decoding a token segment). Returns the number of bytes written,
 * or -1 when `input` is not canonical unpadded base64url or its bytes do not fit in `target`.
 */
export function decodeBase64UrlInto(input: string, target: Uint8Array): number {
  const length = checkedDecodedLength(input)
  if (length < 0 || length > target.length) return -1
  let written: number
  try {
    written = (target as unknown as NativeSetFromBase64).setFromBase64(input, NATIVE_DECODE).written
  } catch {
    return -1 // a character outside the alphabet
  }
  return written === length ? written : -1
}

/**
 * The decoded length of `input` if its length and last character are those of canonical
 * unpadded base64url, else -1. What the native decoder tolerates is refused by its result: it
 * throws on a character outside the base64url alphabet (+ and / included), and skipping
 * whitespace or stopping at padding yields fewer bytes than the length promises (the decoded
 * length grows strictly with the valid encoded lengths), so "exactly that many bytes" is the
 * alphabet-only test without a pass of its own over the input.
 */
function checkedDecodedLength(input: string): number {
  const len = input.length
  const tail = len % 4
  if (tail === 1) return -1
  if (tail !== 0) {
    const last = input.charCodeAt(len - 1)
    if (last >= 128 || ((SEXTET[last] as number) & (tail === 2 ? 15 : 3)) !== 0) return -1
  }
  return base64UrlDecodedLength(len)
}

/** Encodes bytes as unpadded base64url. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return (bytes as unknown as NativeToBase64).toBase64({ alphabet: 'base64url', omitPadding: true })
}

const utf8 = new TextEncoder()

/** Encodes a string's UTF-8 bytes as unpadded base64url. */
export function encodeBase64UrlString(text: string): string {
  return encodeBase64Url(utf8.encode(text))
}
