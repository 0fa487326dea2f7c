/**
 * The identity provider's access token for the user behind an MCP request, for tools that call the
 * provider's APIs on the user's behalf (MCP §Access Token Privilege Restriction: the MCP access token
 * itself is never passed through).
 */
import { contextOf } from './context.js'
import { authOf, type ExtraWithAuth } from './auth-info.js'
import { MCPAuthError } from './errors.js'

/**
 * The identity provider's access token for the request's grant, refreshed when it is about to
 * expire (`OAuthProxy.getUpstreamToken`). Works when the handler was made by `createMCPHandler`
 * with a Gatehouse whose provider is an `OAuthProxy` (`config.upstream`). Throws
 * `MCPAuthError('ERR_MCP_NO_UPSTREAM')` otherwise, `MCPAuthError('ERR_MCP_NO_AUTH')` without
 * Gatehouse `authInfo`, `OAuthError('invalid_token')` when the grant was revoked or the sign-in
 * at the provider has ended (the client must sign in again), and `OAuthError('access_denied')`
 * (403, reason `no_upstream_tokens`) when the grant never had a sign-in at the provider: a machine
 * client's (client credentials), or one made by ID-JAG or token exchange.
 */
export async function getUpstreamToken(extra: ExtraWithAuth): Promise<string> {
  const context = contextOf(authOf(extra).extra)
  if (context?.upstream === undefined) {
    throw new MCPAuthError(
      'ERR_MCP_NO_UPSTREAM',
      'no identity provider token: the MCP handler is not served by a Gatehouse OAuth proxy',
    )
  }
  return context.upstream.getUpstreamToken(context.token)
}
