/**
 * Builds the `OAuthProxy` for `config.upstream`: OIDC discovery (at start-up), the upstream client,
 * the verifier of the IdP's tokens and the cookie signer.
 */
import { ASYMMETRIC_ALGORITHMS } from '../config/protocol.js'
import type { ResolvedConfig } from '../config/schema.js'
import { ConfigError } from '../errors.js'
import { isLoopbackHost } from '../config/urls.js'
import { createCookieSigner } from '../http/cookies.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { VerifierObserver } from '../jwt/observer.js'
import { JWTVerifier } from '../jwt/verifier.js'
import { buildAzureProvider } from '../azure/create-azure-proxy.js'
import type { GatehouseProviderOptions } from '../oauth/gatehouse-provider.js'
import { OAuthProxy } from './oauth-proxy.js'
import { discoverOidc } from './oidc-discovery.js'
import { UpstreamClient, type UpstreamSettings } from './upstream-client.js'

const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access']

export interface ProxyDeps {
  fetch?: typeof fetch
  /** Checks resolved addresses of the IdP's key URLs (see `createGuardedFetch`). */
  transport?: GuardedTransport
  signatureVerifier?: SignatureVerifierFactory
  /** Configurations that work but may not do what was meant (default `console.warn`). */
  onWarning?: (message: string) => void
  /** Told about key loads of the IdP's JWKS (metrics). */
  observer?: VerifierObserver
}

export async function createProxy(
  config: ResolvedConfig,
  base: GatehouseProviderOptions,
  deps: ProxyDeps,
): Promise<OAuthProxy | undefined> {
  const up = config.upstream
  if (!up) return undefined
  if (up.kind === 'azure') return buildAzureProvider(config, up, base, deps)
  const common = {
    clientId: up.clientId,
    ...(up.clientSecret !== undefined ? { clientSecret: up.clientSecret } : {}),
    tokenEndpointAuthMethod: up.tokenEndpointAuthMethod,
    extraTokenParams: { ...up.extraTokenParams },
    timeoutMs: up.timeoutSeconds * 1000,
  }
  let settings: UpstreamSettings
  let verifier: JWTVerifier
  const verifierDeps = {
    now: base.now,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.transport ? { transport: deps.transport } : {}),
    ...(deps.signatureVerifier ? { signatureVerifier: deps.signatureVerifier } : {}),
    clockToleranceSeconds: config.clockToleranceSeconds,
    ...(deps.observer ? { observer: deps.observer } : {}),
  }
  if (up.kind === 'oidc') {
    const d = await discoverOidc(up.configUrl, {
      strict: up.strict,
      timeoutMs: up.timeoutSeconds * 1000,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    })
    const audience = up.audience !== undefined ? { audience: up.audience } : {}
    const algorithms = idTokenAlgorithms(up.algorithm, d.idTokenAlgorithms, deps.onWarning)
    settings = {
      ...common,
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
      allowInsecureRequests: isLoopbackUrl(d.issuer),
    }
    verifier = new JWTVerifier({
      issuer: d.issuer,
      audience: up.clientId,
      jwksUri: d.jwksUri,
      algorithms: [...algorithms],
      allowHttpLoopback: isLoopbackUrl(d.jwksUri),
      dangerouslyAllowPrivateNetwork: isLoopbackUrl(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
      ...verifierDeps,
    })
  } else {
    settings = {
      ...common,
      issuer: up.issuer,
      authorizationEndpoint: up.authorizationEndpoint,
      tokenEndpoint: up.tokenEndpoint,
      ...(up.revocationEndpoint ? { revocationEndpoint: up.revocationEndpoint } : {}),
      jwksUri: up.jwksUri,
      openid: false,
      // No ID token is asked for; one sent anyway is checked as the verifier below checks tokens.
      idTokenAlgorithms: ASYMMETRIC_ALGORITHMS,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackUrl(up.issuer),
    }
    verifier = new JWTVerifier({
      issuer: up.issuer,
      audience: up.accessTokenAudience ?? up.clientId,
      jwksUri: up.jwksUri,
      allowHttpLoopback: isLoopbackUrl(up.jwksUri),
      dangerouslyAllowPrivateNetwork:
        isLoopbackUrl(up.jwksUri) || up.dangerouslyAllowPrivateNetwork,
      ...verifierDeps,
    })
  }
  return new OAuthProxy({
    ...base,
    upstream: new UpstreamClient(settings, deps.fetch, base.now),
    cookies: await createCookieSigner(config.secret),
    redirectPath: up.redirectPath,
    upstreamScopes: up.scopes ?? (up.kind === 'oidc' ? OIDC_SCOPES : []),
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

function isLoopbackUrl(value: string): boolean {
  const url = new URL(value)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}
