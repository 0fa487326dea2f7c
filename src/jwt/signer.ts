/**
 * Signing behind one small interface, the counterpart of `signature.ts`: the runtime-neutral core
 * signs its access tokens with Web Crypto, while Node entry points inject the synchronous
 * `node:crypto` path (`nodeSignatureSigner`, `adapters/node-crypto.ts`). Measured on a 2-core VM
 * (issue 17), one RS256 signature: Web Crypto through jose ~565 µs of process CPU (a thread-pool
 * hop and jose's checks), node:crypto ~393 µs; ES256 ~216 vs ~58 µs; EdDSA ~189 vs ~40 µs.
 */

/** Signs the JWS signing input; returns the raw signature (r||s for ECDSA, RFC 7518 §3.4). */
export type SignFunction = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>

/** The algorithms Gatehouse signs with (`SigningAlgorithm` of `tokens/keys.ts`). */
export type SignerAlgorithm = 'RS256' | 'ES256' | 'EdDSA'

/**
 * Imports a private JWK for exactly one algorithm and returns its signing function. Callers import
 * once per key and keep the function. Rejects for a key that does not fit the algorithm.
 */
export interface SignatureSignerFactory {
  importKey(privateJwk: JsonWebKey, alg: SignerAlgorithm): Promise<SignFunction>
}

interface WebCryptoParams {
  import: RsaHashedImportParams | EcKeyImportParams | Algorithm
  sign: AlgorithmIdentifier | EcdsaParams
}

const WEB_CRYPTO_PARAMS: Record<SignerAlgorithm, WebCryptoParams> = {
  RS256: {
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  ES256: {
    import: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
  },
  EdDSA: { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
}

/** The Web Crypto (`crypto.subtle`) `SignatureSignerFactory`, the default on every runtime. */
export const webCryptoSignatureSigner: SignatureSignerFactory = {
  async importKey(privateJwk, alg) {
    // Callers in plain JavaScript may pass any string.
    const params = (WEB_CRYPTO_PARAMS as Partial<Record<string, WebCryptoParams>>)[alg]
    if (params === undefined) throw new TypeError(`unsupported signing algorithm ${alg}`)
    const key = await crypto.subtle.importKey('jwk', privateJwk, params.import, false, ['sign'])
    return async (data) =>
      new Uint8Array(await crypto.subtle.sign(params.sign, key, data as Uint8Array<ArrayBuffer>))
  },
}
