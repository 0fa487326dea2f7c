/**
 * DPoP binding of codes and refresh tokens (RFC 9449 §5, §10), checked by the grants when a code
 * or a refresh token is redeemed. The endpoint-side hooks (proof at /token, `dpop_jkt` at
 * /authorize, registration) are in oauth/dpop.ts.
 */
import { OAuthError } from '../errors.js'
import type {
  AuthorizationCode,
  OAuthClientInformation,
  RefreshToken,
  TokenBinding,
} from './types.js'

/** RFC 9449 §10.1: a code bound to a key is redeemed only with a proof of that key. */
export function assertCodeBinding(code: AuthorizationCode, binding: TokenBinding): void {
  if (code.dpopJkt !== undefined && binding.dpopJkt !== code.dpopJkt) {
    throw new OAuthError('invalid_grant', 'the DPoP key does not match the authorization', {
      reason: binding.dpopJkt === undefined ? 'dpop_jkt_no_proof' : 'dpop_jkt_mismatch',
    })
  }
}

/** RFC 9449 §5: a bound refresh token is used only with a proof of the same key. */
export function assertRefreshBinding(record: RefreshToken, binding: TokenBinding): void {
  if (record.dpopJkt !== undefined && binding.dpopJkt !== record.dpopJkt) {
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: binding.dpopJkt === undefined ? 'refresh_dpop_no_proof' : 'refresh_dpop_key_mismatch',
    })
  }
}

/**
 * The key a new refresh token is bound to: the proof's, for a public client only (RFC 9449 §5;
 * a confidential client's refresh tokens are bound to its authentication instead).
 */
export function refreshTokenJkt(
  client: OAuthClientInformation,
  binding: TokenBinding,
): string | undefined {
  return client.token_endpoint_auth_method === 'none' ? binding.dpopJkt : undefined
}
