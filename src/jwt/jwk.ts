/**
 * Which JWS algorithms exist here and which JWK may serve which one. RFC 8725 §3.1: a key is used
 * with exactly one algorithm, so a key is matched against the token's `alg` before any import.
 */
import { ASYMMETRIC_ALGORITHMS } from '../config/protocol.js'

/**
 * A JSON Web Key as found in a JWK Set (RFC 7517); members we do not use are kept but ignored,
 * and an `undefined` member counts as absent.
 */
export interface JWK {
  kty?: string | undefined
  kid?: string | undefined
  alg?: string | undefined
  use?: string | undefined
  key_ops?: string[] | undefined
  crv?: string | undefined
  n?: string | undefined
  e?: string | undefined
  x?: string | undefined
  y?: string | undefined
  k?: string | undefined
  [member: string]: unknown
}

/** A JWK Set (RFC 7517 §5). */
export interface JWKSet {
  keys: JWK[]
}

type Hash = 'SHA-256' | 'SHA-384' | 'SHA-512'

/** How one JWS algorithm verifies: key type, curve, hash and signature family. */
export interface AlgorithmSpec {
  readonly family: 'RSA' | 'PSS' | 'ECDSA' | 'EdDSA' | 'HMAC'
  readonly kty: 'RSA' | 'EC' | 'OKP' | 'oct'
  readonly hash: Hash | undefined
  readonly crv?: string
  /** Exact signature length in bytes where the algorithm fixes it (ECDSA raw r||s, Ed25519). */
  readonly signatureBytes?: number
}

/** Every JWS algorithm this package verifies (RFC 7518 §3, RFC 8037, RFC 9864 `Ed25519`). */
export const ALGORITHMS: Readonly<Record<string, AlgorithmSpec>> = Object.freeze({
  RS256: { family: 'RSA', kty: 'RSA', hash: 'SHA-256' },
  RS384: { family: 'RSA', kty: 'RSA', hash: 'SHA-384' },
  RS512: { family: 'RSA', kty: 'RSA', hash: 'SHA-512' },
  PS256: { family: 'PSS', kty: 'RSA', hash: 'SHA-256' },
  PS384: { family: 'PSS', kty: 'RSA', hash: 'SHA-384' },
  PS512: { family: 'PSS', kty: 'RSA', hash: 'SHA-512' },
  ES256: { family: 'ECDSA', kty: 'EC', hash: 'SHA-256', crv: 'P-256', signatureBytes: 64 },
  ES384: { family: 'ECDSA', kty: 'EC', hash: 'SHA-384', crv: 'P-384', signatureBytes: 96 },
  ES512: { family: 'ECDSA', kty: 'EC', hash: 'SHA-512', crv: 'P-521', signatureBytes: 132 },
  EdDSA: { family: 'EdDSA', kty: 'OKP', hash: undefined, crv: 'Ed25519', signatureBytes: 64 },
  Ed25519: { family: 'EdDSA', kty: 'OKP', hash: undefined, crv: 'Ed25519', signatureBytes: 64 },
  HS256: { family: 'HMAC', kty: 'oct', hash: 'SHA-256' },
  HS384: { family: 'HMAC', kty: 'oct', hash: 'SHA-384' },
  HS512: { family: 'HMAC', kty: 'oct', hash: 'SHA-512' },
} satisfies Record<string, AlgorithmSpec>)

/** The asymmetric algorithms a `JWTVerifier` accepts when none are configured. */
export const DEFAULT_ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze([
  ...ASYMMETRIC_ALGORITHMS,
])

/** The spec of a known algorithm, or `undefined` (never for `none`). */
export function algorithmSpec(alg: string): AlgorithmSpec | undefined {
  return Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined
}

/** Whether `alg` is an HMAC algorithm (needs a shared secret, never a JWKS key). */
export function isHMACAlgorithm(alg: string): boolean {
  return algorithmSpec(alg)?.family === 'HMAC'
}

/** Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger). */
const MIN_RSA_MODULUS_BYTES = 256

/**
 * Returns the public members of `jwk` needed to verify `alg`, or `undefined` when this key must not
 * be used for `alg`.
 *
 * Refused: an unknown `alg`; a key whose `alg` is set and differs; `use` other than `sig`;
 * `key_ops` without `verify`; a `kty` or `crv` that does not fit the algorithm; an RSA modulus
 * under 2048 bits; an HMAC secret shorter than the hash output (RFC 7518 §3.2); missing
 * members. Private members (`d`, `p`, …) are dropped, never passed on. Not checked: that the
 * coordinates lie on the curve (the crypto import does that).
 */
export function selectJWKForAlgorithm(jwk: unknown, alg: string): JWK | undefined {
  const spec = algorithmSpec(alg)
  if (spec === undefined || typeof jwk !== 'object' || jwk === null) return undefined
  const key = jwk as JWK
  if (key.kty !== spec.kty) return undefined
  if (key.alg !== undefined && key.alg !== alg) return undefined
  if (key.use !== undefined && key.use !== 'sig') return undefined
  if (key.key_ops !== undefined) {
    if (!Array.isArray(key.key_ops) || !key.key_ops.includes('verify')) return undefined
  }
  switch (spec.kty) {
    case 'RSA': {
      const { n, e } = key
      if (typeof n !== 'string' || typeof e !== 'string') return undefined
      if (Math.floor((n.length * 3) / 4) < MIN_RSA_MODULUS_BYTES) return undefined
      return { kty: 'RSA', n, e }
    }
    case 'EC': {
      const { crv } = spec
      const { x, y } = key
      if (crv === undefined || key.crv !== crv) return undefined
      if (typeof x !== 'string' || typeof y !== 'string') return undefined
      return { kty: 'EC', crv, x, y }
    }
    case 'OKP': {
      const { crv } = spec
      const { x } = key
      if (crv === undefined || key.crv !== crv || typeof x !== 'string') return undefined
      return { kty: 'OKP', crv, x }
    }
    case 'oct': {
      const { k } = key
      const minBytes = spec.hash === 'SHA-512' ? 64 : spec.hash === 'SHA-384' ? 48 : 32
      if (typeof k !== 'string' || Math.floor((k.length * 3) / 4) < minBytes) return undefined
      return { kty: 'oct', k }
    }
  }
}
