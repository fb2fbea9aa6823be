// Token mutations for property tests: everything an attacker can do to a compact JWS without
// the signing key — bit flips, character edits, segment reordering, header and claim edits
// (re-encoded, signature kept), signature surgery (zero, truncated, padded, other alphabet,
// Ed25519 S + L), wholesale replacement by random base64url, unicode or huge strings — as
// printable data (so a failing case reads as what was done), and how a token crosses the wire.
// Used by test/integration/property.test.ts; pure, no runtime APIs beyond TextEncoder.

import fc from 'fast-check'
import { b64url, fromB64url } from './tokens'

/** Registered JWT claims and the ones Gatehouse reads. */
export const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'scope',
  'tid',
  'sid',
  'client_id',
])
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, '', '__proto__', 'none', 'HS256', 1e308, -1, 2 ** 53, 'x'.repeat(5000)),
)
const HEADER_KEYS = [
  'alg',
  'kid',
  'typ',
  'jku',
  'jwk',
  'x5u',
  'x5c',
  'crit',
  'b64',
  'zip',
  'cty',
  'enc',
  '__proto__',
  'constructor',
]
const CLAIM_KEYS = [...RESERVED_CLAIMS, '__proto__', 'constructor', 'admin']
const SIG_KINDS = [
  'zero',
  'ff',
  'truncate',
  'extend',
  'random',
  'sPlusL',
  'pad',
  'std',
  'flip',
] as const

export const mutation = (valid: string) =>
  fc.oneof(
    fc.record({
      op: fc.constant('flip' as const),
      i: fc.nat(),
      bit: fc.integer({ min: 0, max: 6 }),
    }),
    fc.record({
      op: fc.constantFrom('replace' as const, 'insert' as const),
      i: fc.nat(),
      c: fc.oneof(
        fc.constantFrom(...`${B64}.=+/ \t~!"%\\`),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }),
      ),
    }),
    fc.record({
      op: fc.constant('delete' as const),
      i: fc.nat(),
      n: fc.integer({ min: 1, max: 12 }),
    }),
    fc.record({
      op: fc.constant('segments' as const),
      order: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }),
    }),
    fc.record({
      op: fc.constant('header' as const),
      key: fc.oneof(fc.constantFrom(...HEADER_KEYS), fc.string()),
      value: fc.option(jsonish),
    }),
    fc.record({
      op: fc.constant('claim' as const),
      key: fc.oneof(fc.constantFrom(...CLAIM_KEYS), fc.string()),
      value: fc.option(jsonish),
    }),
    fc.record({
      op: fc.constant('signature' as const),
      kind: fc.constantFrom(...SIG_KINDS),
      n: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 80 }),
    }),
    fc.record({
      op: fc.constant('replaceAll' as const),
      token: fc.oneof(
        fc
          .tuple(
            ...[0, 1, 2].map(() => fc.string({ unit: fc.constantFrom(...B64), maxLength: 120 })),
          )
          .map((s) => s.join('.')),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        fc.integer({ min: 8_000, max: 20_000 }).map((n) => `${valid}${'A'.repeat(n)}`),
      ),
    }),
  )
export type Step = ReturnType<typeof mutation> extends fc.Arbitrary<infer T> ? T : never

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
function editJson(segment: string, k: string, value: unknown): string {
  try {
    const obj = JSON.parse(utf8.decode(fromB64url(segment))) as Record<string, unknown>
    if (value === null) delete obj[k]
    else obj[k] = value
    return b64url(JSON.stringify(obj))
  } catch {
    return segment
  }
}

function editSignature(
  sig: string,
  kind: (typeof SIG_KINDS)[number],
  n: number,
  bytes: Uint8Array,
): string {
  let raw: Uint8Array
  try {
    raw = fromB64url(sig)
  } catch {
    return sig
  }
  switch (kind) {
    case 'zero':
      return b64url(new Uint8Array(raw.length))
    case 'ff':
      return b64url(new Uint8Array(raw.length).fill(0xff))
    case 'truncate':
      return b64url(raw.subarray(0, n % Math.max(1, raw.length)))
    case 'extend':
      return b64url(new Uint8Array([...raw, ...bytes.subarray(0, 1 + (n % 8))]))
    case 'random':
      return b64url(bytes)
    case 'pad':
      return `${sig}${'='.repeat(1 + (n % 2))}`
    case 'std':
      return sig.replace(/-/g, '+').replace(/_/g, '/')
    case 'flip': {
      const copy = raw.slice()
      if (copy.length > 0) copy[n % copy.length] = (copy[n % copy.length] as number) ^ (1 << n % 8)
      return b64url(copy)
    }
    case 'sPlusL': {
      if (raw.length !== 64) return sig
      let s = 0n
      for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(raw[32 + i] as number)
      const copy = raw.slice()
      let v = s + ED25519_L
      for (let i = 0; i < 32; i++, v >>= 8n) copy[32 + i] = Number(v & 0xffn)
      return b64url(copy)
    }
  }
}

export function applyMutation(token: string, step: Step): string {
  const parts = token.split('.')
  const at = (i: number) => i % (token.length + 1)
  switch (step.op) {
    case 'flip': {
      const i = at(step.i) % Math.max(1, token.length)
      return (
        token.slice(0, i) +
        String.fromCharCode(token.charCodeAt(i) ^ (1 << step.bit)) +
        token.slice(i + 1)
      )
    }
    case 'replace':
      return token.slice(0, at(step.i)) + step.c + token.slice(at(step.i) + 1)
    case 'insert':
      return token.slice(0, at(step.i)) + step.c + token.slice(at(step.i))
    case 'delete':
      return token.slice(0, at(step.i)) + token.slice(at(step.i) + step.n)
    case 'segments':
      return step.order.map((i) => parts[i] ?? '').join('.')
    case 'header':
      return [editJson(parts[0] ?? '', step.key, step.value), ...parts.slice(1)].join('.')
    case 'claim':
      return [parts[0], editJson(parts[1] ?? '', step.key, step.value), ...parts.slice(2)].join('.')
    case 'signature':
      return [
        ...parts.slice(0, 2),
        editSignature(parts[2] ?? '', step.kind, step.n, step.bytes),
      ].join('.')
    case 'replaceAll':
      return step.token
  }
}

/**
 * How the token travels: a header carries bytes, and CR, LF and NUL cannot be sent at all.
 * Bytes outside ASCII are sent percent-encoded (workerd re-encodes non-ASCII header strings and
 * warns on every one); unicode still reaches the parser inside the base64url JSON segments.
 */
export function wireToken(token: string): string {
  let out = ''
  for (const byte of new TextEncoder().encode(token)) {
    out += byte < 0x80 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase()}`
  }
  return out.replace(/[\r\n\u0000]/g, 'A')
}
export const trimOws = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '')
