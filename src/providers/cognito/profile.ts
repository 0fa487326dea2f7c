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
 *   app client), verified with the pool's keys;
 * - groups in `cognito:groups` (of the verified ID token) become Gatehouse roles (`../roles.ts`).
 */
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
import { commonSettings, isLoopbackUrl, verifierDeps, type UpstreamOf } from '../shared.js'

/** Asked for when `upstream.scopes` is unset (Cognito has no `offline_access`). */
export const COGNITO_DEFAULT_SCOPES = ['openid', 'email', 'profile']

/** The user pool's issuer. */
export function cognitoIssuer(region: string, userPoolId: string, endpoint?: string): string {
  const base = endpoint ?? `https://cognito-idp.${region}.amazonaws.com`
  return `${base.replace(/\/+$/, '')}/${userPoolId}`
}

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
      allowInsecureRequests: isLoopbackUrl(issuer) || isLoopbackUrl(origin),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const idTokens = new JWTVerifier({
    issuer,
    audience: up.clientId,
    jwksUri: found.jwksUri,
    algorithms: ['RS256'],
    allowHttpLoopback: isLoopbackUrl(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackUrl(found.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const identifyUser = verifiedIdentity(idTokens)
  return genericProfile({
    kind: 'cognito',
    upstream,
    redirectPath: up.redirectPath,
    upstreamScopes: up.scopes ?? COGNITO_DEFAULT_SCOPES,
    async resolveIdentity(result): Promise<UserIdentity> {
      const identity = await identifyUser(result)
      const claims = result.tokens.idToken
        ? (await idTokens.verifyToken(result.tokens.idToken))?.claims
        : undefined
      return withRoles(identity, stringList(claims?.[up.groupsClaim]))
    },
  })
}
