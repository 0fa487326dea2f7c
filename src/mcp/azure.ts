/**
 * `azureOBOToken`: in a tool handler, a token for a downstream API (Microsoft Graph …) on behalf of
 * the signed-in user, by Entra On-Behalf-Of. The MCP access token itself is never passed on.
 */
import { AzureOBOError } from '../obo-error.js'
import { contextOf } from './context.js'
import type { ExtraWithAuth } from './auth-info.js'

/**
 * Exchanges the request's user's Entra token for one with `scopes`
 * (e.g. `['https://graph.microsoft.com/User.Read']`), cached per (user token, scopes).
 *
 * @throws {AzureOBOError} `ERR_OBO_NO_TOKEN` (no Gatehouse-authenticated user on the request, or
 *   the sign-in has ended), `ERR_OBO_NOT_AZURE` (the provider offers no `onBehalfOf` capability),
 *   `ERR_OBO_NOT_SUPPORTED` (B2C), `ERR_OBO_REFUSED` (Entra's `upstreamCode`/`entraCodes` kept),
 *   `ERR_OBO_UNAVAILABLE`.
 */
export async function azureOBOToken(
  extra: ExtraWithAuth,
  scopes: readonly string[],
): Promise<string> {
  const info = extra.authInfo ?? extra.http?.authInfo
  const context = info?.extra === undefined ? undefined : contextOf(info.extra)
  if (context === undefined) {
    throw new AzureOBOError(
      'ERR_OBO_NO_TOKEN',
      'no signed-in user on this request: serve the MCP server with createMCPHandler',
    )
  }
  const onBehalfOf = context.upstream?.capabilities?.onBehalfOf
  if (onBehalfOf === undefined) {
    throw new AzureOBOError(
      'ERR_OBO_NOT_AZURE',
      'On-Behalf-Of needs Gatehouse with the Azure provider (upstream kind "azure")',
    )
  }
  return onBehalfOf(context.token, scopes)
}
