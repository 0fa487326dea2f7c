/**
 * The one failure type of JWT parsing and checking. It names the rule that failed (`reason`) and
 * nothing else: callers map it to the OAuth error of their context (`invalid_token` at a resource
 * server, `invalid_grant` for an ID-JAG, `invalid_client` for a client assertion).
 */

/** Stable slugs for why a JWT was refused; for logs and metrics, never sent to the client. */
export type JWTFailureReason =
  | 'malformed'
  | 'token_too_large'
  | 'duplicate_member'
  | 'alg_not_allowed'
  | 'crit_unsupported'
  | 'b64_unsupported'
  | 'jwe_unsupported'
  | 'nested_jwt_unsupported'
  | 'wrong_typ'
  | 'wrong_issuer'
  | 'unknown_kid'
  | 'unusable_key'
  | 'bad_signature'
  | 'missing_exp'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'wrong_audience'
  | 'invalid_claim'
  | 'insufficient_scope'

/**
 * A JWT was refused for `reason`. The message is the reason itself: it never holds the token, a
 * claim value or a remote payload.
 */
export class JWTError extends Error {
  override name = 'JWTError'
  readonly reason: JWTFailureReason
  constructor(reason: JWTFailureReason, options: { cause?: unknown } = {}) {
    super(
      `JWT refused: ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.reason = reason
  }
}
