/**
 * Token introspection (RFC 7662) for authenticated confidential clients. A caller learns about a
 * token only when it is the token's own client or is listed in `introspectionClients` for the
 * token's resource (§4); otherwise, and for any invalid token, the answer is `{"active":false}`.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { jsonResponse } from '../http/responses.js'
import { readAuthenticatedForm } from './client-auth.js'
import type { RateLimiter } from '../http/rate-limit.js'
import type { Grants } from '../grants/grant-store.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import { confirmedJkt } from '../jwt/dpop-proof.js'

export interface IntrospectDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  now: () => number
  /** Counts failed client authentications per client id (429 past the limit). */
  clientAuthFailures?: RateLimiter
  /** Gatehouse's grants, read without the liveness cache. */
  grants?: Pick<Grants, 'isActiveNow'>
}

/** `POST /introspect`. */
export async function handleIntrospect(request: Request, deps: IntrospectDeps): Promise<Response> {
  const { client, method, form } = await readAuthenticatedForm(request, deps)
  if (method === 'none') {
    throw new OAuthError('invalid_client', 'introspection requires a confidential client', {
      reason: 'public_introspection',
    })
  }
  const token = form.get('token')
  if (token === undefined) {
    throw new OAuthError('invalid_request', 'token is required', { reason: 'no_token' })
  }
  const inactive = jsonResponse({ active: false })
  // RFC 7662 §2.1: the hint may be wrong; every type is searched. An opaque refresh token fails
  // JWT parsing at once, so trying the access token first costs nothing.
  const access = await deps.provider.loadAccessToken(token)
  // The guard may answer from a liveness cache (revocationCheckSeconds); introspection reads the
  // grant's state from the store, so a revoked token is inactive here at once.
  if (
    access?.grantId !== undefined &&
    deps.grants &&
    !(await deps.grants.isActiveNow(access.grantId))
  ) {
    return inactive
  }
  if (access) {
    const allowed =
      access.clientId === client.client_id ||
      deps.config.introspectionClients.some(
        (c) =>
          c.clientId === client.client_id &&
          access.resource !== undefined &&
          c.resources.includes(access.resource),
      )
    if (!allowed) return inactive
    // RFC 9449 §6.2: a DPoP-bound token says so, with its key's thumbprint.
    const jkt = confirmedJkt(access.claims)
    return jsonResponse({
      active: true,
      token_type: jkt !== undefined ? 'DPoP' : 'Bearer',
      ...(jkt !== undefined ? { cnf: { jkt } } : {}),
      client_id: access.clientId,
      ...(access.scopes.length > 0 ? { scope: access.scopes.join(' ') } : {}),
      ...(access.subject !== undefined ? { sub: access.subject } : {}),
      ...(typeof access.claims.iss === 'string' ? { iss: access.claims.iss } : {}),
      // SEP-990 grants: the enterprise IdP that asserted the subject (part of the principal).
      ...(typeof access.claims.idp === 'string' ? { idp: access.claims.idp } : {}),
      // RFC 8693 §4.1: the acting party (token exchange, or an ID-JAG's act), chain included.
      ...(typeof access.claims.act === 'object' && access.claims.act !== null
        ? { act: access.claims.act }
        : {}),
      ...(access.resource !== undefined ? { aud: access.resource } : {}),
      ...(access.expiresAt !== undefined ? { exp: access.expiresAt } : {}),
      ...(typeof access.claims.iat === 'number' ? { iat: access.claims.iat } : {}),
      ...(typeof access.claims.jti === 'string' ? { jti: access.claims.jti } : {}),
    })
  }
  const refresh = await deps.provider.loadRefreshToken(client, token)
  if (!refresh || refresh.rotated || refresh.clientId !== client.client_id) return inactive
  if (refresh.expiresAt * 1000 <= deps.now()) return inactive
  return jsonResponse({
    active: true,
    token_type: 'refresh_token',
    client_id: refresh.clientId,
    ...(refresh.scopes.length > 0 ? { scope: refresh.scopes.join(' ') } : {}),
    aud: refresh.resource,
    exp: refresh.expiresAt,
  })
}
