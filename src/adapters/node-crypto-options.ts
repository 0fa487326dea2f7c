/**
 * Every `node:crypto` implementation of Gatehouse's crypto ports, as the `createGatehouse` options
 * they fill: `createGatehouse({ ...nodeCrypto, config, store })`. On Node each is synchronous and
 * skips Web Crypto's thread-pool hop (see docs/benchmarks.md, Flows and Store); the core keeps Web
 * Crypto as its default so it runs anywhere. `gatehouse serve` and `gatehouse dev` use all of them.
 */
import { nodeSignatureVerifier } from './node-crypto.js'
import { nodeSha256 } from './node-sha256.js'
import { nodeSignatureSigner } from './node-signer.js'
import { nodeValueCipher } from './node-value-cipher.js'

export const nodeCrypto = Object.freeze({
  /** Verifies JWS signatures (access tokens, upstream ID tokens, client assertions). */
  signatureVerifier: nodeSignatureVerifier,
  /** Signs Gatehouse's access tokens. */
  signatureSigner: nodeSignatureSigner,
  /** SHA-256 of codes, refresh tokens and PKCE verifiers. */
  sha256: nodeSha256,
  /** Seals stored values (AES-256-GCM). */
  valueCipher: nodeValueCipher,
})
