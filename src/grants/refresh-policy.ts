/**
 * The refresh-token policy (`refreshTokens` in the configuration; SEP-2207: whether a client gets
 * a refresh token is the authorization server's decision, not the client's `offline_access`).
 * Rules:
 * 1. Only clients that registered the `refresh_token` grant, and only those `issueTo` names:
 *    `all`, `confidential` (clients that authenticate at /token) or `none`.
 * 2. A new refresh token lives `refreshTokenTtlSeconds` (idle lifetime: each rotation starts a
 *    new window), cut to what is left of `absoluteLifetimeSeconds` since the grant was created
 *    (the user's sign-in). Past that bound no refresh token is issued: the user signs in again.
 * 3. A client the policy excludes cannot redeem a refresh token it got earlier either.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { OAuthClientInformation } from '../contract/types.js'

/** Whether the policy lets `client` hold refresh tokens at all. */
export function refreshTokensAllowed(
  config: Pick<ResolvedConfig, 'refreshTokens'>,
  client: Pick<OAuthClientInformation, 'grant_types' | 'token_endpoint_auth_method'>,
): boolean {
  if (!client.grant_types.includes('refresh_token')) return false
  switch (config.refreshTokens.issueTo) {
    case 'all':
      return true
    case 'confidential':
      return client.token_endpoint_auth_method !== 'none'
    case 'none':
      return false
  }
}

/**
 * The lifetime, in seconds, of a refresh token issued now for a grant created at
 * `grantCreatedAt` (seconds since the epoch), or `undefined` when none is to be issued.
 */
export function refreshTokenLifetime(
  config: Pick<ResolvedConfig, 'refreshTokens' | 'refreshTokenTtlSeconds'>,
  client: Pick<OAuthClientInformation, 'grant_types' | 'token_endpoint_auth_method'>,
  grantCreatedAt: number,
  nowSeconds: number,
): number | undefined {
  if (!refreshTokensAllowed(config, client)) return undefined
  const absolute = config.refreshTokens.absoluteLifetimeSeconds
  if (absolute === undefined) return config.refreshTokenTtlSeconds
  const left = grantCreatedAt + absolute - nowSeconds
  return left < 1 ? undefined : Math.min(config.refreshTokenTtlSeconds, left)
}

/** At the refresh grant: `unauthorized_client` for a client the policy excludes. */
export function assertRefreshAllowed(
  config: Pick<ResolvedConfig, 'refreshTokens'>,
  client: Pick<OAuthClientInformation, 'grant_types' | 'token_endpoint_auth_method'>,
): void {
  if (!refreshTokensAllowed(config, client)) {
    throw new OAuthError('unauthorized_client', 'this client may not use refresh tokens', {
      reason: 'refresh_policy',
    })
  }
}
