/**
 * DPoP (RFC 9449) at the authorization server: the hooks the token and authorization endpoints
 * call, and the policy both the token endpoint and the resource guard use. Proof checking itself
 * is in jwt/dpop-proof.ts. Rules here:
 * 1. /token: a request with a `DPoP` header must carry a valid proof for `POST` and the token
 *    endpoint's URL (`invalid_dpop_proof`, 400), with a current server nonce when `dpop.nonce` is
 *    on (`use_dpop_nonce`, 400, with a fresh `DPoP-Nonce`); the access token is then bound to the
 *    proof's key (`cnf.jkt`, `token_type: DPoP`). No header: a bearer token, as before.
 * 2. A code issued for a `dpop_jkt` is redeemed only with a proof of that key (§10); a public
 *    client's refresh token issued with a proof is used only with a proof of the same key (§5):
 *    otherwise `invalid_grant`, checked before anything is redeemed or rotated (the grants call
 *    contract/dpop-binding.ts for this).
 * 3. A proof's `jti` is spent in the store (`dpop-jti:`), so a replay fails on every instance.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { createDPoPNonces } from '../jwt/dpop-nonce.js'
import { isJWKThumbprint, verifyRequestProof, type DPoPPolicy } from '../jwt/dpop-proof.js'
import { claimOnce } from '../storage/claim-once.js'
import { storageKey } from '../storage/keys.js'
import type { Store } from '../storage/store.js'
import { endpointsOf } from './metadata.js'
import type { OAuthClientInformation, TokenBinding } from '../contract/types.js'

/** The headers a DPoP error or a response carrying a nonce exposes to browser clients. */
const EXPOSE = { 'access-control-expose-headers': 'WWW-Authenticate, DPoP-Nonce' }

/** The DPoP policy for `config`, or `undefined` when `dpop.enabled` is false. */
export async function createDPoPPolicy(
  config: ResolvedConfig,
  store: Store,
  now: () => number,
): Promise<DPoPPolicy | undefined> {
  const dpop = config.dpop
  if (!dpop.enabled) return undefined
  const anyNonce = dpop.nonce.enabled || config.resources.some((r) => r.dpop.nonce)
  const nonces = anyNonce
    ? await createDPoPNonces({
        secret: config.secret,
        rotationSeconds: dpop.nonce.rotationSeconds,
        now,
      })
    : undefined
  return {
    algorithms: dpop.algorithms,
    maxAgeSeconds: dpop.proofMaxAgeSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now,
    spendJti: (key, ttlSeconds) => claimOnce(store, storageKey.dpopJti(key), ttlSeconds),
    ...(nonces ? { nonces } : {}),
    nonceAtToken: dpop.nonce.enabled,
  }
}

/** RFC 9449 §5.1: the metadata member, present exactly when DPoP is on. */
export function dpopServerMetadata(config: ResolvedConfig): Record<string, unknown> {
  return config.dpop.enabled
    ? { dpop_signing_alg_values_supported: [...config.dpop.algorithms] }
    : {}
}

/** A token request's proof, checked; its `jti` not spent yet. */
export interface CheckedTokenProof {
  /** The proof key's thumbprint for the grant, or none when no proof was sent (or DPoP is off). */
  readonly binding: TokenBinding
  /**
   * Spends the proof's `jti` (RFC 9449 §11.1), once the client has authenticated: a replay is
   * `invalid_dpop_proof`. Nothing is written for a request that never authenticates.
   */
  spend(): Promise<void>
}

/**
 * RFC 9449 §5: the DPoP proof of a token request, checked before the client authenticates, so a
 * refused proof (the `use_dpop_nonce` round trip included) spends nothing of the client's: not a
 * client assertion's `jti`, not a workload's platform token. The proof's own `jti` is spent
 * after authentication (`spend`), so unauthenticated requests write nothing to the store.
 */
export async function checkTokenRequestProof(
  request: Request,
  config: ResolvedConfig,
  policy: DPoPPolicy | undefined,
): Promise<CheckedTokenProof> {
  if (!policy || !request.headers.has('dpop'))
    return { binding: {}, spend: () => Promise.resolve() }
  let jti: { key: string; ttlSeconds: number } | undefined
  const deferred: DPoPPolicy = {
    ...policy,
    spendJti: (key, ttlSeconds) => {
      jti = { key, ttlSeconds }
      return Promise.resolve(true)
    },
  }
  const result = await verifyRequestProof(request, deferred, {
    url: endpointsOf(config).token,
    nonce: policy.nonceAtToken,
  })
  if (result.ok) {
    return {
      binding: { dpopJkt: result.proof.jkt },
      spend: async () => {
        if (jti !== undefined && !(await policy.spendJti(jti.key, jti.ttlSeconds))) {
          throw new OAuthError('invalid_dpop_proof', 'the DPoP proof is invalid', {
            reason: 'dpop_replay',
            status: 400,
            headers: EXPOSE,
          })
        }
      },
    }
  }
  const nonce =
    result.code === 'use_dpop_nonce' && policy.nonces
      ? { 'dpop-nonce': await policy.nonces.current() }
      : {}
  throw new OAuthError(result.code, result.description, {
    reason: result.reason,
    status: 400,
    headers: { ...nonce, ...EXPOSE },
  })
}

/** RFC 9449 §5.2: a client registered with `dpop_bound_access_tokens` never gets a bearer token. */
export function requireProofForBoundClient(
  client: OAuthClientInformation,
  binding: TokenBinding,
  policy: DPoPPolicy | undefined,
): void {
  if (client.dpop_bound_access_tokens === true && binding.dpopJkt === undefined) {
    throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof', {
      reason: policy ? 'dpop_missing_for_bound_client' : 'dpop_disabled_for_bound_client',
      headers: EXPOSE,
    })
  }
}

/** Headers for a successful token response: a fresh `DPoP-Nonce` when nonces are on at /token. */
export async function tokenResponseHeaders(
  policy: DPoPPolicy | undefined,
): Promise<Record<string, string>> {
  if (!policy?.nonceAtToken || !policy.nonces) return {}
  return { 'dpop-nonce': await policy.nonces.current(), ...EXPOSE }
}

/**
 * RFC 9449 §10: the `dpop_jkt` authorization request parameter, checked at `/authorize`.
 * `undefined` when absent; `invalid_request` when malformed or when DPoP is off.
 */
export function readDPoPJkt(value: string | undefined, config: ResolvedConfig): string | undefined {
  if (value === undefined) return undefined
  if (!config.dpop.enabled || !isJWKThumbprint(value)) {
    throw new OAuthError('invalid_request', 'dpop_jkt is not a valid JWK thumbprint', {
      reason: config.dpop.enabled ? 'dpop_jkt_syntax' : 'dpop_disabled',
    })
  }
  return value
}

/**
 * RFC 9449 §5.2: the `dpop_bound_access_tokens` registration member, checked at `/register`:
 * `{ dpop_bound_access_tokens: true }` to store, `{}` when absent or false; `invalid_client_metadata`
 * when it is not a boolean, or true while DPoP is off.
 */
export function readDPoPRegistration(
  metadata: Record<string, unknown>,
  config: ResolvedConfig,
): { dpop_bound_access_tokens?: true } {
  const value = metadata.dpop_bound_access_tokens
  if (value === undefined || value === false) return {}
  if (value !== true || !config.dpop.enabled) {
    throw new OAuthError(
      'invalid_client_metadata',
      value === true ? 'DPoP is not enabled' : 'dpop_bound_access_tokens must be a boolean',
      { reason: 'bad_dpop_bound_access_tokens' },
    )
  }
  return { dpop_bound_access_tokens: true }
}
