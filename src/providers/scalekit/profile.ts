/**
 * The Scalekit profile (`upstream.kind: 'scalekit'`): Gatehouse is an application of a Scalekit
 * environment and users sign in there. Scalekit's quirks (docs/providers/scalekit.md):
 * - the issuer is the environment URL (`https://acme.scalekit.com`, or a custom domain), checked
 *   at start-up; keys at `{environment}/keys`;
 * - roles and permissions are in the JWT access token only (`roles`, `permissions`, with the
 *   organization `oid`), whose `aud` is the client id: it is verified and must name the ID token's
 *   user; the roles are plain only when `oid` is the organization the operator pinned
 *   (`organizationId`), else `<oid>:<role>`, and none without `oid`;
 * - Scalekit's MCP auth registers MCP clients itself (DCR and CIMD) for an MCP server resource
 *   (`res_…`): tokens with `aud` naming that resource ID; `scalekitVerifier` is the verifier of the
 *   remote-AS mode, and the authorization server to publish is `{environment}/resources/{id}`.
 */
import type { TokenVerifier } from '../../jwt/access-token.js'
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { boundToResource, buildHostedProfile, remoteVerifier } from '../hosted.js'
import { OIDC_DEFAULT_SCOPES } from '../oidc/profile.js'
import { organizationRoles, stringList } from '../roles.js'
import type { UpstreamOf } from '../shared.js'

/**
 * Scalekit's roles: the access token's `roles`, those of its organization `oid`: plain when it is
 * `options.organizationId`, else qualified as `<oid>:<role>`; none without `oid`.
 */
export function scalekitRoles(
  claims: Readonly<Record<string, unknown>>,
  options: { organizationId?: string | undefined } = {},
): string[] {
  return organizationRoles(stringList(claims.roles), claims.oid, options.organizationId)
}

export function buildScalekitProfile(
  ctx: ProfileContext<UpstreamOf<'scalekit'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, environmentUrl, organizationId, ...common } = ctx.upstream
  return buildHostedProfile(ctx, common, {
    kind: 'scalekit',
    issuer: environmentUrl.replace(/\/+$/, ''),
    hint:
      'check upstream.environmentUrl (Scalekit Dashboard > Settings > API Credentials > ' +
      'Environment URL; with a custom domain, that domain)',
    defaultScopes: OIDC_DEFAULT_SCOPES,
    roles: (claims) => scalekitRoles(claims, { organizationId }),
    rolesFrom: 'access_token',
  })
}

/** The authorization server of a Scalekit MCP server resource, for the protected-resource metadata. */
export function scalekitAuthorizationServer(environmentUrl: string, resourceId: string): string {
  return `${environmentUrl.replace(/\/+$/, '')}/resources/${resourceId}`
}

/**
 * The remote-AS verifier for a Scalekit MCP server resource: `iss` = the environment URL, its keys
 * at `/keys`, `aud` naming the resource ID (`res_…`); tokens that pass count as tokens for
 * `resource`, the MCP URL registered as that resource's server URL.
 */
export function scalekitVerifier(options: {
  environmentUrl: string
  resourceId: string
  resource: string
  /** The organization whose roles count as plain roles; another's are `<oid>:<role>`. */
  organizationId?: string
  requiredScopes?: string[]
  fetch?: typeof fetch
}): TokenVerifier {
  const issuer = options.environmentUrl.replace(/\/+$/, '')
  const verifier = remoteVerifier({
    issuer,
    audience: options.resourceId,
    allowExtraAudiences: true,
    jwksUri: `${issuer}/keys`,
    claimsToRoles: (claims) => scalekitRoles(claims, { organizationId: options.organizationId }),
    ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  return boundToResource(verifier, options.resource)
}
