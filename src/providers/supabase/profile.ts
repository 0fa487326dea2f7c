/**
 * The Supabase Auth profile (`upstream.kind: 'supabase'`): Gatehouse is an OAuth client of the
 * project's OAuth 2.1 server and users sign in with the project's users. Supabase's quirks
 * (docs/providers/supabase.md):
 * - the issuer is `{projectUrl}/auth/v1`, with its discovery document there (checked at start-up)
 *   and keys at `{issuer}/.well-known/jwks.json`; only asymmetric signing keys can be verified (a
 *   project still on the legacy HS256 secret fails at start-up: no asymmetric algorithm);
 * - access tokens are JWTs with `aud: "authenticated"` and `role: "authenticated"` (the Postgres
 *   role, not an application role); application roles are a custom claim added by a Custom Access
 *   Token Hook (`user_role`) or `app_metadata`, read from the verified access token as
 *   `rolesClaim` says;
 * - no RFC 8707: tokens are not bound to a resource; the OAuth server registers MCP clients itself
 *   (DCR), and `supabaseVerifier` is the verifier of the remote-AS mode.
 */
import { isSupabaseUserWritableClaim } from '../../config/supabase-schema.js'
import { ConfigError } from '../../errors.js'
import type { TokenVerifier } from '../../jwt/access-token.js'
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { boundToResource, buildHostedProfile, remoteVerifier, rolesAt } from '../hosted.js'
import { OIDC_DEFAULT_SCOPES } from '../oidc/profile.js'
import type { UpstreamOf } from '../shared.js'

/** The audience of Supabase's signed-in users' access tokens. */
const AUTHENTICATED = 'authenticated'

/** The issuer of a project's Auth server. */
export function supabaseIssuer(projectUrl: string): string {
  return `${projectUrl.replace(/\/+$/, '')}/auth/v1`
}

/** Roles from the claim at the dotted path `rolesClaim`: a string is one role, a list several. */
export const supabaseRoles = rolesAt

export function buildSupabaseProfile(
  ctx: ProfileContext<UpstreamOf<'supabase'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, projectUrl, rolesClaim, ...common } = ctx.upstream
  return buildHostedProfile(ctx, common, {
    kind: 'supabase',
    issuer: supabaseIssuer(projectUrl),
    hint:
      'check upstream.projectUrl (Supabase Dashboard > Project Settings > Data API > Project ' +
      'URL) and that the OAuth 2.1 server is on (Authentication > OAuth Server)',
    defaultScopes: OIDC_DEFAULT_SCOPES,
    roles: supabaseRoles(rolesClaim),
    rolesFrom: 'access_token',
    accessTokenAudience: AUTHENTICATED,
  })
}

/**
 * The remote-AS verifier: the project's OAuth server issues the MCP clients' tokens (`iss` =
 * `{projectUrl}/auth/v1`, its keys, `aud: "authenticated"`, an OAuth `client_id`); Supabase binds
 * no resource, so tokens that pass count as tokens for `resource`, the MCP URL guarded here.
 */
export function supabaseVerifier(options: {
  projectUrl: string
  resource: string
  rolesClaim?: string
  /**
   * The OAuth clients (`client_id`) whose tokens are accepted. Unset: any OAuth client of the
   * project, including every client registered through its dynamic registration.
   */
  allowedClientIds?: string[]
  requiredScopes?: string[]
  fetch?: typeof fetch
}): TokenVerifier {
  const problems: string[] = []
  if (options.rolesClaim !== undefined && isSupabaseUserWritableClaim(options.rolesClaim)) {
    problems.push(
      'rolesClaim: must not be in user_metadata (users write it themselves); use app_metadata or a Custom Access Token Hook claim',
    )
  }
  if (options.allowedClientIds?.length === 0) {
    problems.push('allowedClientIds: name at least one client_id, or leave it unset')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const allowed = options.allowedClientIds ? new Set(options.allowedClientIds) : undefined
  const issuer = supabaseIssuer(options.projectUrl)
  const verifier = remoteVerifier({
    issuer,
    audience: AUTHENTICATED,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    claimsToRoles: supabaseRoles(options.rolesClaim),
    ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  // Only OAuth-issued tokens (with the client that asked): a project session token has no
  // client_id. With allowedClientIds, only those clients' tokens.
  const oauthOnly: TokenVerifier = {
    async verifyToken(token) {
      const verified = await verifier.verifyToken(token)
      const clientId = verified?.claims.client_id
      if (typeof clientId !== 'string') return undefined
      return allowed === undefined || allowed.has(clientId) ? verified : undefined
    },
  }
  return boundToResource(oauthOnly, options.resource)
}
