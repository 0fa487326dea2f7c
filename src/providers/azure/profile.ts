/**
 * The Microsoft Entra ID (and Azure AD B2C) profile (`upstream.kind: 'azure'`). What it sets:
 * - how to reach Entra: the tenant's discovery document (once, at start-up; not for B2C), the
 *   cloud's or configured authority, a client secret or certificate;
 * - scopes: prefixed for Entra at authorize, one resource at code exchange and refresh, echoed
 *   scopes kept in short form (`AzureScopeRules`); Gatehouse's code carries only the scopes Entra
 *   granted;
 * - the user: Entra's access token for this API, verified locally (`AzureJWTVerifier`: tenant
 *   issuer rules, allowed tenants, audience, required `scp`), gives the subject, `tid`, `oid` and
 *   app `roles`; the ID token must name the same tenant and user;
 * - capabilities: `onBehalfOf` (not for B2C) and `accessTokenVerifier`.
 * The MCP client's `resource` and `prompt` never reach Entra (the upstream client sets only
 * Gatehouse's own parameters; a configured `prompt` is sent).
 */
import { OAuthError } from '../../errors.js'
import type {
  ProfileContext,
  ProviderProfile,
  UpstreamResult,
  UserIdentity,
} from '../../upstream/profile.js'
import { UpstreamClient, type UpstreamTokens } from '../../upstream/upstream-client.js'
import { isLoopbackURL, type UpstreamOf } from '../shared.js'
import {
  isB2CPolicy,
  isTenantGUID,
  resolveAuthority,
  v2Issuer,
  type AzureAuthority,
} from './authority.js'
import { AzureJWTVerifier, defaultIdentifierURI, isAppOnly } from './azure-jwt-verifier.js'
import { createClientAssertionSigner } from './client-assertion.js'
import { discoverTenant } from './discovery.js'
import { AzureOBOError } from '../../obo-error.js'
import { OBOClient } from './obo.js'
import { AzureScopeRules, isOIDCScope } from './scopes.js'

type AzureUpstream = UpstreamOf<'azure'>

/** Called for configurations that work but may not do what was meant. */
export type WarningHook = (message: string) => void

/** What the Azure profile holds besides the contract (read by the deprecated `AzureProvider`). */
export interface AzureParts {
  authority: AzureAuthority
  rules: AzureScopeRules
  /** Verifies Entra's access tokens for this API. */
  accessTokenVerifier: AzureJWTVerifier
  /** Undefined for B2C (no On-Behalf-Of there). */
  obo: OBOClient | undefined
}

export interface AzureProfile extends ProviderProfile {
  readonly kind: 'azure'
  readonly azure: AzureParts
}

/** Claims of Entra's access token carried into the grant (and `roles` into Gatehouse's tokens). */
const KEPT_CLAIMS = [
  'tid',
  'oid',
  'roles',
  'groups',
  'name',
  'preferred_username',
  'email',
  'upn',
  'azp',
] as const

/** Builds the Azure profile: discovery, upstream client, access-token verifier, scope rules, OBO. */
export async function buildAzureProfile(ctx: ProfileContext<AzureUpstream>): Promise<AzureProfile> {
  const up = ctx.upstream
  const authority = resolveAuthority(up)
  const timeoutMs = up.timeoutSeconds * 1000
  const rules = new AzureScopeRules({
    identifierUri: up.identifierUri ?? defaultIdentifierURI(up),
    requiredScopes: up.requiredScopes,
    additionalAuthorizeScopes: up.additionalAuthorizeScopes,
  })
  const warn = ctx.deps.onWarning ?? console.warn
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
      fetch: ctx.deps.fetch,
      transport: ctx.deps.transport,
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
    clockToleranceSeconds: ctx.config.clockToleranceSeconds,
    now: ctx.now,
    fetch: ctx.deps.fetch,
    transport: ctx.deps.transport,
    signatureVerifier: ctx.deps.signatureVerifier,
  })
  const clientAssertion = up.clientCertificate
    ? await createClientAssertionSigner(
        up.clientCertificate,
        up.clientId,
        endpoints.tokenEndpoint,
        ctx.now,
      )
    : undefined
  const loopback = isLoopbackURL(authority.base)
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
        if (!isTenantGUID(claims.tid)) return undefined
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
    ctx.deps.fetch,
    ctx.now,
  )
  const obo = authority.b2c
    ? undefined
    : new OBOClient({
        tokenEndpoint: endpoints.tokenEndpoint,
        clientId: up.clientId,
        clientSecret: up.clientSecret,
        clientAssertion,
        ...(up.tokenEndpointAuthMethod === 'client_secret_basic'
          ? { authMethod: 'client_secret_basic' as const }
          : {}),
        timeoutMs,
        fetch: ctx.deps.fetch,
        transport: ctx.deps.transport,
        now: ctx.now,
      })
  return azureProfile(up.redirectPath, upstream, {
    authority,
    rules,
    accessTokenVerifier: verifier,
    obo,
  })
}

/** The profile's behaviour over its parts. */
export function azureProfile(
  redirectPath: string,
  upstream: UpstreamClient,
  azure: AzureParts,
): AzureProfile {
  const { rules } = azure
  const keepTokens = (tokens: UpstreamTokens): UpstreamTokens =>
    tokens.scope === undefined ? tokens : { ...tokens, scope: rules.translateEchoed(tokens.scope) }
  const obo = azure.obo
  return {
    kind: 'azure',
    azure,
    upstream,
    redirectPath,
    scopes: {
      // Authorize: the client's scopes (or the configured ones) for Entra, plus the additional ones.
      authorize: (clientScopes) => rules.authorizeScopes(clientScopes),
      // Code exchange and refresh: this API's scopes and OIDC ones only (one resource per request).
      token: (clientScopes) => rules.tokenScopes(clientScopes),
      refresh: (grantScopes) => rules.tokenScopes(grantScopes),
    },
    keepTokens,
    identify: (result) => identify(azure, result, keepTokens),
    grantedScopes,
    capabilities: {
      accessTokenVerifier: azure.accessTokenVerifier,
      onBehalfOf: (userToken, scopes) => onBehalfOf(obo, userToken, scopes),
    },
    close: () => obo?.close(),
  }

  /**
   * Gatehouse's code carries the scopes the client asked for AND Entra granted (`scp` of its
   * access token): Gatehouse's token never claims more than Entra gave. OIDC scopes are not in
   * `scp` and are kept. A request left with no scope at all is refused (`access_denied`).
   */
  function grantedScopes(requested: readonly string[], identity: UserIdentity): string[] {
    const scp = identity.claims?.scp
    const granted = new Set(
      (Array.isArray(scp) ? (scp as unknown[]) : [])
        .filter((s): s is string => typeof s === 'string')
        .map((s) => rules.toEntra(s)),
    )
    // `.default` (only OIDC scopes configured) grants whatever Entra decided.
    const keep = (s: string) => isOIDCScope(s) || granted.has(rules.toEntra(s))
    const scopes = requested.filter(keep)
    if (scopes.length === 0 && requested.length > 0) {
      throw new OAuthError('access_denied', 'the identity provider granted none of the scopes', {
        reason: 'upstream_scopes_not_granted',
      })
    }
    return scopes
  }
}

/** The user is who Entra's access token for this API names; an unverifiable token is refused. */
async function identify(
  azure: AzureParts,
  result: UpstreamResult,
  keepTokens: (tokens: UpstreamTokens) => UpstreamTokens,
): Promise<UserIdentity> {
  const verified = await azure.accessTokenVerifier.verifyToken(result.tokens.accessToken)
  // An app-only token (client credentials) names no user, whatever the verifier's options.
  if (!verified?.subject || isAppOnly(verified.claims)) {
    throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
      reason: 'upstream_token_unverified',
    })
  }
  const id = result.idTokenClaims
  // Entra puts `oid` in ID tokens only with the `profile` scope: compared when it is there.
  if (
    id !== undefined &&
    (id.tid !== verified.claims.tid || (id.oid !== undefined && id.oid !== verified.claims.oid))
  ) {
    throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
      reason: 'upstream_id_token_mismatch',
    })
  }
  // B2C: the ID token must come from the configured user flow too (the access token's policy
  // was checked by the verifier).
  if (id !== undefined && azure.authority.b2c && !isB2CPolicy(azure.authority, id)) {
    throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
      reason: 'upstream_id_token_mismatch',
    })
  }
  const claims: Record<string, unknown> = {
    upstream_iss: verified.issuer,
    scp: verified.scopes,
  }
  for (const k of KEPT_CLAIMS) {
    if (verified.claims[k] !== undefined) claims[k] = verified.claims[k]
  }
  return { subject: verified.subject, claims, upstream: keepTokens(result.tokens) }
}

/**
 * On-Behalf-Of: Entra's token for a downstream API (`https://graph.microsoft.com/User.Read` …)
 * for the user whose Entra access token `userToken` yields. Cached per (assertion, scopes) until
 * shortly before it expires.
 *
 * @throws {AzureOBOError} `ERR_OBO_NOT_SUPPORTED` (B2C), `ERR_OBO_NO_TOKEN` (no Entra token
 *   behind the request), `ERR_OBO_REFUSED` (Entra's `error` and AADSTS codes kept),
 *   `ERR_OBO_UNAVAILABLE`.
 */
async function onBehalfOf(
  obo: OBOClient | undefined,
  userToken: () => Promise<string>,
  scopes: readonly string[],
): Promise<string> {
  if (obo === undefined) {
    throw new AzureOBOError('ERR_OBO_NOT_SUPPORTED', 'Azure AD B2C does not support On-Behalf-Of')
  }
  let assertion: string
  try {
    assertion = await userToken()
  } catch (error) {
    // Only a sign-in that ended is one to start again; a refresh held up elsewhere (a slow IdP,
    // `temporarily_unavailable`) or a store fault is not.
    if (error instanceof OAuthError && error.code === 'invalid_token') {
      throw new AzureOBOError(
        'ERR_OBO_NO_TOKEN',
        'no signed-in Entra user behind this request (sign in again)',
        { cause: error },
      )
    }
    throw new AzureOBOError(
      'ERR_OBO_UNAVAILABLE',
      'the user’s Entra token could not be refreshed for On-Behalf-Of',
      { cause: error },
    )
  }
  return (await obo.token(assertion, scopes)).accessToken
}

function allowed(up: AzureUpstream, tid: string): boolean {
  return up.allowedTenants === undefined || up.allowedTenants.includes(tid.toLowerCase())
}
