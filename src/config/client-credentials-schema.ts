/**
 * The `clientCredentials` section: the OAuth client credentials grant (RFC 6749 §4.4, MCP
 * extension SEP-1046 `io.modelcontextprotocol/oauth-client-credentials`). A machine client gets a
 * token for itself, with no user involved, so every way in is off until the operator turns it on:
 * the grant itself, clients registering for it (DCR), and metadata-document clients using it.
 */
import * as z from 'zod'
import { scopeToken } from './azure-schema.js'

export const ClientCredentialsSchema = z.strictObject({
  /**
   * Serve `grant_type=client_credentials` at /token (and advertise it). Operator-listed clients
   * (`clients`) with `client_credentials` in `grantTypes` may use it. Default false.
   */
  enabled: z.boolean().default(false),
  /**
   * Let Dynamic Client Registration register `grant_types: ["client_credentials"]`. A client that
   * registers itself then gets tokens with no user ever involved, so this is a policy decision:
   * default false. Such clients get at most `dynamicClientScopes`.
   */
  allowRegistration: z.boolean().default(false),
  /**
   * Let Client ID Metadata Document clients (`private_key_jwt` with a published JWKS) list
   * `client_credentials` in their document and use it. Default false. They get at most
   * `dynamicClientScopes`.
   */
  allowMetadataDocumentClients: z.boolean().default(false),
  /**
   * The most a client that registered itself or publishes a metadata document may be granted
   * through this grant (further narrowed by its own `scope` metadata and the resource's scopes).
   * Default none: such clients get tokens without scopes until the operator lists some here.
   */
  dynamicClientScopes: z.array(scopeToken).default([]),
})

export type ClientCredentialsConfig = z.output<typeof ClientCredentialsSchema>
