/** Per-tenant v2 discovery and keys, shaped like Entra's (`{tenantid}` for organizations/common). */
import type { StandInState } from './state.js'

export function handleDiscovery(state: StandInState, tenantSegment: string): Response {
  const tenant = state.directory.tenantFor(tenantSegment)
  state.record({ endpoint: 'discovery', tenant: tenantSegment, params: {} })
  if (!tenant) {
    return Response.json(
      {
        error: 'invalid_tenant',
        error_description: `AADSTS90002: Tenant '${tenantSegment}' not found.`,
        error_codes: [90002],
      },
      { status: 400 },
    )
  }
  // Entra names a domain-tenant's endpoints by its GUID.
  const path =
    tenant.b2c || tenant.id === undefined
      ? tenantSegment
      : tenant.alias === 'consumers'
        ? 'consumers'
        : tenant.id
  const t = `${state.base}/${path}`
  return Response.json({
    issuer: tenant.b2c
      ? state.issuer(tenant.id ?? '', true)
      : `${state.base}/${tenant.id ?? '{tenantid}'}/v2.0`,
    authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
    token_endpoint: `${t}/oauth2/v2.0/token`,
    jwks_uri: `${t}/discovery/v2.0/keys`,
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    token_endpoint_auth_methods_supported: [
      'client_secret_post',
      'private_key_jwt',
      'client_secret_basic',
    ],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nonce',
      'oid',
      'tid',
      'name',
      'preferred_username',
      'email',
    ],
    request_uri_parameter_supported: false,
    tenant_region_scope: 'EU',
  })
}

export function handleKeys(state: StandInState, tenantSegment: string): Response {
  state.record({ endpoint: 'jwks', tenant: tenantSegment, params: {} })
  return Response.json(state.keys.jwks())
}
