/**
 * The Hugging Face profile (`upstream.kind: 'huggingface'`): "Sign in with Hugging Face", the
 * OpenID Connect profile at the issuer `https://huggingface.co` (no trailing slash; strict
 * discovery), with Hugging Face's rules:
 * - scopes `openid profile email` by default: Hugging Face lists no `offline_access` scope;
 * - the user is the `sub` of the verified ID token;
 * - the user's organizations come from the userinfo endpoint (`orgs`, each with its name in
 *   `preferred_username`), fetched with the new access token; its `sub` must be the ID token's
 *   (OpenID Connect Core §5.3.2) or the sign-in is refused;
 * - `allowedOrganizations` refuses users in none of them; `organizationRoles` maps organizations to
 *   Gatehouse roles (only those give roles), else each organization becomes the role `org:{name}`:
 *   anyone can create an organization with a free name, which must not read as an operator's role.
 */
import { OAuthError, UpstreamError } from '../../errors.js'
import { discoverOIDC } from '../../upstream/oidc-discovery.js'
import { cappedFetch } from '../../upstream/upstream-client.js'
import type { ProfileContext, ProviderProfile, UserIdentity } from '../../upstream/profile.js'
import { buildOIDCProfile } from '../oidc/profile.js'
import { member, withRoles } from '../roles.js'
import type { UpstreamOf } from '../shared.js'

export type HuggingFaceUpstream = UpstreamOf<'huggingface'>

export const HUGGING_FACE_ISSUER = 'https://huggingface.co'
export const HUGGING_FACE_SCOPES = ['openid', 'profile', 'email']

/** Before an organization's name when it becomes a role without `organizationRoles`. */
export const HUGGING_FACE_ORG_ROLE_PREFIX = 'org:'

function refuse(description: string, reason: string): OAuthError {
  return new OAuthError('access_denied', description, { reason })
}

export async function buildHuggingFaceProfile(
  ctx: ProfileContext<HuggingFaceUpstream>,
): Promise<ProviderProfile> {
  const { kind: _kind, url, allowedOrganizations, organizationRoles, ...common } = ctx.upstream
  const issuer = (url ?? HUGGING_FACE_ISSUER).replace(/\/+$/, '')
  const configUrl = `${issuer}/.well-known/openid-configuration`
  const fetchImpl = cappedFetch(ctx.deps.fetch)
  const timeoutMs = common.timeoutSeconds * 1000
  const found = await discoverOIDC(configUrl, {
    strict: true,
    timeoutMs,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
  })
  const userinfo = found.userinfoEndpoint ?? `${issuer}/oauth/userinfo`
  const oidc = await buildOIDCProfile({
    ...ctx,
    upstream: {
      ...common,
      kind: 'oidc',
      configUrl,
      strict: true,
      scopes: common.scopes ?? HUGGING_FACE_SCOPES,
      algorithm: undefined,
      audience: undefined,
    },
  })

  /** The names of the user's organizations, from userinfo; its `sub` must be `subject`. */
  async function organizations(accessToken: string, subject: string): Promise<string[]> {
    let body: unknown
    try {
      const response = await fetchImpl(userinfo, {
        headers: { accept: 'application/json', authorization: `Bearer ${accessToken}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
      if (response.status !== 200) throw new Error(`status ${String(response.status)}`)
      body = await response.json()
    } catch (error) {
      throw new UpstreamError('ERR_UPSTREAM', 'the Hugging Face userinfo endpoint failed', {
        cause: error,
      })
    }
    if (member(body, 'sub') !== subject) {
      throw refuse('the identity provider did not prove who signed in', 'upstream_userinfo_sub')
    }
    const orgs = member(body, 'orgs')
    if (orgs === undefined) return []
    if (!Array.isArray(orgs)) throw refuse('unreadable organizations', 'upstream_orgs_unreadable')
    return orgs.flatMap((o) => {
      const name = member(o, 'preferred_username')
      return typeof name === 'string' ? [name] : []
    })
  }

  return {
    ...oidc,
    kind: 'huggingface',
    async identify(result): Promise<UserIdentity> {
      const identity = await oidc.identify(result)
      const orgs = await organizations(result.tokens.accessToken, identity.subject)
      const lower = orgs.map((o) => o.toLowerCase())
      if (
        allowedOrganizations !== undefined &&
        !allowedOrganizations.some((o) => lower.includes(o.toLowerCase()))
      ) {
        throw refuse(
          'this Hugging Face account is not a member of an allowed organization',
          'upstream_org_not_allowed',
        )
      }
      const roles =
        organizationRoles === undefined
          ? orgs.map((name) => `${HUGGING_FACE_ORG_ROLE_PREFIX}${name}`)
          : Object.entries(organizationRoles).flatMap(([org, r]) =>
              lower.includes(org.toLowerCase()) ? r : [],
            )
      return withRoles(identity, roles)
    },
  }
}
