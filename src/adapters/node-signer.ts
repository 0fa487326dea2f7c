/**
 * The `node:crypto` implementation of `SignatureSignerFactory` (`jwt/signer.ts`): synchronous
 * signing on a pre-imported private `KeyObject`, with no thread-pool hop and none of jose's
 * per-call work. Measured on a 2-core VM (issue 17), process CPU per signature against Web Crypto
 * through jose: RS256 ~393 vs ~565 µs, ES256 ~58 vs ~216 µs, EdDSA ~40 vs ~189 µs. Node entry
 * points inject it (`createGatehouse({ signatureSigner })`); the core never imports this file.
 */
import { createPrivateKey, sign } from 'node:crypto'
import type { JsonWebKey as NodeJsonWebKey, KeyObject, SignKeyObjectInput } from 'node:crypto'
import type { SignatureSignerFactory, SignerAlgorithm } from '../jwt/signer.js'

/** The JWK key type each algorithm needs; anything else is refused at import. */
const KEY_TYPE: Record<SignerAlgorithm, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
}

/**
 * Signs with `node:crypto`: RS256 (PKCS#1 v1.5, SHA-256), ES256 (`dsaEncoding: 'ieee-p1363'`, the
 * raw r||s JWS wants) and EdDSA (Ed25519, `null` digest). The import rejects a key whose type or
 * curve does not fit the algorithm, or that OpenSSL refuses.
 */
export const nodeSignatureSigner: SignatureSignerFactory = {
  importKey(privateJwk, alg) {
    try {
      // Callers in plain JavaScript may pass any string.
      const expected = (KEY_TYPE as Partial<Record<string, { kty: string; crv?: string }>>)[alg]
      if (expected === undefined) throw new TypeError(`unsupported signing algorithm ${alg}`)
      if (
        privateJwk.kty !== expected.kty ||
        (expected.crv !== undefined && privateJwk.crv !== expected.crv)
      ) {
        throw new TypeError(`this key cannot sign ${alg}`)
      }
      const key: KeyObject = createPrivateKey({ key: privateJwk as NodeJsonWebKey, format: 'jwk' })
      const input: KeyObject | SignKeyObjectInput =
        alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key
      const hash = alg === 'EdDSA' ? null : 'sha256'
      return Promise.resolve((data: Uint8Array) => sign(hash, data, input))
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError('key import failed'))
    }
  },
}
