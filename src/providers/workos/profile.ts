/**
 * The WorkOS AuthKit profile (`upstream.kind: 'workos'`): Gatehouse is an OAuth application of
 * WorkOS Connect and users sign in at AuthKit. AuthKit's quirks (docs/providers/workos.md):
 * - the issuer is the AuthKit domain `https://{domain}` (or the custom auth domain), with its
 *   discovery document there, checked at start-up; keys at `/oauth2/jwks`;
 * - roles are in the JWT access token only: `role` (the organization membership's role, a string)
 *   and, with multiple roles, `roles` (a list), besides `org_id` and `permissions`; the access
 *   token is verified (issuer, keys, `aud` = this application's client id, the ID token's user);
 * - those roles belong to the token's organization (`org_id`), which the user picks at sign-in:
 *   plain only when it is the organization the operator pinned (`organizationId`), else
 *   `<org_id>:<role>`; a token without `org_id` gives no roles;
 * - AuthKit also registers MCP clients itself (DCR or CIMD): `workosVerifier` is the verifier of
 *   the remote-AS mode.
 */
import type { JWTVerifier } from '../../jwt/verifier.js'
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { buildHostedProfile, originOf, remoteVerifier } from '../hosted.js'
import { OIDC_DEFAULT_SCOPES } from '../oidc/profile.js'
import { organizationRoles, stringList } from '../roles.js'
import type { UpstreamOf } from '../shared.js'

/**
 * AuthKit's roles: `roles` when it is there, else the single `role`. They are the roles of the
 * token's organization (`org_id`): plain when it is `options.organizationId`, else qualified as
 * `<org_id>:<role>` (anyone can create an organization and be its admin); none without `org_id`.
 */
export function workosRoles(
  claims: Readonly<Record<string, unknown>>,
  options: { organizationId?: string | undefined } = {},
): string[] {
  const listed = stringList(claims.roles)
  const roles = listed.length > 0 ? listed : typeof claims.role === 'string' ? [claims.role] : []
  return organizationRoles(roles, claims.org_id, options.organizationId)
}

export function buildWorkOSProfile(
  ctx: ProfileContext<UpstreamOf<'workos'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, domain, organizationId, ...common } = ctx.upstream
  return buildHostedProfile(ctx, common, {
    kind: 'workos',
    issuer: originOf(domain),
    hint:
      'check upstream.domain against the AuthKit domain (WorkOS Dashboard > Authentication > ' +
      'AuthKit), or your custom auth domain (Dashboard > Domains)',
    defaultScopes: OIDC_DEFAULT_SCOPES,
    roles: (claims) => workosRoles(claims, { organizationId }),
    rolesFrom: 'access_token',
  })
}

/**
 * The remote-AS verifier: AuthKit issues the MCP clients' tokens (`iss` = the AuthKit domain,
 * keys at `/oauth2/jwks`); `resource` is the MCP URL listed under the dashboard's MCP resource
 * indicators, which AuthKit puts in `aud`.
 */
export function workosVerifier(options: {
  domain: string
  resource: string
  /** The organization whose roles count as plain roles; another's are `<org_id>:<role>`. */
  organizationId?: string
  fetch?: typeof fetch
}): JWTVerifier {
  const issuer = originOf(options.domain)
  return remoteVerifier({
    issuer,
    audience: options.resource,
    jwksUri: `${issuer}/oauth2/jwks`,
    claimsToRoles: (claims) => workosRoles(claims, { organizationId: options.organizationId }),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
}
