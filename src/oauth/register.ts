/**
 * Dynamic Client Registration (RFC 7591). Metadata is self-asserted: every field is validated, the
 * client id is generated here (RFC 9700 §4.15) and never looks like a CIMD URL, secrets are
 * returned once and stored only as SHA-256. A `private_key_jwt` client (when the operator allows
 * it) gives exactly one of `jwks` (1 to 20 public keys) or `jwks_uri` (https; http on loopback
 * only under `registration.dangerouslyAllowLoopbackJwksUri`; only when an outbound transport
 * checks resolved addresses).
 */
import type { ResolvedConfig } from '../config/schema.js'
import { isLoopbackHost } from '../config/urls.js'
import { OAuthError } from '../errors.js'
import { readBodyText } from '../http/params.js'
import { clientAddressOf, type RateLimiter } from '../http/rate-limit.js'
import { randomToken, sha256 } from '../http/random.js'
import { jsonResponse } from '../http/responses.js'
import { CLIENT_CREDENTIALS_GRANT } from '../config/protocol.js'
import { registrationAllowsPrivateKeyJWT } from './client-assertion.js'
import { parseJWKS } from './client-metadata-document.js'
import { supportedScopes } from './metadata.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import { impliedApplicationType, redirectURIProblem } from '../config/protocol.js'
import { redirectAllowed } from './redirect-uri.js'
import { parseScope } from '../contract/scopes.js'
import type { OAuthClientInformation, TokenEndpointAuthMethod } from '../contract/types.js'
import type { AuditSink } from '../audit-event.js'
import { readDPoPRegistration } from './dpop.js'

const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'none',
  'client_secret_basic',
  'client_secret_post',
]
const GRANT_TYPES = ['authorization_code', 'refresh_token']
/** Only when the operator allows it (`registrationAllowsPrivateKeyJWT`). */
const KEY_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [...AUTH_METHODS, 'private_key_jwt']
const URL_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'jwks_uri'] as const
const TEXT_LIMIT = 200

export interface RegisterDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  now: () => number
  /** Registrations per client address (429 past the limit). */
  registrations?: RateLimiter
  audit?: AuditSink
  /** Whether `jwks_uri` can be fetched safely (an outbound transport is configured). */
  jwksUriSupported?: boolean
}

/** `POST /register`: 201 with the client's information, or 400 with the RFC 7591 §3.2.2 error. */
export async function handleRegister(request: Request, deps: RegisterDeps): Promise<Response> {
  deps.registrations?.hit(clientAddressOf(request))
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw metadataError('the request body must be application/json', 'bad_content_type')
  }
  const text = await readBodyText(request, deps.config.maxBodyBytes)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw metadataError('the request body is not valid JSON', 'bad_json')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw metadataError('the request body must be a JSON object', 'not_object')
  }
  const client = await validateMetadata(body as Record<string, unknown>, deps)
  await deps.provider.registerClient(client)
  deps.audit?.emit({ event: 'client_registered', outcome: 'success', clientId: client.client_id })
  const response: Record<string, unknown> = { ...client }
  delete response.client_secret_hash
  return jsonResponse(response, { status: 201 })
}

async function validateMetadata(
  m: Record<string, unknown>,
  deps: RegisterDeps,
): Promise<OAuthClientInformation> {
  const namedType = optionalEnum(m, 'application_type', ['web', 'native'])
  const cc = deps.config.clientCredentials
  const machines = cc.enabled && cc.allowRegistration
  const grantTypes = stringArray(m, 'grant_types') ?? ['authorization_code']
  const allowedGrants = machines ? [...GRANT_TYPES, CLIENT_CREDENTIALS_GRANT] : GRANT_TYPES
  for (const g of grantTypes) {
    if (!allowedGrants.includes(g))
      throw metadataError(`grant type "${clip(g)}" is not allowed`, 'bad_grant_type')
  }
  const interactive = grantTypes.includes('authorization_code')
  // A machine-only client (client_credentials) has no redirect URIs to speak of.
  const redirectUris = stringArray(m, 'redirect_uris') ?? (interactive ? undefined : [])
  if (!redirectUris || (interactive && redirectUris.length === 0)) {
    throw redirectError('redirect_uris is required', 'no_redirect_uris')
  }
  // SEP-837: a client that names no type gets the one its redirect URIs imply.
  const applicationType = namedType ?? impliedApplicationType(redirectUris)
  if (redirectUris.length > deps.config.registration.maxRedirectUris) {
    throw redirectError('too many redirect_uris', 'too_many_redirect_uris')
  }
  for (const uri of redirectUris) {
    const problem = redirectURIProblem(uri, applicationType)
    if (problem) throw redirectError(`a redirect URI ${problem}`, 'bad_redirect_uri')
    if (!redirectAllowed(uri, deps.config)) {
      throw redirectError('a redirect URI is not allowed by this server', 'redirect_not_allowed')
    }
  }
  const method =
    optionalEnum(
      m,
      'token_endpoint_auth_method',
      registrationAllowsPrivateKeyJWT(deps.config) ? KEY_AUTH_METHODS : AUTH_METHODS,
    ) ?? 'client_secret_basic'
  if (method === 'none' && grantTypes.includes(CLIENT_CREDENTIALS_GRANT)) {
    throw metadataError('the client_credentials grant needs client authentication', 'cc_public')
  }
  const responseTypes = stringArray(m, 'response_types') ?? (interactive ? ['code'] : [])
  for (const r of responseTypes) {
    if (r !== 'code')
      throw metadataError(`response type "${clip(r)}" is not allowed`, 'bad_response_type')
  }
  if (grantTypes.includes('authorization_code') !== responseTypes.includes('code')) {
    throw metadataError('grant_types and response_types do not agree', 'types_mismatch')
  }
  if (m.jwks !== undefined && m.jwks_uri !== undefined) {
    throw metadataError('jwks and jwks_uri must not both be present', 'jwks_and_jwks_uri')
  }
  if (method === 'private_key_jwt' && m.jwks === undefined && m.jwks_uri === undefined) {
    throw metadataError('private_key_jwt needs the public keys in jwks or jwks_uri', 'no_jwks')
  }
  const client: OAuthClientInformation = {
    client_id: randomToken(16),
    client_id_issued_at: Math.floor(deps.now() / 1000),
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method,
    grant_types: [...new Set(grantTypes)],
    response_types: [...new Set(responseTypes)],
    application_type: applicationType,
  }
  const name = optionalText(m, 'client_name')
  if (name !== undefined) client.client_name = name
  for (const field of URL_FIELDS) {
    if (field === 'jwks_uri' && method === 'private_key_jwt') continue
    const value = optionalText(m, field, 2000)
    if (value === undefined) continue
    if (!isWebURL(value)) throw metadataError(`${field} must be an https URL`, `bad_${field}`)
    client[field] = value
  }
  const contacts = stringArray(m, 'contacts')
  if (contacts) client.contacts = contacts.slice(0, 10).map((c) => c.slice(0, TEXT_LIMIT))
  for (const field of ['software_id', 'software_version'] as const) {
    const value = optionalText(m, field)
    if (value !== undefined) client[field] = value
  }
  // Clients (the MCP SDK among them) copy a challenge's scope here; keep only scopes we know.
  if (typeof m.scope === 'string') {
    const known = supportedScopes(deps.config)
    const scopes = parseScope(m.scope).filter((s) => known.length === 0 || known.includes(s))
    if (scopes.length > 0) client.scope = scopes.join(' ')
  }
  Object.assign(client, readDPoPRegistration(m, deps.config))
  if (method === 'private_key_jwt') {
    if (m.jwks === undefined) client.jwks_uri = keysURL(m, deps)
    else client.jwks = publicJWKS(m.jwks)
  } else if (method !== 'none') {
    const secret = randomToken(32)
    client.client_secret = secret
    client.client_secret_hash = await sha256(secret)
    client.client_secret_expires_at = 0
  }
  return client
}

/** A JWK Set of public keys only (no `d`, no symmetric `k`); each key is checked when used. */
function publicJWKS(value: unknown): { keys: unknown[] } {
  let jwks: { keys: unknown[] }
  try {
    jwks = parseJWKS(value)
  } catch {
    throw metadataError('jwks must be a JWK Set of 1 to 20 keys', 'bad_jwks')
  }
  if (jwks.keys.some((k) => 'd' in (k as object) || 'k' in (k as object))) {
    throw metadataError('jwks must hold public keys only', 'private_jwk')
  }
  return jwks
}

/** The `jwks_uri` of a `private_key_jwt` client: https (http on loopback only in development). */
function keysURL(m: Record<string, unknown>, deps: RegisterDeps): string {
  const value = optionalText(m, 'jwks_uri', 2000)
  if (value === undefined) throw metadataError('jwks_uri must be a URL', 'bad_jwks_uri')
  if (deps.jwksUriSupported !== true) {
    // Without a transport that checks resolved addresses, a name could point inside.
    throw metadataError('this server accepts keys only inline in jwks', 'jwks_uri_unsupported')
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw metadataError('jwks_uri must be an https URL', 'bad_jwks_uri')
  }
  // Loopback (either scheme) only under the development switch; elsewhere https only.
  const allowed = isLoopbackHost(url.hostname)
    ? deps.config.registration.dangerouslyAllowLoopbackJwksUri &&
      (url.protocol === 'http:' || url.protocol === 'https:')
    : url.protocol === 'https:'
  if (!allowed || url.username !== '' || url.password !== '' || url.hash !== '') {
    throw metadataError('jwks_uri must be an https URL', 'bad_jwks_uri')
  }
  return url.href
}

function metadataError(description: string, reason: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description, { reason })
}

function redirectError(description: string, reason: string): OAuthError {
  return new OAuthError('invalid_redirect_uri', description, { reason })
}

function stringArray(m: Record<string, unknown>, field: string): string[] | undefined {
  const value = m[field]
  if (value === undefined) return undefined
  if (!isStringArray(value) || value.length > 100) {
    throw metadataError(`${field} must be an array of strings`, `bad_${field}`)
  }
  return value
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function optionalText(
  m: Record<string, unknown>,
  field: string,
  max = TEXT_LIMIT,
): string | undefined {
  const value = m[field]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length > max) {
    throw metadataError(`${field} must be a string of at most ${max} characters`, `bad_${field}`)
  }
  return value
}

function optionalEnum<T extends string>(
  m: Record<string, unknown>,
  field: string,
  allowed: readonly T[],
): T | undefined {
  const value = m[field]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw metadataError(`${field} must be one of: ${allowed.join(', ')}`, `bad_${field}`)
  }
  return value as T
}

function isWebURL(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
  } catch {
    return false
  }
}

function clip(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 60)
}
