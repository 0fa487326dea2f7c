/**
 * The PropelAuth profile (`upstream.kind: 'propelauth'`): Gatehouse is an OAuth2 client of a
 * PropelAuth project. PropelAuth's quirks (docs/providers/propelauth.md):
 * - OAuth 2.0, not OpenID Connect: no discovery document and no ID token; the endpoints are fixed
 *   paths under the Auth URL (`/propelauth/oauth/authorize`, `/propelauth/oauth/token`), the token
 *   endpoint takes the client with HTTP Basic, and no scopes are defined;
 * - the user comes from the userinfo endpoint (`/propelauth/oauth/userinfo`, with the access
 *   token): `user_id`, `email`, and `org_id_to_org_info`, whose `user_role` (and, for PropelAuth's
 *   role hierarchy, `inherited_user_roles_plus_current_role`) per organization become Gatehouse
 *   roles: with `orgId`, that organization's roles as they are (and no other's); without it, every
 *   organization's as `<org id>:<role>` (anyone can create an organization and own it);
 * - MCP authentication (DCR, tokens checked by RFC 7662 introspection at `/oauth/2.1/introspect`
 *   with credentials from MCP > Request Validation) is the remote-AS mode: `propelauthVerifier`.
 */
import { OAuthError, UpstreamError } from '../../errors.js'
import { IntrospectionTokenVerifier } from '../../jwt/introspection.js'
import type { TokenVerifier } from '../../jwt/access-token.js'
import {
  genericProfile,
  type ProfileContext,
  type ProviderProfile,
  type UserIdentity,
} from '../../upstream/profile.js'
import { cappedFetch, UpstreamClient } from '../../upstream/upstream-client.js'
import { member, qualifiedRole, stringList, withRoles } from '../roles.js'
import { commonSettings, isLoopbackURL, type UpstreamOf } from '../shared.js'

/**
 * The roles in `org_id_to_org_info` (PropelAuth's userinfo) or `org_id_to_org_member_info` (its
 * tokens): with `orgId`, that organization's roles, plain; without it, each organization's roles
 * qualified by its id (`<org id>:<role>`), since the user may own any other organization.
 */
export function propelauthRoles(
  options: { orgId?: string | undefined } = {},
): (claims: Readonly<Record<string, unknown>>) => string[] {
  const pinned = options.orgId
  return (claims) => {
    const orgs = claims.org_id_to_org_info ?? claims.org_id_to_org_member_info
    if (typeof orgs !== 'object' || orgs === null || Array.isArray(orgs)) return []
    if (pinned !== undefined) return rolesInOrganization(member(orgs, pinned))
    const roles = Object.keys(orgs).flatMap((id) =>
      rolesInOrganization(member(orgs, id)).map((role) => qualifiedRole(id, role)),
    )
    return [...new Set(roles)]
  }
}

/** One organization's `user_role` and the roles PropelAuth's hierarchy includes in it. */
function rolesInOrganization(org: unknown): string[] {
  const inherited = stringList(member(org, 'inherited_user_roles_plus_current_role'))
  const role = member(org, 'user_role')
  return [...new Set([...inherited, ...(typeof role === 'string' ? [role] : [])])]
}

function refuse(reason: string): OAuthError {
  return new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
    reason,
  })
}

export function buildPropelAuthProfile(
  ctx: ProfileContext<UpstreamOf<'propelauth'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, authUrl, orgId, ...up } = ctx.upstream
  const base = authUrl.replace(/\/+$/, '')
  const timeoutMs = up.timeoutSeconds * 1000
  const doFetch = cappedFetch(ctx.deps.fetch)
  const upstream = new UpstreamClient(
    {
      ...commonSettings({ ...up, kind: 'propelauth', authUrl }),
      issuer: base,
      authorizationEndpoint: `${base}/propelauth/oauth/authorize`,
      tokenEndpoint: `${base}/propelauth/oauth/token`,
      openid: false,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(base),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const rolesOf = propelauthRoles({ orgId })
  const userinfoUrl = `${base}/propelauth/oauth/userinfo`
  return Promise.resolve(
    genericProfile({
      kind: 'propelauth',
      upstream,
      redirectPath: up.redirectPath,
      upstreamScopes: up.scopes,
      async resolveIdentity(result): Promise<UserIdentity> {
        let info: Record<string, unknown>
        try {
          const res = await doFetch(userinfoUrl, {
            redirect: 'manual',
            signal: AbortSignal.timeout(timeoutMs),
            headers: {
              authorization: `Bearer ${result.tokens.accessToken}`,
              accept: 'application/json',
            },
          })
          if (res.status !== 200) throw refuse('propelauth_userinfo_refused')
          info = (await res.json()) as Record<string, unknown>
        } catch (error) {
          if (error instanceof OAuthError) throw error
          // An answer over the size cap is the IdP failing, not a refusal of the user.
          if (error instanceof UpstreamError) throw error
          throw refuse('propelauth_userinfo_failed')
        }
        const subject = info.user_id
        if (typeof subject !== 'string' || subject === '') throw refuse('propelauth_no_user_id')
        const claims: Record<string, unknown> = { upstream_iss: base }
        if (typeof info.email === 'string' && info.email_confirmed === true) {
          claims.email = info.email
          claims.email_verified = true
        }
        return withRoles({ subject, claims, upstream: result.tokens }, rolesOf(info))
      },
    }),
  )
}

/**
 * The remote-AS verifier: PropelAuth's MCP tokens are checked by RFC 7662 introspection at
 * `{authUrl}/oauth/2.1/introspect` with the credentials of MCP > Request Validation, and must name
 * `resource` (the MCP URL) in `aud`.
 */
export function propelauthVerifier(options: {
  authUrl: string
  resource: string
  clientId: string
  clientSecret: string
  orgId?: string
  fetch?: typeof fetch
}): TokenVerifier {
  const base = options.authUrl.replace(/\/+$/, '')
  const introspection = new IntrospectionTokenVerifier({
    introspectionUrl: `${base}/oauth/2.1/introspect`,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    audience: options.resource,
    issuer: base,
    allowHttpLoopback: isLoopbackURL(base),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(base),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  const rolesOf = propelauthRoles({ orgId: options.orgId })
  return {
    async verifyToken(token) {
      const verified = await introspection.verifyToken(token)
      return verified === undefined ? undefined : { ...verified, roles: rolesOf(verified.claims) }
    },
  }
}
