/**
 * DPoP (RFC 9449 §7) at the resource guard: the hook `verifyBearer` calls for a request with
 * `Authorization: DPoP <token>`, the check that a DPoP-bound token never passes as a bearer token,
 * and the mark that sends an error's challenge under the DPoP scheme (§7.1). Rules:
 * 1. `DPoP` scheme: the token must be DPoP-bound (`cnf.jkt`), the `DPoP` proof valid for the
 *    request's method and URL (the resource's origin and the request's path), carry
 *    `ath` = SHA-256 of the token and, when the resource requires nonces, a current nonce; and its
 *    key's thumbprint must equal `cnf.jkt` (else `invalid_token`, "Invalid DPoP key binding").
 * 2. `Bearer` scheme: a token with `cnf.jkt` is refused (`invalid_token`, §7.2); at a resource
 *    with `dpop.required` every bearer token is.
 * The proof is checked on every request, after the verifier (whose cache holds tokens, never
 * proofs), so no cached answer skips it.
 */
import type { ResolvedResource } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { confirmedJkt, verifyRequestProof, type DPoPPolicy } from '../jwt/dpop-proof.js'
import type { AccessToken } from '../jwt/access-token.js'

const dpopErrors = new WeakSet<OAuthError>()

/** Marks `error` as an answer to a DPoP-scheme request: its challenge goes under `DPoP` (§7.1). */
export function inDPoPScheme<E extends OAuthError>(error: E): E {
  dpopErrors.add(error)
  return error
}

/** Whether `error` was marked by {@link inDPoPScheme}. */
export function isDPoPSchemeError(error: OAuthError): boolean {
  return dpopErrors.has(error)
}

/** The `cnf.jkt` of a verified token (RFC 9449 §6.1), or `undefined` when it is not DPoP-bound. */
export function boundJkt(token: AccessToken): string | undefined {
  return confirmedJkt(token.claims)
}

/**
 * §7.2: refuses a bearer-scheme presentation of a DPoP-bound token, and any bearer token at a
 * resource that requires DPoP. The error is marked for the DPoP challenge.
 */
export function assertBearerAllowed(token: AccessToken, resource: ResolvedResource): void {
  // Any confirmation (`cnf`: a DPoP `jkt`, an mTLS `x5t#S256`, or one malformed) binds the token
  // to a key the bearer scheme cannot prove: refused, never accepted as a plain bearer token.
  if (boundJkt(token) !== undefined || token.claims.cnf !== undefined) {
    throw inDPoPScheme(
      new OAuthError('invalid_token', 'the access token is DPoP-bound: use the DPoP scheme', {
        reason: 'dpop_bound_token_as_bearer',
      }),
    )
  }
  if (resource.dpop.required) {
    throw inDPoPScheme(
      new OAuthError('invalid_token', 'this resource requires DPoP-bound access tokens', {
        reason: 'dpop_required',
      }),
    )
  }
}

/**
 * Checks the DPoP side of a `DPoP`-scheme request whose token `verified` (the string `token`)
 * passed its verifier. Throws `OAuthError` (401) marked for the DPoP challenge:
 * `invalid_dpop_proof`, `use_dpop_nonce` (with a `DPoP-Nonce` header) or `invalid_token`.
 */
export async function verifyDPoPRequest(
  request: Request,
  token: string,
  verified: AccessToken,
  resource: ResolvedResource,
  policy: DPoPPolicy | undefined,
): Promise<void> {
  if (!policy || resource.dpop.algorithms.length === 0) {
    throw inDPoPScheme(
      new OAuthError('invalid_token', 'DPoP is not supported here', { reason: 'dpop_disabled' }),
    )
  }
  const jkt = boundJkt(verified)
  if (jkt === undefined) {
    throw inDPoPScheme(
      new OAuthError('invalid_token', 'the access token is not DPoP-bound', {
        reason: 'dpop_unbound_token',
      }),
    )
  }
  // The URL the resource is known by (its configured origin), not the Host header.
  const url = `${new URL(resource.url).origin}${new URL(request.url).pathname}`
  const result = await verifyRequestProof(request, policy, {
    url,
    accessToken: token,
    nonce: resource.dpop.nonce,
  })
  if (!result.ok) {
    const nonce =
      result.code === 'use_dpop_nonce' && policy.nonces
        ? { 'dpop-nonce': await policy.nonces.current() }
        : {}
    throw inDPoPScheme(
      new OAuthError(result.code, result.description, {
        reason: result.reason,
        status: 401,
        headers: nonce,
      }),
    )
  }
  if (result.proof.jkt !== jkt) {
    // RFC 9449 §7.1's own example answer.
    throw inDPoPScheme(
      new OAuthError('invalid_token', 'Invalid DPoP key binding', { reason: 'dpop_key_mismatch' }),
    )
  }
}
