/**
 * The Descope profile (`upstream.kind: 'descope'`): Gatehouse is an OIDC federated application of
 * a Descope project. Descope's quirks (docs/providers/descope.md):
 * - the issuer is `https://api.descope.com/{projectId}` (or `{custom domain}/{projectId}`), checked
 *   at start-up; keys at `{base}/{projectId}/.well-known/jwks.json`;
 * - roles are project-level (`roles`, plain) or per tenant (`tenants.{tenantId}.roles`): with
 *   `tenant`, that tenant's roles are plain (and no other's count); without it, each tenant's roles
 *   are `<tenant id>:<role>`, since a Tenant Admin may give any role in their own tenant;
 * - Descope's MCP servers (Agentic Identity Hub) register MCP clients themselves (DCR/CIMD) under
 *   their own issuer `{base}/v1/apps/agentic/{projectId}/{mcpServerId}`, and their tokens' `aud`
 *   names the project (and the client), not the MCP URL: `descopeVerifier` is the verifier of the
 *   remote-AS mode.
 */
import type { TokenVerifier } from '../../jwt/access-token.js'
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { boundToResource, buildHostedProfile, remoteVerifier } from '../hosted.js'
import { OIDC_DEFAULT_SCOPES } from '../oidc/profile.js'
import { member, qualifiedRole, stringList } from '../roles.js'
import type { UpstreamOf } from '../shared.js'

const DESCOPE_API = 'https://api.descope.com'

/**
 * Descope's roles: project roles (`roles`) as they are, and tenant roles (`tenants.{id}.roles`):
 * with `tenant`, that tenant's, plain; without it, each tenant's qualified by the tenant id
 * (`<tenant id>:<role>`).
 */
export function descopeRoles(
  options: { tenant?: string | undefined } = {},
): (claims: Readonly<Record<string, unknown>>) => string[] {
  const pinned = options.tenant
  return (claims) => {
    const roles = stringList(claims.roles)
    const tenants = claims.tenants
    if (typeof tenants === 'object' && tenants !== null && !Array.isArray(tenants)) {
      const rolesIn = (id: string): string[] => stringList(member(member(tenants, id), 'roles'))
      const tenantRoles =
        pinned !== undefined
          ? rolesIn(pinned)
          : Object.keys(tenants).flatMap((id) => rolesIn(id).map((r) => qualifiedRole(id, r)))
      roles.push(...tenantRoles)
    }
    return [...new Set(roles)]
  }
}

function baseOf(baseUrl: string | undefined): string {
  return (baseUrl ?? DESCOPE_API).replace(/\/+$/, '')
}

export function buildDescopeProfile(
  ctx: ProfileContext<UpstreamOf<'descope'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, projectId, baseUrl, tenant, ...common } = ctx.upstream
  return buildHostedProfile(ctx, common, {
    kind: 'descope',
    issuer: `${baseOf(baseUrl)}/${projectId}`,
    hint:
      'check upstream.projectId (Descope Console > Project Settings > Project ID) and, with a ' +
      'custom domain, upstream.baseUrl (Project Settings > Custom Domain; the Issuer URL of ' +
      'your application under Applications shows both)',
    defaultScopes: OIDC_DEFAULT_SCOPES,
    roles: descopeRoles({ tenant }),
  })
}

/**
 * The remote-AS verifier for a Descope MCP server: `iss` = the MCP server's issuer, keys of the
 * project, `aud` naming the project ID (Descope's binding; it does not put the MCP URL there).
 * Tokens that pass count as tokens for `resource`, the MCP URL this server guards.
 */
export function descopeVerifier(options: {
  projectId: string
  mcpServerId: string
  /** The MCP endpoint's URL (the resource the guard protects). */
  resource: string
  baseUrl?: string
  tenant?: string
  requiredScopes?: string[]
  fetch?: typeof fetch
}): TokenVerifier {
  const base = baseOf(options.baseUrl)
  const verifier = remoteVerifier({
    issuer: `${base}/v1/apps/agentic/${options.projectId}/${options.mcpServerId}`,
    audience: options.projectId,
    allowExtraAudiences: true,
    jwksUri: `${base}/${options.projectId}/.well-known/jwks.json`,
    claimsToRoles: descopeRoles({ tenant: options.tenant }),
    ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  return boundToResource(verifier, options.resource)
}
