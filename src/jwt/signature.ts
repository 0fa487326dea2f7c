/**
 * Signature verification behind one small interface, so the runtime-neutral core can use Web
 * Crypto while Node entry points inject the faster synchronous `node:crypto` path
 * (`adapters/node-crypto.ts`). Both implementations pass the same tests.
 */

import { algorithmSpec, selectJWKForAlgorithm } from './jwk.js'
import type { JWK } from './jwk.js'

/**
 * Checks one signature over `data`. May be synchronous (node:crypto) or not (Web Crypto); callers
 * only await a returned promise. Never throws for a wrong signature: it answers `false`.
 */
export type VerifyFunction = (data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>

/**
 * Imports a public key (or an HMAC secret as an `oct` JWK) for exactly one algorithm.
 *
 * Callers import once per (issuer, kid, alg) and keep the returned function. Implementations
 * refuse, by rejecting, a key that `selectJWKForAlgorithm` would not use for `alg`.
 */
export interface SignatureVerifierFactory {
  importKey(jwk: JWK | JsonWebKey, alg: string): Promise<VerifyFunction>
}

/**
 * Returns the checked public JWK for `alg` or throws a `TypeError`: shared by every
 * `SignatureVerifierFactory` so that both refuse the same keys.
 */
export function requireJWKForAlgorithm(jwk: JWK | JsonWebKey, alg: string): JWK {
  const key = selectJWKForAlgorithm(jwk, alg)
  if (key === undefined) throw new TypeError(`this key cannot verify ${alg}`)
  return key
}

type ImportParams = RsaHashedImportParams | EcKeyImportParams | HmacImportParams | Algorithm
type VerifyParams = AlgorithmIdentifier | RsaPssParams | EcdsaParams

/**
 * The Web Crypto (`crypto.subtle`) `SignatureVerifierFactory`: RS*, PS*, ES* (raw r||s of the
 * exact length, RFC 7518 §3.4), EdDSA/Ed25519 and HS* for explicitly configured secrets.
 *
 * Defaults: PSS salt length = hash length. Not checked: nothing beyond what Web Crypto checks
 * (curve membership on import, DER-free ECDSA). Rejects the import for an unusable key.
 */
export const webCryptoSignatureVerifier: SignatureVerifierFactory = {
  async importKey(jwk, alg) {
    const spec = algorithmSpec(alg)
    const key = requireJWKForAlgorithm(jwk, alg)
    if (spec === undefined) throw new TypeError(`unsupported algorithm ${alg}`)
    const hash = spec.hash ?? 'SHA-256'
    let importParams: ImportParams
    let verifyParams: VerifyParams
    switch (spec.family) {
      case 'RSA':
        importParams = { name: 'RSASSA-PKCS1-v1_5', hash }
        verifyParams = { name: 'RSASSA-PKCS1-v1_5' }
        break
      case 'PSS':
        importParams = { name: 'RSA-PSS', hash }
        verifyParams = { name: 'RSA-PSS', saltLength: hashBytes(hash) }
        break
      case 'ECDSA':
        importParams = { name: 'ECDSA', namedCurve: spec.crv ?? '' }
        verifyParams = { name: 'ECDSA', hash }
        break
      case 'EdDSA':
        importParams = { name: 'Ed25519' }
        verifyParams = { name: 'Ed25519' }
        break
      case 'HMAC':
        importParams = { name: 'HMAC', hash }
        verifyParams = { name: 'HMAC' }
        break
    }
    const cryptoKey = await crypto.subtle.importKey('jwk', key as JsonWebKey, importParams, false, [
      'verify',
    ])
    const expectedLength = spec.signatureBytes
    return async (data, signature) => {
      if (expectedLength !== undefined && signature.length !== expectedLength) return false
      try {
        // Our decoders allocate plain ArrayBuffers; the cast only narrows the generic.
        return await crypto.subtle.verify(
          verifyParams,
          cryptoKey,
          signature as Uint8Array<ArrayBuffer>,
          data as Uint8Array<ArrayBuffer>,
        )
      } catch {
        return false
      }
    }
  },
}

function hashBytes(hash: string): number {
  return hash === 'SHA-512' ? 64 : hash === 'SHA-384' ? 48 : 32
}
