/**
 * The grants the token endpoint knows, by `grant_type`: one handler per file in this folder. A
 * further grant (RFC 8693 token exchange in `token-exchange.ts`, say) is one file exporting a
 * `GrantHandler` and one line here; the endpoint and the metadata follow from this map.
 */
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_GRANT } from '../config/protocol.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import { authorizationCodeGrant } from './authorization-code.js'
import { clientCredentialsGrant } from './client-credentials.js'
import type { GrantHandler } from './grant-handler.js'
import { identityAssertionGrant } from './identity-assertion.js'
import { refreshTokenGrant } from './refresh-token.js'
import { TOKEN_EXCHANGE_GRANT, tokenExchangeGrant } from './token-exchange.js'

export type { GrantHandler, GrantHandlerDeps } from './grant-handler.js'

/** `grant_type` → handler, in the order metadata lists them. */
export const GRANT_HANDLERS: ReadonlyMap<string, GrantHandler> = new Map<string, GrantHandler>([
  ['authorization_code', authorizationCodeGrant],
  ['refresh_token', refreshTokenGrant],
  [JWT_BEARER_GRANT, identityAssertionGrant],
  [CLIENT_CREDENTIALS_GRANT, clientCredentialsGrant],
  [TOKEN_EXCHANGE_GRANT, tokenExchangeGrant],
])

/** The handler for `grantType` when the provider offers it; `undefined`: unsupported. */
export function grantHandler(
  grantType: string,
  provider: OAuthServerProvider,
): GrantHandler | undefined {
  const handler = GRANT_HANDLERS.get(grantType)
  return handler?.offered(provider) === true ? handler : undefined
}

/** The grant types the provider offers (`grant_types_supported`). */
export function supportedGrantTypes(provider: OAuthServerProvider): string[] {
  return [...GRANT_HANDLERS].filter(([, h]) => h.offered(provider)).map(([type]) => type)
}
