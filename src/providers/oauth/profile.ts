/**
 * The generic OAuth 2.0 profile (`upstream.kind: 'oauth'`): configured endpoints (no discovery),
 * no ID token; the user is the `sub` of the IdP's JWT access token, verified with its JWKS.
 */
import { ASYMMETRIC_ALGORITHMS } from '../../config/protocol.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import {
  genericProfile,
  type ProfileContext,
  type ProviderProfile,
} from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

export function buildOAuthProfile(
  ctx: ProfileContext<UpstreamOf<'oauth'>>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      issuer: up.issuer,
      authorizationEndpoint: up.authorizationEndpoint,
      tokenEndpoint: up.tokenEndpoint,
      ...(up.revocationEndpoint ? { revocationEndpoint: up.revocationEndpoint } : {}),
      jwksUri: up.jwksUri,
      openid: false,
      // No ID token is asked for; one sent anyway is checked as the verifier below checks tokens.
      idTokenAlgorithms: ASYMMETRIC_ALGORITHMS,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(up.issuer),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const verifier = new JWTVerifier({
    issuer: up.issuer,
    audience: up.accessTokenAudience ?? up.clientId,
    jwksUri: up.jwksUri,
    allowHttpLoopback: isLoopbackURL(up.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(up.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  return Promise.resolve(
    genericProfile({
      kind: 'oauth',
      upstream,
      redirectPath: up.redirectPath,
      upstreamScopes: up.scopes ?? [],
      upstreamVerifier: verifier,
    }),
  )
}
