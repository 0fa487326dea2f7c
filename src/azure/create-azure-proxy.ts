/**
 * Builds the `AzureProvider` for a `kind: 'azure'` upstream: the tenant's discovery document (once,
 * at start-up; not for B2C), the upstream client, the access-token verifier, the scope rules and
 * the On-Behalf-Of client.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { isLoopbackHost } from '../config/urls.js'
import { createCookieSigner } from '../http/cookies.js'
import type { GatehouseProviderOptions } from '../oauth/gatehouse-provider.js'
import type { ProxyDeps } from '../upstream/create-proxy.js'
import { UpstreamClient } from '../upstream/upstream-client.js'
import { isTenantGuid, resolveAuthority, v2Issuer } from './authority.js'
import { AzureJWTVerifier, defaultIdentifierUri } from './azure-jwt-verifier.js'
import { AzureProvider } from './azure-provider.js'
import { discoverTenant } from './discovery.js'
import { createClientAssertionSigner } from './client-assertion.js'
import { OboClient } from './obo.js'
import { AzureScopeRules } from './scopes.js'

type AzureUpstream = Extract<NonNullable<ResolvedConfig['upstream']>, { kind: 'azure' }>

/** Called for configurations that work but may not do what was meant. */
export type WarningHook = (message: string) => void

export async function buildAzureProvider(
  config: ResolvedConfig,
  up: AzureUpstream,
  base: GatehouseProviderOptions,
  deps: ProxyDeps & { onWarning?: WarningHook },
): Promise<AzureProvider> {
  const authority = resolveAuthority(up)
  const timeoutMs = up.timeoutSeconds * 1000
  const rules = new AzureScopeRules({
    identifierUri: up.identifierUri ?? defaultIdentifierUri(up),
    requiredScopes: up.requiredScopes,
    additionalAuthorizeScopes: up.additionalAuthorizeScopes,
  })
  const warn = deps.onWarning ?? console.warn
  if (
    authority.multiTenant &&
    up.tenantId?.toLowerCase() !== 'consumers' &&
    up.allowedTenants === undefined
  ) {
    warn(
      `gatehouse: the Azure provider is multi-tenant (${up.tenantId ?? ''}) without ` +
        'allowedTenants: users of any Entra tenant can sign in, and the app roles (roles) and ' +
        'scopes (scp) in their tokens are granted by their own tenant’s administrators; list ' +
        'allowedTenants, or authorise by tenant (tid) yourself',
    )
  }
  if (rules.validationOff) {
    warn(
      'gatehouse: the Azure provider has no API scope in requiredScopes (only OIDC scopes or ' +
        'none): Entra access tokens are accepted without a scope check',
    )
  }
  let endpoints = {
    authorizationEndpoint: authority.authorizationEndpoint,
    tokenEndpoint: authority.tokenEndpoint,
    jwksUri: authority.jwksUri,
  }
  let tenantGuid: string | undefined
  if (!authority.b2c && up.tenantId !== undefined) {
    const found = await discoverTenant(authority, up.tenantId, {
      timeoutMs,
      fetch: deps.fetch,
      transport: deps.transport,
    })
    endpoints = found
    tenantGuid = found.tenantGuid
  }
  const verifier = new AzureJWTVerifier({
    ...up,
    identifierUri: rules.identifierUri,
    // At sign-in the token must carry what was asked for, not the whole configured set: the
    // provider keeps only the granted scopes (`issueCode`), and the guard requires the rest.
    requiredScopes: [],
    // Gatehouse signs users in: a token an app got for itself is never a user.
    refuseAppOnlyTokens: true,
    tenantGuid,
    jwksUri: endpoints.jwksUri,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now: base.now,
    fetch: deps.fetch,
    transport: deps.transport,
    signatureVerifier: deps.signatureVerifier,
  })
  const clientAssertion = up.clientCertificate
    ? await createClientAssertionSigner(
        up.clientCertificate,
        up.clientId,
        endpoints.tokenEndpoint,
        base.now,
      )
    : undefined
  const loopback = isLoopbackUrl(authority.base)
  const issuer = authority.b2c
    ? (up.b2c?.tokenIssuer ?? `${authority.base}/${authority.tenantPath}/v2.0/`)
    : tenantGuid !== undefined
      ? v2Issuer(authority, tenantGuid)
      : v2Issuer(authority, '{tenantid}')
  const openid = rules.authorizeScopes([]).includes('openid')
  const upstream = new UpstreamClient(
    {
      clientId: up.clientId,
      ...(up.clientSecret !== undefined ? { clientSecret: up.clientSecret } : {}),
      tokenEndpointAuthMethod: up.tokenEndpointAuthMethod,
      ...(clientAssertion ? { clientAssertion } : {}),
      issuer,
      authorizationEndpoint: endpoints.authorizationEndpoint,
      tokenEndpoint: endpoints.tokenEndpoint,
      jwksUri: endpoints.jwksUri,
      // Entra sends no RFC 9207 `iss` on its redirects.
      issParameterSupported: false,
      openid,
      extraAuthorizeParams: {
        ...up.extraAuthorizeParams,
        ...(up.prompt !== undefined ? { prompt: up.prompt } : {}),
      },
      extraTokenParams: { ...up.extraTokenParams },
      allowInsecureRequests: loopback,
      timeoutMs,
      // Multi-tenant and B2C ID tokens name the user's tenant: the same rules as access tokens.
      idTokenIssuer: (claims) => {
        if (authority.b2c) {
          return up.b2c?.tokenIssuer === undefined && typeof claims.iss === 'string'
            ? claims.iss
            : undefined
        }
        if (!isTenantGuid(claims.tid)) return undefined
        // Single tenant: an ID token of another directory is a foreign user, not an IdP failure
        // (the fixed issuer check would call it one).
        if (tenantGuid !== undefined && claims.tid.toLowerCase() !== tenantGuid.toLowerCase()) {
          throw new OAuthError('access_denied', 'this tenant may not sign in', {
            reason: 'upstream_tenant_not_allowed',
          })
        }
        if (tenantGuid !== undefined) return undefined
        if (!allowed(up, claims.tid)) {
          // A user of a tenant not in allowedTenants: refused, not an upstream failure.
          throw new OAuthError('access_denied', 'this tenant may not sign in', {
            reason: 'upstream_tenant_not_allowed',
          })
        }
        return v2Issuer(authority, claims.tid)
      },
    },
    deps.fetch,
    base.now,
  )
  const obo = authority.b2c
    ? undefined
    : new OboClient({
        tokenEndpoint: endpoints.tokenEndpoint,
        clientId: up.clientId,
        clientSecret: up.clientSecret,
        clientAssertion,
        ...(up.tokenEndpointAuthMethod === 'client_secret_basic'
          ? { authMethod: 'client_secret_basic' as const }
          : {}),
        timeoutMs,
        fetch: deps.fetch,
        transport: deps.transport,
        now: base.now,
      })
  return new AzureProvider({
    ...base,
    upstream,
    cookies: await createCookieSigner(config.secret),
    redirectPath: up.redirectPath,
    upstreamScopes: [],
    azure: { authority, rules, accessTokenVerifier: verifier, obo },
  })
}

function allowed(up: AzureUpstream, tid: string): boolean {
  return up.allowedTenants === undefined || up.allowedTenants.includes(tid.toLowerCase())
}

function isLoopbackUrl(value: string): boolean {
  const url = new URL(value)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}
