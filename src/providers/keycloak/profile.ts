/**
 * The Keycloak profile (`upstream.kind: 'keycloak'`): the generic OpenID Connect profile for the
 * realm's issuer `{url}/realms/{realm}` (checked at start-up), plus Keycloak's roles. Keycloak's
 * default "roles" client scope puts realm roles (`realm_access.roles`) and client roles
 * (`resource_access.{client}.roles`) in the access token only, so at sign-in the access token is
 * verified too (the realm's issuer and keys, `aud` naming `account` or this client, `azp` this
 * client, the same user as the ID token) and the configured roles become Gatehouse roles
 * (`../roles.ts`). Keycloak does not implement RFC 8707: nothing here sends or needs `resource`.
 */
import { OAuthError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import type { ProfileContext, ProviderProfile, UserIdentity } from '../../upstream/profile.js'
import { discoverExpectedIssuer, discoveryURLOf } from '../discovered-issuer.js'
import { buildOIDCProfile } from '../oidc/profile.js'
import { member, stringList, withRoles } from '../roles.js'
import { isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

/** The audience Keycloak's access tokens carry without an Audience mapper. */
const KEYCLOAK_ACCOUNT_AUDIENCE = 'account'

/** The realm's issuer: `{url}/realms/{realm}`. */
export function keycloakIssuer(url: string, realm: string): string {
  return `${url.replace(/\/+$/, '')}/realms/${encodeURIComponent(realm)}`
}

/**
 * Reads Keycloak's roles from verified access-token claims: realm roles (`realm_access.roles`)
 * when `realmRoles`, and the roles of each client in `clientRoles`
 * (`resource_access.{client}.roles`). Also a `claimsToRoles` for a `JWTVerifier` of Keycloak's
 * access tokens in the remote-AS mode (docs/providers/keycloak.md).
 */
export function keycloakRoles(options: {
  realmRoles: boolean
  clientRoles: readonly string[]
}): (claims: Readonly<Record<string, unknown>>) => string[] {
  return (claims) => {
    const roles = options.realmRoles ? stringList(member(claims.realm_access, 'roles')) : []
    for (const client of options.clientRoles) {
      roles.push(...stringList(member(member(claims.resource_access, client), 'roles')))
    }
    return [...new Set(roles)]
  }
}

export async function buildKeycloakProfile(
  ctx: ProfileContext<UpstreamOf<'keycloak'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, url, realm, realmRoles, clientRoles, ...common } = ctx.upstream
  const issuer = keycloakIssuer(url, realm)
  await discoverExpectedIssuer(
    issuer,
    'check upstream.url and upstream.realm (Keycloak admin console: the realm name at the top ' +
      'left, Realm settings > General > Frontend URL, and the server hostname option)',
    {
      timeoutMs: common.timeoutSeconds * 1000,
      ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
    },
  )
  const oidc = await buildOIDCProfile({
    ...ctx,
    upstream: { ...common, kind: 'oidc', configUrl: discoveryURLOf(issuer), strict: true },
  })
  const jwksUri = oidc.upstream.settings.jwksUri ?? ''
  const accessTokens = new JWTVerifier({
    issuer,
    audience: [common.clientId, KEYCLOAK_ACCOUNT_AUDIENCE],
    allowExtraAudiences: true,
    jwksUri,
    ...(oidc.upstream.settings.idTokenAlgorithms
      ? { algorithms: [...oidc.upstream.settings.idTokenAlgorithms] }
      : {}),
    allowHttpLoopback: isLoopbackURL(jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(jwksUri) || common.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const rolesOf = keycloakRoles({ realmRoles, clientRoles: clientRoles ?? [common.clientId] })
  return {
    ...oidc,
    kind: 'keycloak',
    async identify(result): Promise<UserIdentity> {
      const identity = await oidc.identify(result)
      const verified = await accessTokens.verifyToken(result.tokens.accessToken)
      if (verified?.claims.azp !== common.clientId || verified.subject !== identity.subject) {
        throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
          reason: 'keycloak_access_token_unverified',
        })
      }
      return withRoles(identity, rolesOf(verified.claims))
    },
  }
}
