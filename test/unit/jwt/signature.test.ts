import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../../src/adapters/node-crypto.js'
import { encodeBase64URL } from '../../../src/jwt/base64url.js'
import { parseJWS } from '../../../src/jwt/jws.js'
import { selectJWKForAlgorithm } from '../../../src/jwt/jwk.js'
import type { JWK } from '../../../src/jwt/jwk.js'
import { webCryptoSignatureVerifier } from '../../../src/jwt/signature.js'
import type { SignatureVerifierFactory } from '../../../src/jwt/signature.js'
import { craftToken, createTestKey, signToken } from '../../helpers/jwt-fixtures.js'

const factories: [string, SignatureVerifierFactory][] = [
  ['Web Crypto', webCryptoSignatureVerifier],
  ['node:crypto', nodeSignatureVerifier],
]
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']
const algorithms = new Set([...ASYMMETRIC, 'EdDSA', 'HS256', 'HS384', 'HS512'])

function parts(token: string) {
  const { signingInput, signature } = parseJWS(token, { algorithms })
  return { signingInput, signature }
}

describe.each(factories)('%s signature verifier', (_name, factory) => {
  it.each([...ASYMMETRIC, 'EdDSA'])('verifies %s and rejects a flipped bit', async (alg) => {
    const key = await createTestKey(alg)
    const { signingInput, signature } = parts(await signToken(key))
    const verify = await factory.importKey(key.publicJwk, alg)
    expect(await verify(signingInput, signature)).toBe(true)
    const tampered = signature.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1
    expect(await verify(signingInput, tampered)).toBe(false)
    const otherInput = signingInput.slice()
    otherInput[0] = (otherInput[0] ?? 0) ^ 1
    expect(await verify(otherInput, signature)).toBe(false)
  })

  it.each(['HS256', 'HS384', 'HS512'])('verifies %s with an explicit secret', async (alg) => {
    const secret = crypto.getRandomValues(new Uint8Array(64))
    const token = await craftToken({ alg }, { a: 1 }, { secret, alg })
    const { signingInput, signature } = parts(token)
    const verify = await factory.importKey({ kty: 'oct', k: encodeBase64URL(secret) }, alg)
    expect(await verify(signingInput, signature)).toBe(true)
    expect(await verify(signingInput, signature.subarray(1))).toBe(false)
    const other = crypto.getRandomValues(new Uint8Array(64))
    const wrong = await factory.importKey({ kty: 'oct', k: encodeBase64URL(other) }, alg)
    expect(await wrong(signingInput, signature)).toBe(false)
  })

  it('rejects an ECDSA signature of the wrong length (DER or truncated)', async () => {
    const key = await createTestKey('ES256')
    const { signingInput, signature } = parts(await signToken(key))
    const verify = await factory.importKey(key.publicJwk, 'ES256')
    expect(await verify(signingInput, signature.subarray(0, 63))).toBe(false)
    const padded = new Uint8Array(65)
    padded.set(signature, 1)
    expect(await verify(signingInput, padded)).toBe(false)
  })

  it('rejects ES256 with r = s = 0 (CVE-2022-21449 class)', async () => {
    const key = await createTestKey('ES256')
    const { signingInput } = parts(await signToken(key))
    const verify = await factory.importKey(key.publicJwk, 'ES256')
    expect(await verify(signingInput, new Uint8Array(64))).toBe(false)
  })

  it('refuses keys that must not serve the algorithm', async () => {
    const rsa = await createTestKey('RS256')
    const ec = await createTestKey('ES256')
    const refused: [JWK, string][] = [
      [rsa.publicJwk, 'RS512'], // jwk alg set and different
      [rsa.publicJwk, 'PS256'],
      [{ ...rsa.publicJwk, alg: undefined, use: 'enc' }, 'RS256'],
      [{ ...rsa.publicJwk, alg: undefined, key_ops: ['encrypt'] }, 'RS256'],
      [{ ...ec.publicJwk, alg: undefined }, 'ES384'], // curve does not fit
      [ec.publicJwk, 'RS256'], // kty does not fit
      [{ ...rsa.publicJwk, alg: undefined }, 'HS256'],
      [{ kty: 'oct', k: encodeBase64URL(new Uint8Array(16)) }, 'HS256'], // secret too short
      [{ ...rsa.publicJwk, alg: 'none' }, 'none'],
    ]
    for (const [jwk, alg] of refused) {
      await expect(factory.importKey(jwk, alg)).rejects.toThrow(TypeError)
    }
  })

  it('refuses an RSA key under 2048 bits', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const jwk = publicKey.export({ format: 'jwk' }) as JWK
    await expect(factory.importKey(jwk, 'RS256')).rejects.toThrow(TypeError)
  })

  it('rejects the import of an EC point that is not on the curve', async () => {
    const ec = await createTestKey('ES256')
    const x = encodeBase64URL(new Uint8Array(32).fill(1))
    const jwk = { ...ec.publicJwk, x, y: x }
    await expect(factory.importKey(jwk, 'ES256')).rejects.toThrow()
  })

  it('never uses private members of a published key', async () => {
    const key = await createTestKey('ES256')
    const jwk = { ...key.publicJwk, d: 'not-a-real-private-scalar' }
    const verify = await factory.importKey(jwk, 'ES256')
    const { signingInput, signature } = parts(await signToken(key))
    expect(await verify(signingInput, signature)).toBe(true)
  })
})

describe('selectJWKForAlgorithm', () => {
  it('returns only the public members', async () => {
    const key = await createTestKey('RS256')
    const selected = selectJWKForAlgorithm({ ...key.publicJwk, d: 'x', p: 'y' }, 'RS256')
    expect(selected).toEqual({ kty: 'RSA', n: key.publicJwk.n, e: key.publicJwk.e })
  })

  it('accepts key_ops with verify and use sig', async () => {
    const key = await createTestKey('ES256')
    const jwk = { ...key.publicJwk, key_ops: ['verify'], use: 'sig' }
    expect(selectJWKForAlgorithm(jwk, 'ES256')).toBeDefined()
  })
})
