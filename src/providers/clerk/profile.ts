/**
 * The Clerk profile (`upstream.kind: 'clerk'`): Gatehouse is an OAuth application of a Clerk
 * instance and users sign in through its Frontend API. Clerk's quirks (docs/providers/clerk.md):
 * - the issuer is the Frontend API `https://{domain}` (`…clerk.accounts.dev` in development, a
 *   `clerk.` subdomain of yours in production), discovery there, checked at start-up;
 * - OAuth access tokens are opaque unless the application issues JWTs, so the user comes from the
 *   verified ID token; roles are whatever claim `rolesClaim` names there — Clerk's basic RBAC keeps
 *   them in the user's public metadata, released with the `public_metadata` scope (asked for when
 *   `rolesClaim` starts with `public_metadata.`);
 * - Clerk registers MCP clients itself (DCR; Agents > MCP servers) and, for an MCP server, issues
 *   JWT access tokens with `typ: at+jwt` and `aud` = the MCP URL: `clerkVerifier` checks those (its
 *   ID tokens and session JWTs share the issuer; `typ` keeps them out).
 */
import { isClerkUserWritableClaim } from '../../config/clerk-schema.js'
import { ConfigError } from '../../errors.js'
import type { JWTVerifier } from '../../jwt/verifier.js'
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { buildHostedProfile, originOf, remoteVerifier, rolesAt } from '../hosted.js'
import type { UpstreamOf } from '../shared.js'

/** Asked for when `upstream.scopes` is unset (plus `public_metadata` for a roles claim there). */
export const CLERK_DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access']

/** Roles from the claim at the dotted path `rolesClaim` (e.g. `public_metadata.role`). */
export const clerkRoles = rolesAt

export function buildClerkProfile(
  ctx: ProfileContext<UpstreamOf<'clerk'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, domain, rolesClaim, ...common } = ctx.upstream
  return buildHostedProfile(ctx, common, {
    kind: 'clerk',
    issuer: originOf(domain),
    hint:
      'check upstream.domain against the Frontend API URL (Clerk Dashboard > Configure > ' +
      'Domains; in production your clerk. subdomain)',
    defaultScopes: rolesClaim?.startsWith('public_metadata.')
      ? [...CLERK_DEFAULT_SCOPES, 'public_metadata']
      : CLERK_DEFAULT_SCOPES,
    roles: rolesAt(rolesClaim),
  })
}

/**
 * The remote-AS verifier for a Clerk MCP server: `iss` = the Frontend API, keys at
 * `/.well-known/jwks.json`, `typ: at+jwt` (not an ID token or session JWT of the same issuer),
 * `aud` = `resource`, the MCP URL set as the server's MCP URL in the dashboard.
 */
export function clerkVerifier(options: {
  domain: string
  resource: string
  rolesClaim?: string
  requiredScopes?: string[]
  fetch?: typeof fetch
}): JWTVerifier {
  if (options.rolesClaim !== undefined && isClerkUserWritableClaim(options.rolesClaim)) {
    throw new ConfigError([
      'rolesClaim: must not be in unsafe_metadata (users write it themselves); use public_metadata',
    ])
  }
  const issuer = originOf(options.domain)
  return remoteVerifier({
    issuer,
    audience: options.resource,
    typ: 'at+jwt',
    jwksUri: `${issuer}/.well-known/jwks.json`,
    claimsToRoles: rolesAt(options.rolesClaim),
    ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
}
