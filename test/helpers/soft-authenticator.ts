// A software WebAuthn authenticator for tests (no browser): a real key pair (ES256 or Ed25519),
// real 'none' attestations and real signed assertions, byte for byte what a browser would hand
// the server, with overrides (origin, RP ID, challenge, counter, flags, signing key) so each
// verification check can be reached on its own. Holds its private key in memory only.

import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { decodeBase64Url, encodeBase64Url } from '../../src/lib/base64url'

export type SoftAlgorithm = 'ES256' | 'EdDSA'

/** Per-ceremony deviations from an honest authenticator and browser. */
export interface SoftOverrides {
  origin?: string
  rpId?: string
  challenge?: string
  /** Counter to report (default: the authenticator's own, incremented per assertion). */
  counter?: number
  /** UV flag (default true). */
  userVerified?: boolean
  /** UP flag (default true). */
  userPresent?: boolean
  /** BE and BS flags (default: the authenticator's `backedUp`). */
  backedUp?: boolean
  /** clientDataJSON type (default webauthn.create / webauthn.get). */
  type?: string
  /** Sign with another authenticator's private key (same credential id and everything else). */
  signer?: SoftAuthenticator
  /** userHandle to report, base64url (null: none). Default: the user.id it registered. */
  userHandle?: string | null
}

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_BE = 0x08
const FLAG_BS = 0x10
const FLAG_AT = 0x40
const CREDENTIAL_ID_BYTES = 32
const AAGUID = new Uint8Array(16)
const utf8 = new TextEncoder()

// ---- a minimal CBOR encoder (RFC 8949): unsigned/negative ints, bytes, text, arrays, maps ----
type Cbor = number | string | Uint8Array | Cbor[] | Map<number | string, Cbor>

function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  const out = new DataView(new ArrayBuffer(5))
  out.setUint8(0, m | 26)
  out.setUint32(1, n)
  return new Uint8Array(out.buffer)
}

function encodeCbor(value: Cbor): Uint8Array {
  if (typeof value === 'number') {
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value)
  }
  if (typeof value === 'string') {
    const bytes = utf8.encode(value)
    return concat(cborHead(3, bytes.length), bytes)
  }
  if (value instanceof Uint8Array) return concat(cborHead(2, value.length), value)
  if (Array.isArray(value)) return concat(cborHead(4, value.length), ...value.map(encodeCbor))
  const parts = [...value].flatMap(([k, v]) => [encodeCbor(k), encodeCbor(v)])
  return concat(cborHead(5, value.size), ...parts)
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
}

/** An IEEE P1363 ECDSA signature (r‖s) as the ASN.1 DER WebAuthn requires (§6.5.6). */
function derInteger(raw: Uint8Array): Uint8Array {
  let start = 0
  while (start < raw.length - 1 && raw[start] === 0) start++
  const body = raw.subarray(start)
  const padded = (body[0] as number) & 0x80 ? concat(Uint8Array.of(0), body) : body
  return concat(Uint8Array.of(0x02, padded.length), padded)
}

function ecdsaToDer(signature: Uint8Array): Uint8Array {
  const half = signature.length / 2
  const seq = concat(derInteger(signature.subarray(0, half)), derInteger(signature.subarray(half)))
  return concat(Uint8Array.of(0x30, seq.length), seq)
}

async function generateKeys(algorithm: SoftAlgorithm): Promise<CryptoKeyPair> {
  const params =
    algorithm === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }
  return (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair
}

/** The credential public key as a COSE_Key (RFC 9053): EC2 P-256 for ES256, OKP Ed25519. */
async function coseKey(algorithm: SoftAlgorithm, publicKey: CryptoKey): Promise<Uint8Array> {
  const raw = new Uint8Array((await crypto.subtle.exportKey('raw', publicKey)) as ArrayBuffer)
  if (algorithm === 'EdDSA') {
    return encodeCbor(
      new Map<number, Cbor>([
        [1, 1],
        [3, -8],
        [-1, 6],
        [-2, raw],
      ]),
    )
  }
  // raw is 0x04 ‖ x ‖ y (SEC 1 uncompressed point)
  const x = raw.subarray(1, 33)
  const y = raw.subarray(33, 65)
  return encodeCbor(
    new Map<number, Cbor>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, x],
      [-3, y],
    ]),
  )
}

export class SoftAuthenticator {
  /** The counter the next assertion reports is counter + 1 (0 at registration). */
  counter = 0
  /** The base64url user handle the last registration stored (options.user.id). */
  userHandle: string | null = null

  private constructor(
    readonly algorithm: SoftAlgorithm,
    readonly credentialId: string,
    private readonly keys: CryptoKeyPair,
    readonly backedUp: boolean,
    readonly transports: string[],
  ) {}

  /** A new authenticator with one credential. `backedUp` sets BE|BS (a synced passkey). */
  static async create(
    options: { algorithm?: SoftAlgorithm; backedUp?: boolean; transports?: string[] } = {},
  ): Promise<SoftAuthenticator> {
    const algorithm = options.algorithm ?? 'ES256'
    const id = encodeBase64Url(crypto.getRandomValues(new Uint8Array(CREDENTIAL_ID_BYTES)))
    return new SoftAuthenticator(
      algorithm,
      id,
      await generateKeys(algorithm),
      options.backedUp ?? false,
      options.transports ?? ['internal', 'hybrid'],
    )
  }

  private flags(o: SoftOverrides, extra: number): number {
    const backedUp = o.backedUp ?? this.backedUp
    return (
      ((o.userPresent ?? true) ? FLAG_UP : 0) |
      ((o.userVerified ?? true) ? FLAG_UV : 0) |
      (backedUp ? FLAG_BE | FLAG_BS : 0) |
      extra
    )
  }

  private async authData(rpId: string, flags: number, counter: number, attested?: Uint8Array) {
    const head = new DataView(new ArrayBuffer(5))
    head.setUint8(0, flags)
    head.setUint32(1, counter)
    return concat(
      await sha256(utf8.encode(rpId)),
      new Uint8Array(head.buffer),
      attested ?? new Uint8Array(0),
    )
  }

  private clientData(type: string, challenge: string, origin: string): string {
    return encodeBase64Url(
      utf8.encode(JSON.stringify({ type, challenge, origin, crossOrigin: false })),
    )
  }

  /** navigator.credentials.create() answering `options` on the page at `origin`. */
  async register(
    options: Pick<PublicKeyCredentialCreationOptionsJSON, 'challenge' | 'rp' | 'user'>,
    origin: string,
    o: SoftOverrides = {},
  ): Promise<RegistrationResponseJSON> {
    this.userHandle = options.user.id
    const rpId = o.rpId ?? options.rp.id ?? new URL(origin).hostname
    const idBytes = decodeBase64Url(this.credentialId) as Uint8Array
    const idLength = Uint8Array.of(idBytes.length >> 8, idBytes.length & 0xff)
    const key = await coseKey(this.algorithm, this.keys.publicKey)
    const attested = concat(AAGUID, idLength, idBytes, key)
    const counter = o.counter ?? this.counter
    const authData = await this.authData(rpId, this.flags(o, FLAG_AT), counter, attested)
    const attestationObject = encodeCbor(
      new Map<string, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    )
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData(
          o.type ?? 'webauthn.create',
          o.challenge ?? options.challenge,
          o.origin ?? origin,
        ),
        attestationObject: encodeBase64Url(attestationObject),
        transports: [...this.transports],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  /** navigator.credentials.get() answering `options` on the page at `origin`. */
  async authenticate(
    options: Pick<PublicKeyCredentialRequestOptionsJSON, 'challenge' | 'rpId'>,
    origin: string,
    o: SoftOverrides = {},
  ): Promise<AuthenticationResponseJSON> {
    const rpId = o.rpId ?? options.rpId ?? new URL(origin).hostname
    const counter = o.counter ?? ++this.counter
    const authData = await this.authData(rpId, this.flags(o, 0), counter)
    const clientDataJSON = this.clientData(
      o.type ?? 'webauthn.get',
      o.challenge ?? options.challenge,
      o.origin ?? origin,
    )
    const signed = concat(authData, await sha256(decodeBase64Url(clientDataJSON) as Uint8Array))
    const signature = await (o.signer ?? this).sign(signed)
    const userHandle = o.userHandle === undefined ? this.userHandle : o.userHandle
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: encodeBase64Url(authData),
        signature: encodeBase64Url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  private async sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.algorithm === 'EdDSA') {
      return new Uint8Array(await crypto.subtle.sign('Ed25519', this.keys.privateKey, data))
    }
    const params = { name: 'ECDSA', hash: 'SHA-256' }
    return ecdsaToDer(new Uint8Array(await crypto.subtle.sign(params, this.keys.privateKey, data)))
  }
}
