/**
 * The Amazon Cognito profile (`upstream.kind: 'cognito'`). Cognito's quirks:
 * - two hosts: the issuer is `https://cognito-idp.{region}.amazonaws.com/{userPoolId}` (discovery
 *   and keys there, checked at start-up: a pool that does not exist in the region fails naming
 *   the options), while users sign in at the user pool domain
 *   (`https://{prefix}.auth.{region}.amazoncognito.com` or a custom domain): `/oauth2/authorize`,
 *   `/oauth2/token`, `/oauth2/revoke`, configured here rather than taken from discovery;
 * - no `offline_access` scope (Cognito refuses unknown scopes; the code grant always returns a
 *   refresh token when the app client allows it): default scopes `openid email profile`;
 * - access tokens carry `client_id`, not `aud`: the user is taken from the ID token (`aud` = the
 *   app client), verified with the pool's keys; the access token of the sign-in must verify as
 *   this app client's (`cognitoVerifier`: `client_id`, `token_use: access`) for the same user, and
 *   that verifier is offered as the profile's `accessTokenVerifier`;
 * - groups in `cognito:groups` (of the verified ID token) become Gatehouse roles (`../roles.ts`).
 */
import { OAuthError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import {
  genericProfile,
  verifiedIdentity,
  type ProfileContext,
  type ProviderProfile,
  type UserIdentity,
} from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { discoverExpectedIssuer } from '../discovered-issuer.js'
import { stringList, withRoles } from '../roles.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'
import { cognitoIssuer, cognitoVerifier } from './verifier.js'

/** Asked for when `upstream.scopes` is unset (Cognito has no `offline_access`). */
export const COGNITO_DEFAULT_SCOPES = ['openid', 'email', 'profile']

export { cognitoIssuer } from './verifier.js'

/** The origin of the user pool domain (a prefix, a custom domain, or a loopback stand-in). */
export function cognitoDomainOrigin(domain: string, region: string): string {
  if (domain.startsWith('http://')) return domain
  return domain.includes('.')
    ? `https://${domain}`
    : `https://${domain}.auth.${region}.amazoncognito.com`
}

export async function buildCognitoProfile(
  ctx: ProfileContext<UpstreamOf<'cognito'>>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const issuer = cognitoIssuer(up.region, up.userPoolId, up.endpoint)
  const found = await discoverExpectedIssuer(
    issuer,
    'check upstream.region and upstream.userPoolId (Amazon Cognito console > User pools: the ' +
      'User pool ID and the region it is in)',
    { timeoutMs: up.timeoutSeconds * 1000, ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}) },
  )
  const origin = cognitoDomainOrigin(up.domain, up.region)
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      issuer,
      authorizationEndpoint: `${origin}/oauth2/authorize`,
      tokenEndpoint: `${origin}/oauth2/token`,
      revocationEndpoint: `${origin}/oauth2/revoke`,
      jwksUri: found.jwksUri,
      openid: true,
      idTokenAlgorithms: ['RS256'],
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(issuer) || isLoopbackURL(origin),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const idTokens = new JWTVerifier({
    issuer,
    audience: up.clientId,
    jwksUri: found.jwksUri,
    algorithms: ['RS256'],
    allowHttpLoopback: isLoopbackURL(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackURL(found.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const accessTokens = cognitoVerifier({
    region: up.region,
    userPoolId: up.userPoolId,
    clientIds: [up.clientId],
    ...(up.endpoint ? { endpoint: up.endpoint } : {}),
    groupsClaim: up.groupsClaim,
    allowHttpLoopback: isLoopbackURL(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackURL(found.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const identifyUser = verifiedIdentity(idTokens)
  const profile = genericProfile({
    kind: 'cognito',
    upstream,
    redirectPath: up.redirectPath,
    upstreamScopes: up.scopes ?? COGNITO_DEFAULT_SCOPES,
    async resolveIdentity(result): Promise<UserIdentity> {
      const identity = await identifyUser(result)
      // The token kept for getUpstreamToken must be this app client's access token for the same
      // user (not an ID token, not another client's): fail closed.
      const access = await accessTokens.verifyToken(result.tokens.accessToken)
      if (access?.subject !== identity.subject) {
        throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
          reason: 'upstream_access_token_unverified',
        })
      }
      const claims = result.tokens.idToken
        ? (await idTokens.verifyToken(result.tokens.idToken))?.claims
        : undefined
      return withRoles(identity, stringList(claims?.[up.groupsClaim]))
    },
  })
  return {
    ...profile,
    capabilities: { ...profile.capabilities, accessTokenVerifier: accessTokens },
  }
}
