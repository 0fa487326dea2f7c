/**
 * The Auth0 profile (`upstream.kind: 'auth0'`): the generic OpenID Connect profile for the tenant
 * at `upstream.domain` (its Auth0 domain or a custom domain), with Auth0's quirks:
 * - the issuer is `https://{domain}/`, with a trailing slash, and must be exactly that (a tenant
 *   reached through its custom domain names the custom domain; checked at start-up);
 * - `audience` (the Identifier of an Auth0 API) is sent on the authorization and token requests:
 *   without it Auth0 issues an opaque access token, with it a JWT for that API. With `audience`
 *   set the access token must verify at sign-in (issuer, keys, `aud` naming the API, the same
 *   user as the ID token), and it is offered as `capabilities.accessTokenVerifier`;
 * - roles come from a custom claim an Auth0 Action sets (`rolesClaim`, namespaced), read from the
 *   verified ID token or access token (`rolesFrom`) and mapped as every provider's (`../roles.ts`).
 */
import { OAuthError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import {
  verifiedIdentity,
  type ProfileContext,
  type ProviderProfile,
  type UserIdentity,
} from '../../upstream/profile.js'
import { discoverExpectedIssuer, discoveryUrlOf } from '../discovered-issuer.js'
import { buildOidcProfile } from '../oidc/profile.js'
import { stringList, withRoles } from '../roles.js'
import { isLoopbackUrl, verifierDeps, type UpstreamOf } from '../shared.js'

/** The tenant's issuer: `https://{domain}/` (a loopback `http://` origin stays as it is). */
export function auth0Issuer(domain: string): string {
  const origin = domain.startsWith('http://') ? domain : `https://${domain}`
  return `${origin}/`
}

export async function buildAuth0Profile(
  ctx: ProfileContext<UpstreamOf<'auth0'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, domain, rolesClaim, rolesFrom, ...common } = ctx.upstream
  const issuer = auth0Issuer(domain)
  const found = await discoverExpectedIssuer(
    issuer,
    'set upstream.domain to the domain users sign in at: the tenant domain (Auth0 Dashboard > ' +
      'Applications > your application > Settings > Domain) or, when the tenant has one, its ' +
      'custom domain (Branding > Custom Domains)',
    {
      timeoutMs: common.timeoutSeconds * 1000,
      ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
    },
  )
  // The issuer was checked above; the generic strict check would refuse Auth0's trailing slash.
  const oidc = await buildOidcProfile({
    ...ctx,
    upstream: { ...common, kind: 'oidc', configUrl: discoveryUrlOf(issuer), strict: false },
  })
  const settings = oidc.upstream.settings
  const algorithms = settings.idTokenAlgorithms ? [...settings.idTokenAlgorithms] : undefined
  const keys = {
    jwksUri: found.jwksUri,
    ...(algorithms ? { algorithms } : {}),
    allowHttpLoopback: isLoopbackUrl(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackUrl(found.jwksUri) || common.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  }
  const idTokens = new JWTVerifier({ issuer, audience: common.clientId, ...keys })
  const identifyUser = verifiedIdentity(idTokens)
  // Auth0 adds its /userinfo URL to `aud` when `openid` was asked for.
  const accessTokens =
    common.audience !== undefined
      ? new JWTVerifier({ issuer, audience: common.audience, allowExtraAudiences: true, ...keys })
      : undefined
  return {
    ...oidc,
    kind: 'auth0',
    async identify(result): Promise<UserIdentity> {
      const identity = await identifyUser(result)
      let roleSource = result.tokens.idToken
        ? (await idTokens.verifyToken(result.tokens.idToken))?.claims
        : undefined
      if (accessTokens) {
        const verified = await accessTokens.verifyToken(result.tokens.accessToken)
        if (verified?.subject !== identity.subject) {
          throw new OAuthError(
            'access_denied',
            'the identity provider did not issue a valid access token for the configured audience',
            { reason: 'auth0_access_token_unverified' },
          )
        }
        if (rolesFrom === 'access_token') roleSource = verified.claims
      }
      const roles = rolesClaim !== undefined ? stringList(roleSource?.[rolesClaim]) : []
      return withRoles(identity, roles)
    },
    ...(accessTokens ? { capabilities: { accessTokenVerifier: accessTokens } } : {}),
  }
}
