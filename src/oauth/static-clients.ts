/**
 * Clients the operator lists in configuration (`clients`). They are looked up before registered
 * ones and never stored: the configuration is their only source, so removing one revokes it.
 */
import type { ResolvedConfig } from '../config/schema.js'
import type { OAuthClientInformation } from '../contract/types.js'

/** The configured clients by id, in the wire shape the endpoints use. */
export function staticClients(config: ResolvedConfig): ReadonlyMap<string, OAuthClientInformation> {
  const clients = new Map<string, OAuthClientInformation>()
  for (const c of config.clients) {
    const grantTypes = [...new Set(c.grantTypes)]
    const client: OAuthClientInformation = {
      client_id: c.clientId,
      redirect_uris: [...c.redirectUris],
      token_endpoint_auth_method: c.tokenEndpointAuthMethod,
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      ...(c.clientSecret !== undefined ? { client_secret: c.clientSecret } : {}),
      ...(c.name !== undefined ? { client_name: c.name } : {}),
      ...(c.jwks !== undefined ? { jwks: { keys: [...c.jwks.keys] } } : {}),
    }
    clients.set(c.clientId, Object.freeze(client))
  }
  return clients
}
