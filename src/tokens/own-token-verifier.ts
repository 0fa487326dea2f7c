/**
 * The verifier for Gatehouse's own access tokens: a `JWTVerifier` over the server's signing keys
 * (RFC 9068: `typ` at+jwt, exact issuer, audience one of the resources) plus the grant's liveness
 * through a small port (`GrantLiveness`), so a revoked grant's tokens stop within
 * `revocationCheckSeconds` without a store read per request.
 */
import type { ResolvedConfig } from '../config/schema.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import { JWKSCache } from '../jwt/jwks-cache.js'
import type { VerifierObserver } from '../jwt/observer.js'
import { JWTVerifier } from '../jwt/verifier.js'
import type { AccessToken, TokenVerifier, UpstreamIdentity } from '../jwt/access-token.js'
import type { SigningKeys } from './keys.js'

/**
 * The port through which the verifier asks whether a token's grant still lives (the grant store
 * implements it): a cached answer may come back synchronously; a store error rejects (fail closed).
 */
export interface GrantLiveness {
  isActive(grantId: string): boolean | Promise<boolean>
}

export interface OwnTokenVerifierOptions {
  config: ResolvedConfig
  keys: SigningKeys
  /** Whether a grant still lives: the grant store, or anything answering the same question. */
  grants: GrantLiveness
  now: () => number
  signatureVerifier?: SignatureVerifierFactory
  /** Told about cache hits, key loads and tokens of revoked grants (metrics, logs). */
  observer?: VerifierObserver & { inactiveGrant?(): void }
}

/** Creates the verifier; tokens without a grant id are refused (Gatehouse always sets one). */
export function createOwnTokenVerifier(options: OwnTokenVerifierOptions): TokenVerifier {
  const { config, keys, grants } = options
  const jwt = new JWTVerifier({
    issuer: config.issuer,
    audience: config.resources.map((r) => r.url),
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    keys: async () => {
      await keys.refresh()
      return keys.jwks()
    },
    // Keys live in this process: an unknown kid (another instance rotated) may reload them often.
    jwksCache: new JWKSCache({
      cooldownMs: 1_000,
      ttlMs: 60_000,
      maxIssuers: 1,
      now: options.now,
    }),
    typ: 'at+jwt',
    cache: config.guardCache.tokens === 0 ? false : { maxEntries: config.guardCache.tokens },
    clockToleranceSeconds: config.clockToleranceSeconds,
    now: options.now,
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  })
  // The JWT verifier hands out one frozen object per cached token: derive ours once per object.
  // Most tokens need nothing derived and get no WeakMap entry (ephemerons cost the GC on each
  // new token).
  const derived = new WeakMap<AccessToken, AccessToken>()
  return {
    async verifyToken(token: string): Promise<AccessToken | undefined> {
      const verified = await jwt.verifyToken(token)
      if (verified?.grantId === undefined) return undefined
      const active = grants.isActive(verified.grantId)
      if (!(typeof active === 'boolean' ? active : await active)) {
        options.observer?.inactiveGrant?.()
        return undefined
      }
      if (!needsIdentity(verified)) return verified
      let result = derived.get(verified)
      if (result === undefined) {
        result = withIdentity(verified)
        derived.set(verified, result)
      }
      return result
    },
  }
}

/**
 * Reads the identity claims Gatehouse put in its own token:
 * - `idp`: a token from an identity-assertion grant names the enterprise IdP that asserted its
 *   subject: that IdP, not Gatehouse, is the principal's issuer, so equal `sub` values from two
 *   IdPs are two users. The token's own `iss` stays in `claims.iss`.
 * - `upstream`: the user at the identity provider of a proxy sign-in, as `AccessToken.upstream`.
 * - `gty: "client_credentials"`: no user; the subject is the client (only Gatehouse sets `gty`),
 *   so the token is marked `machine`.
 */
function withIdentity(token: AccessToken): AccessToken {
  const idp = token.claims.idp
  const upstream = upstreamOf(token.claims.upstream)
  const machine = token.claims.gty === 'client_credentials'
  return Object.freeze({
    ...token,
    ...(typeof idp === 'string' ? { issuer: idp } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(machine ? { machine: true } : {}),
  })
}

/** Whether {@link withIdentity} has anything to add (else the verified token is returned as is). */
function needsIdentity(token: AccessToken): boolean {
  const { idp, upstream, gty } = token.claims
  return (
    typeof idp === 'string' ||
    (typeof upstream === 'object' && upstream !== null) ||
    gty === 'client_credentials'
  )
}

function upstreamOf(claim: unknown): UpstreamIdentity | undefined {
  if (typeof claim !== 'object' || claim === null) return undefined
  const { iss, sub, tid, oid } = claim as Record<string, unknown>
  if (typeof iss !== 'string' || typeof sub !== 'string') return undefined
  return Object.freeze({
    issuer: iss,
    subject: sub,
    ...(typeof tid === 'string' ? { tenantId: tid } : {}),
    ...(typeof oid === 'string' ? { objectId: oid } : {}),
  })
}
