/**
 * The `dpop` section and the per-resource `dpop` option: DPoP (RFC 9449), proof of possession for
 * access and refresh tokens. On by default at the token endpoint (a client that sends no proof
 * gets bearer tokens as before) and optional at every resource; server nonces are off by default.
 */
import * as z from 'zod'

/** The JWS algorithms a DPoP proof may use: asymmetric only (RFC 9449 §4.3 check 5). */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
] as const

export type DPoPAlgorithm = (typeof DPOP_ALGORITHMS)[number]

export const DPoPSchema = z.strictObject({
  /**
   * Accept DPoP proofs at /token and `Authorization: DPoP` at the resources, and advertise
   * `dpop_signing_alg_values_supported`. Default true. Off: a `DPoP` header at /token is ignored
   * (bearer tokens), the DPoP scheme at a resource is refused, and no resource may require DPoP.
   */
  enabled: z.boolean().default(true),
  /** Proof algorithms accepted (and advertised). Default: every asymmetric one. */
  algorithms: z
    .array(z.enum(DPOP_ALGORITHMS))
    .min(1)
    .default([...DPOP_ALGORITHMS]),
  /**
   * How old a proof may be (`iat` in the past); a proof from the future is accepted up to
   * `clockToleranceSeconds`. Its `jti` is remembered (in the store, for all instances) this long.
   */
  proofMaxAgeSeconds: z.number().int().min(10).max(600).default(120),
  /**
   * Server-provided nonces (RFC 9449 §8, §9): a proof must carry a nonce the server issued, or the
   * answer is `use_dpop_nonce` with a fresh `DPoP-Nonce` header. Stateless: a nonce is an HMAC
   * (key derived from `secret`) of a time window, valid for its window and the one after, so
   * every instance accepts every other instance's nonces without a store read.
   */
  nonce: z
    .strictObject({
      /** Require nonces at /token. Default false. Resources opt in with `resources[].dpop.nonce`. */
      enabled: z.boolean().default(false),
      /** How often a new nonce is minted; a nonce is accepted for up to twice this. */
      rotationSeconds: z.number().int().min(10).max(3600).default(300),
    })
    .prefault({}),
})

export type DPoPConfig = z.output<typeof DPoPSchema>

/** `resources[].dpop`: how one protected resource treats DPoP. */
export const ResourceDPoPSchema = z.strictObject({
  /**
   * `true`: only DPoP-bound tokens presented with `Authorization: DPoP` and a proof pass; a bearer
   * token is refused, and the protected-resource metadata says
   * `dpop_bound_access_tokens_required: true`. Default false: bearer and DPoP both work (a
   * DPoP-bound token is never accepted as a bearer token either way).
   */
  required: z.boolean().default(false),
  /** Require a server nonce in proofs sent to this resource (see `dpop.nonce`). Default false. */
  nonce: z.boolean().default(false),
})
