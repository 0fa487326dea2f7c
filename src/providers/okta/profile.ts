/**
 * The Okta profile (`upstream.kind: 'okta'`): the generic OpenID Connect profile for one of the
 * org's two kinds of authorization server, which have different issuers and key sets:
 * - the org authorization server (no `authorizationServer`): issuer `https://{domain}`, keys at
 *   `/oauth2/v1/keys`; its access tokens are for Okta's own APIs, not for others to verify;
 * - a custom authorization server (`authorizationServer: 'default'` or its ID): issuer
 *   `https://{domain}/oauth2/{id}`, keys at `/oauth2/{id}/v1/keys`.
 * The issuer the settings imply is checked at start-up against the server's discovery document;
 * the user is the `sub` of the verified ID token, and the groups in its `groupsClaim` become
 * Gatehouse roles (`../roles.ts`). At the org server the `groups` scope is asked for as well.
 */
import type { ProfileContext, ProviderProfile, UserIdentity } from '../../upstream/profile.js'
import { verifiedIdentity } from '../../upstream/profile.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import { discoverExpectedIssuer, discoveryURLOf } from '../discovered-issuer.js'
import { buildOIDCProfile, OIDC_DEFAULT_SCOPES } from '../oidc/profile.js'
import { stringList, withRoles } from '../roles.js'
import { isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

/** The issuer of the org (no `authorizationServer`) or of a custom authorization server. */
export function oktaIssuer(domain: string, authorizationServer: string | undefined): string {
  const origin = domain.startsWith('http://') ? domain : `https://${domain}`
  return authorizationServer === undefined ? origin : `${origin}/oauth2/${authorizationServer}`
}

export async function buildOktaProfile(
  ctx: ProfileContext<UpstreamOf<'okta'>>,
): Promise<ProviderProfile> {
  const { kind: _kind, domain, authorizationServer, groupsClaim, ...common } = ctx.upstream
  const issuer = oktaIssuer(domain, authorizationServer)
  const found = await discoverExpectedIssuer(
    issuer,
    authorizationServer === undefined
      ? 'check upstream.domain (Okta Admin Console: your org URL, or Customizations > Domain ' +
          'for a custom domain); for a custom authorization server set upstream.authorizationServer'
      : 'check upstream.domain and upstream.authorizationServer against the Issuer URI in the ' +
          'Okta Admin Console (Security > API > Authorization Servers; its Issuer setting may ' +
          'name the custom domain)',
    {
      timeoutMs: common.timeoutSeconds * 1000,
      ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
    },
  )
  const oidc = await buildOIDCProfile({
    ...ctx,
    upstream: {
      ...common,
      kind: 'oidc',
      configUrl: discoveryURLOf(issuer),
      strict: true,
      // The org server releases the groups claim for its pre-configured `groups` scope; a custom
      // server has no such scope (asking for it fails) and adds the claim by its own rules.
      ...(common.scopes === undefined && authorizationServer === undefined
        ? { scopes: [...OIDC_DEFAULT_SCOPES, 'groups'] }
        : {}),
    },
  })
  const algorithms = oidc.upstream.settings.idTokenAlgorithms
  const idTokens = new JWTVerifier({
    issuer,
    audience: common.clientId,
    jwksUri: found.jwksUri,
    ...(algorithms ? { algorithms: [...algorithms] } : {}),
    allowHttpLoopback: isLoopbackURL(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackURL(found.jwksUri) || common.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const identifyUser = verifiedIdentity(idTokens)
  return {
    ...oidc,
    kind: 'okta',
    async identify(result): Promise<UserIdentity> {
      const identity = await identifyUser(result)
      const claims = result.tokens.idToken
        ? (await idTokens.verifyToken(result.tokens.idToken))?.claims
        : undefined
      return withRoles(identity, stringList(claims?.[groupsClaim]))
    },
  }
}
