/**
 * The Auth0 profile (`upstream.kind: 'auth0'`): the OIDC proxy with Auth0's rules.
 * - The issuer is `https://{domain}/`, with the trailing slash Auth0 documents. Discovery is strict
 *   and told that issuer, so the document's `issuer` must be exactly `https://{domain}/` (OpenID
 *   Discovery §4.3): one without the slash, or naming another host, fails at start-up. The discovery
 *   URL drops the slash (§4). A custom domain is just another `domain`.
 * - `audience` (your API's Identifier) is always sent: only then does Auth0 issue a JWT access
 *   token. That token is verified (issuer, `audience`, keys) and must name the ID token's user.
 * - Roles: Auth0 has no standard roles claim; an Action puts them in a namespaced claim, read from
 *   the access token (else the ID token) as `rolesClaim` says.
 * - Only asymmetric ID-token algorithms: an application set to HS256 fails at start-up.
 */
import { ASYMMETRIC_ALGORITHMS } from '../../config/protocol.js'
import { ConfigError, OAuthError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import { discoverOIDC } from '../../upstream/oidc-discovery.js'
import type { ProfileContext, ProviderProfile, UserIdentity } from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

export type Auth0Upstream = UpstreamOf<'auth0'>

export const AUTH0_SCOPES = ['openid', 'profile', 'email', 'offline_access']

function refuse(reason: string): OAuthError {
  return new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
    reason,
  })
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined
}

/** Auth0's issuer for the configured domain (or stand-in authority): with the trailing slash. */
export function auth0Issuer(up: { domain: string; authority?: string | undefined }): string {
  return `${(up.authority ?? `https://${up.domain}`).replace(/\/+$/, '')}/`
}

export async function buildAuth0Profile(
  ctx: ProfileContext<Auth0Upstream>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const audience = up.audience ?? ''
  const base = auth0Issuer(up).slice(0, -1)
  const d = await discoverOIDC(`${base}/.well-known/openid-configuration`, {
    strict: true,
    issuer: auth0Issuer(up),
    timeoutMs: up.timeoutSeconds * 1000,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
  }).catch((error: unknown) => {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(
      error.issues.map((issue) =>
        issue.includes('the issuer is')
          ? `${issue} (check upstream.domain; with a custom domain, give that domain: Auth0 ` +
            'Dashboard → Branding → Custom Domains)'
          : issue,
      ),
    )
  })
  const algorithms = d.idTokenAlgorithms.filter((a) =>
    (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a),
  )
  if (algorithms.length === 0) {
    throw new ConfigError([
      'upstream discovery: Auth0 offers no asymmetric ID-token algorithm (Auth0 Dashboard → ' +
        'Applications → your application → Settings → Advanced → OAuth → JSON Web Token ' +
        'Signature Algorithm: RS256)',
    ])
  }
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
      extraAuthorizeParams: { ...up.extraAuthorizeParams, audience },
      allowInsecureRequests: isLoopbackURL(d.issuer),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const keys = {
    jwksUri: d.jwksUri,
    algorithms,
    allowHttpLoopback: isLoopbackURL(d.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  }
  const idTokens = new JWTVerifier({ issuer: d.issuer, audience: up.clientId, ...keys })
  // Auth0's access tokens name the API and `{issuer}userinfo`.
  const accessTokens = new JWTVerifier({
    issuer: d.issuer,
    audience,
    allowExtraAudiences: true,
    ...keys,
  })
  const scopes = up.scopes ?? AUTH0_SCOPES
  return {
    kind: 'auth0',
    upstream,
    redirectPath: up.redirectPath,
    scopes: { authorize: () => scopes, token: () => [] },
    capabilities: { accessTokenVerifier: accessTokens },
    identify: async (result): Promise<UserIdentity> => {
      const idToken = result.tokens.idToken
      const id = idToken === undefined ? undefined : await idTokens.verifyToken(idToken)
      if (!id?.subject) throw refuse('upstream_token_unverified')
      // Opaque (no audience honoured) or foreign access tokens are refused: fail closed.
      const access = await accessTokens
        .verifyToken(result.tokens.accessToken)
        .catch(() => undefined)
      if (access?.subject !== id.subject) throw refuse('upstream_access_token_unverified')
      const claims: Record<string, unknown> = { upstream_iss: d.issuer }
      if (id.claims.email_verified === true && typeof id.claims.email === 'string') {
        claims.email = id.claims.email
        claims.email_verified = true
      }
      if (typeof id.claims.name === 'string') claims.name = id.claims.name
      if (up.rolesClaim !== undefined) {
        const roles =
          stringList(access.claims[up.rolesClaim]) ?? stringList(id.claims[up.rolesClaim])
        if (roles !== undefined) claims.roles = roles
      }
      return { subject: id.subject, claims, upstream: result.tokens }
    },
  }
}
