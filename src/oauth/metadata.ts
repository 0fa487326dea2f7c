/**
 * RFC 8414 authorization-server metadata, built once from configuration, never from the request's
 * Host header (mix-up defence, RFC 9700 §4.4). Protected-resource metadata is in resource/.
 */
import { ASYMMETRIC_ALGORITHMS } from '../config/protocol.js'
import type { ResolvedConfig } from '../config/schema.js'
import { privateKeyJWTEnabled } from './client-assertion.js'

/** The endpoint URLs, all under the issuer. */
export interface Endpoints {
  authorization: string
  token: string
  registration: string
  revocation: string
  introspection: string
  jwks: string
}

export function endpointsOf(config: ResolvedConfig): Endpoints {
  const base = config.issuer
  return {
    authorization: `${base}/authorize`,
    token: `${base}/token`,
    registration: `${base}/register`,
    revocation: `${base}/revoke`,
    introspection: `${base}/introspect`,
    jwks: `${base}/.well-known/jwks.json`,
  }
}

/** Every scope any resource understands, without `offline_access`. */
export function supportedScopes(config: ResolvedConfig): string[] {
  const all = new Set(config.resources.flatMap((r) => r.scopes))
  all.delete('offline_access')
  return [...all]
}

/** RFC 8414 §2 metadata; empty arrays are left out (§3.2). */
export function authorizationServerMetadata(
  config: ResolvedConfig,
  options: { grantTypes: readonly string[]; extra?: Record<string, unknown> },
): Record<string, unknown> {
  const e = endpointsOf(config)
  const scopes = supportedScopes(config)
  // Client ID Metadata Documents (MCP §Client Registration, draft §5).
  const cimd = config.clientIdMetadataDocuments.enabled
  const keys = privateKeyJWTEnabled(config)
  const metadata: Record<string, unknown> = {
    issuer: config.issuer,
    authorization_endpoint: e.authorization,
    token_endpoint: e.token,
    jwks_uri: e.jwks,
    ...(config.registration.enabled ? { registration_endpoint: e.registration } : {}),
    revocation_endpoint: e.revocation,
    introspection_endpoint: e.introspection,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...options.grantTypes],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'none',
      ...(keys ? ['private_key_jwt'] : []),
    ],
    ...(keys
      ? { token_endpoint_auth_signing_alg_values_supported: [...ASYMMETRIC_ALGORITHMS] }
      : {}),
    ...(cimd ? { client_id_metadata_document_supported: true } : {}),
    revocation_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'none',
      ...(keys ? ['private_key_jwt'] : []),
    ],
    introspection_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      ...(keys ? ['private_key_jwt'] : []),
    ],
    authorization_response_iss_parameter_supported: true,
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    ...options.extra,
  }
  return metadata
}

/**
 * RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. Gatehouse is
 * not an OpenID provider (it issues no ID tokens), so it serves no `openid-configuration`.
 */
export function authorizationServerMetadataPath(config: ResolvedConfig): string {
  return `/.well-known/oauth-authorization-server${config.basePath}`
}
