/**
 * Validates a fetched Client ID Metadata Document (draft §4.1, MCP §Client ID Metadata Documents).
 * Rules: a JSON object; `client_id` equal to the URL it came from (simple string comparison);
 * `client_name` and `redirect_uris` present; every redirect URI valid by the registration rules and
 * the operator's allow-list; no shared-secret authentication (`client_secret_*`, `client_secret`,
 * `client_secret_expires_at`); `private_key_jwt` only with exactly one of `jwks` or `jwks_uri`;
 * `client_credentials` only when the operator allows it, with `private_key_jwt`, and then
 * `redirect_uris` may be absent when the document asks for no `authorization_code`.
 * Display URLs are kept as text and never fetched or linked; `logo_uri` is dropped.
 */
import { CLIENT_CREDENTIALS_GRANT } from '../config/protocol.js'
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { impliedApplicationType, redirectURIProblem } from '../config/protocol.js'
import { redirectAllowed } from './redirect-uri.js'
import type { OAuthClientInformation, TokenEndpointAuthMethod } from '../contract/types.js'

const AUTH_METHODS = ['none', 'private_key_jwt'] as const
const SECRET_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt']
const GRANT_TYPES = ['authorization_code', 'refresh_token']
const TEXT_LIMIT = 200

/** The client a valid document describes; throws `invalid_client` naming what is wrong. */
export function parseClientMetadataDocument(
  url: string,
  document: unknown,
  config: ResolvedConfig,
): OAuthClientInformation {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalid('is not a JSON object', 'cimd_not_object')
  }
  const m = document as Record<string, unknown>
  if (m.client_id !== url) throw invalid('names another client_id', 'cimd_client_id_mismatch')
  if (m.client_secret !== undefined || m.client_secret_expires_at !== undefined) {
    throw invalid('must not carry a client secret', 'cimd_client_secret')
  }
  const method = m.token_endpoint_auth_method ?? 'none'
  if (typeof method !== 'string' || SECRET_METHODS.includes(method)) {
    throw invalid('uses a shared-secret authentication method', 'cimd_symmetric_auth')
  }
  if (!(AUTH_METHODS as readonly string[]).includes(method)) {
    throw invalid('uses an unsupported authentication method', 'cimd_auth_method')
  }
  const name = m.client_name
  if (typeof name !== 'string' || name.trim() === '' || name.length > TEXT_LIMIT) {
    throw invalid('needs a client_name', 'cimd_no_client_name')
  }
  const namedType = m.application_type
  if (namedType !== undefined && namedType !== 'web' && namedType !== 'native') {
    throw invalid('has an unknown application_type', 'cimd_application_type')
  }
  const cc = config.clientCredentials
  const grantTypes = strings(m.grant_types ?? ['authorization_code'])
  const allowedGrants =
    cc.enabled && cc.allowMetadataDocumentClients
      ? [...GRANT_TYPES, CLIENT_CREDENTIALS_GRANT]
      : GRANT_TYPES
  if (!grantTypes?.every((g) => allowedGrants.includes(g))) {
    throw invalid('asks for an unsupported grant type', 'cimd_grant_type')
  }
  const interactive = grantTypes.includes('authorization_code')
  if (grantTypes.includes(CLIENT_CREDENTIALS_GRANT) && method !== 'private_key_jwt') {
    throw invalid('uses client_credentials without private_key_jwt', 'cimd_cc_auth_method')
  }
  // A machine-only client (client_credentials) needs no redirect URIs.
  const redirectUris = strings(m.redirect_uris ?? (interactive ? undefined : []))
  if (!redirectUris || (interactive && redirectUris.length === 0) || redirectUris.length > 20) {
    throw invalid('needs redirect_uris', 'cimd_no_redirect_uris')
  }
  // SEP-837: a document that names no type gets the one its redirect URIs imply.
  const applicationType = namedType ?? impliedApplicationType(redirectUris)
  for (const uri of redirectUris) {
    if (redirectURIProblem(uri, applicationType) !== undefined || !redirectAllowed(uri, config)) {
      throw invalid('lists a redirect URI this server does not accept', 'cimd_bad_redirect_uri')
    }
  }
  const responseTypes = strings(m.response_types ?? (interactive ? ['code'] : []))
  if (!responseTypes?.every((r) => r === 'code')) {
    throw invalid('asks for an unsupported response type', 'cimd_response_type')
  }
  const client: OAuthClientInformation = {
    client_id: url,
    client_name: name,
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    grant_types: [...new Set(grantTypes)],
    response_types: [...new Set(responseTypes)],
    application_type: applicationType,
  }
  if (m.jwks !== undefined && m.jwks_uri !== undefined) {
    throw invalid('must not have both jwks and jwks_uri', 'cimd_jwks_and_jwks_uri')
  }
  if (m.jwks_uri !== undefined) {
    if (typeof m.jwks_uri !== 'string' || !m.jwks_uri.startsWith('http')) {
      throw invalid('has an invalid jwks_uri', 'cimd_jwks_uri')
    }
    client.jwks_uri = m.jwks_uri
  }
  if (m.jwks !== undefined) client.jwks = parseJWKS(m.jwks)
  if (method === 'private_key_jwt' && client.jwks === undefined && client.jwks_uri === undefined) {
    throw invalid('uses private_key_jwt without keys', 'cimd_no_keys')
  }
  if (typeof m.scope === 'string' && m.scope.length <= 1000) client.scope = m.scope
  for (const field of ['client_uri', 'tos_uri', 'policy_uri'] as const) {
    const value = m[field]
    if (typeof value === 'string' && value.length <= 2000) client[field] = value
  }
  return client
}

/** A JWK Set: an object with a `keys` array of objects (each key is checked when used). */
export function parseJWKS(value: unknown): { keys: unknown[] } {
  const keys = (value as { keys?: unknown } | null)?.keys
  if (
    typeof value !== 'object' ||
    !Array.isArray(keys) ||
    keys.length === 0 ||
    keys.length > 20 ||
    !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))
  ) {
    throw invalid('has an invalid JWK set', 'cimd_bad_jwks')
  }
  return { keys }
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined
}

function invalid(why: string, reason: string): OAuthError {
  return new OAuthError('invalid_client', `the client metadata document ${why}`, { reason })
}
