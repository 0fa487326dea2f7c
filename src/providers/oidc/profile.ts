/**
 * The generic OpenID Connect profile (`upstream.kind: 'oidc'`): endpoints from the IdP's discovery
 * document (fetched once, at start-up), the user from its verified ID token, the standard OIDC
 * scopes unless others are configured.
 */
import { ASYMMETRIC_ALGORITHMS } from '../../config/protocol.js'
import { ConfigError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import { discoverOIDC } from '../../upstream/oidc-discovery.js'
import {
  genericProfile,
  type ProfileContext,
  type ProviderProfile,
} from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

/** Asked for when `upstream.scopes` is unset. */
export const OIDC_DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access']

export async function buildOIDCProfile(
  ctx: ProfileContext<UpstreamOf<'oidc'>>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const d = await discoverOIDC(up.configUrl, {
    strict: up.strict,
    timeoutMs: up.timeoutSeconds * 1000,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
  })
  const audience = up.audience !== undefined ? { audience: up.audience } : {}
  const algorithms = idTokenAlgorithms(up.algorithm, d.idTokenAlgorithms, ctx.deps.onWarning)
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      issuer: d.issuer,
      authorizationEndpoint: d.authorizationEndpoint,
      tokenEndpoint: d.tokenEndpoint,
      ...(d.revocationEndpoint ? { revocationEndpoint: d.revocationEndpoint } : {}),
      jwksUri: d.jwksUri,
      issParameterSupported: d.issParameterSupported,
      openid: true,
      idTokenAlgorithms: algorithms,
      extraAuthorizeParams: { ...audience, ...up.extraAuthorizeParams },
      extraTokenParams: { ...audience, ...up.extraTokenParams },
      allowInsecureRequests: isLoopbackURL(d.issuer),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const verifier = new JWTVerifier({
    issuer: d.issuer,
    audience: up.clientId,
    jwksUri: d.jwksUri,
    algorithms: [...algorithms],
    allowHttpLoopback: isLoopbackURL(d.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  return genericProfile({
    kind: 'oidc',
    upstream,
    redirectPath: up.redirectPath,
    upstreamScopes: up.scopes ?? OIDC_DEFAULT_SCOPES,
    upstreamVerifier: verifier,
  })
}

/**
 * The algorithms the IdP's ID tokens may be signed with: `upstream.algorithm` when set, else the
 * asymmetric ones the discovery document advertises, else RS256 (OpenID Connect's default, for a
 * non-strict document that names none). An IdP that advertises only HS* or `none` cannot be used:
 * a MAC keyed with the client secret or an unsigned token proves nothing about who signed in.
 */
function idTokenAlgorithms(
  configured: string | undefined,
  advertised: readonly string[],
  onWarning: (message: string) => void = console.warn,
): readonly string[] {
  const asymmetric = advertised.filter((a) =>
    (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a),
  )
  if (configured !== undefined) {
    if (advertised.length > 0 && !advertised.includes(configured)) {
      onWarning(
        `upstream.algorithm ${configured} is not in the identity provider's ` +
          `id_token_signing_alg_values_supported (${advertised.join(', ')}); sign-in fails unless ` +
          "the IdP signs this client's ID tokens with it",
      )
    }
    return [configured]
  }
  if (asymmetric.length > 0) return asymmetric
  if (advertised.length === 0) return ['RS256']
  throw new ConfigError([
    `upstream discovery: id_token_signing_alg_values_supported offers no asymmetric algorithm ` +
      `(${advertised.join(', ')}); Gatehouse accepts ID tokens signed with ` +
      `${ASYMMETRIC_ALGORITHMS.join(', ')} only (set upstream.algorithm if the IdP signs this ` +
      "client's ID tokens with one of them)",
  ])
}
