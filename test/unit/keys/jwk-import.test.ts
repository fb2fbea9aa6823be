// importVerificationKey refuses what an issuer must never publish (private members, weak RSA) and
// pins a key to its published `alg`, so a token cannot choose a sibling algorithm for it.

import { exportJWK, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import { importVerificationKey } from '../../../src/keys/jwk-import'
import { makeKey } from '../../helpers/keys'

describe('importVerificationKey', () => {
  it('refuses a JWK that carries private members', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true })
    const leaked = { ...(await exportJWK(privateKey)), kid: 'leaked-private', use: 'sig' }
    expect(leaked.d).toBeTypeOf('string')
    expect(await importVerificationKey(leaked, ['EdDSA'])).toBe('private_key')
  })

  it('refuses an RSA key of 1024 bits', async () => {
    // jose refuses to generate under 2048 bits; WebCrypto does not.
    const pair = (await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair
    const weak = { ...(await exportJWK(pair.publicKey)), kid: 'rsa-1024', alg: 'RS256', use: 'sig' }
    expect(await importVerificationKey(weak, ['RS256'])).toBe('weak_rsa')
  })

  it('imports a 2048-bit RSA key', async () => {
    const key = await makeKey('RS256')
    const imported = await importVerificationKey(key.jwk, ['RS256'])
    expect(imported).toMatchObject({ kid: key.kid, signatureLength: 256 })
  })

  it('pins a key published with alg RS256 to RS256 only, though PS256 is allowed', async () => {
    const key = await makeKey('RS256')
    const imported = await importVerificationKey(key.jwk, ['RS256', 'PS256'])
    if (typeof imported === 'string') throw new Error(`not imported: ${imported}`)
    expect([...imported.byAlg.keys()]).toEqual(['RS256'])
  })

  it('refuses a key whose published alg the issuer does not allow', async () => {
    const key = await makeKey('RS256')
    expect(await importVerificationKey(key.jwk, ['PS256'])).toBe('no_usable_algorithm')
  })
})
