/**
 * `AzureProvider`: the OAuth proxy with Microsoft Entra ID's rules. What it changes in the proxy:
 * - scopes: prefixed for Entra at authorize, one resource at code exchange and refresh, echoed
 *   scopes kept in short form (`AzureScopeRules`);
 * - the user: Entra's access token for this API, verified locally (`AzureJWTVerifier`: tenant
 *   issuer rules, audience, required `scp`), gives the subject, `tid`, `oid` and app `roles`;
 * - On-Behalf-Of: `onBehalfOf(token, scopes)` trades that access token for a downstream one.
 * The MCP client's `resource` and `prompt` never reach Entra (the upstream client sets only
 * Gatehouse's own parameters; a configured `prompt` is sent).
 */
import { OAuthError } from '../errors.js'
import type { GrantRecord } from '../grants/grants.js'
import type { UserIdentity } from '../oauth/gatehouse-provider.js'
import type { AuthorizationParams, OAuthClientInformation } from '../oauth/types.js'
import type { AccessToken } from '../jwt/access-token.js'
import { OAuthProxy, type OAuthProxyOptions, type Transaction } from '../upstream/oauth-proxy.js'
import type { UpstreamTokens } from '../upstream/upstream-client.js'
import { isB2CPolicy, type AzureAuthority } from './authority.js'
import { isAppOnly, type AzureJWTVerifier } from './azure-jwt-verifier.js'
import { EntraOboError } from './errors.js'
import type { OboClient } from './obo.js'
import type { AzureB2CProxyOptions, AzureProxyOptions } from './factories.js'
import type { Gatehouse } from '../gatehouse.js'
import { isOidcScope, type AzureScopeRules } from './scopes.js'

export interface AzureProviderOptions extends OAuthProxyOptions {
  azure: {
    authority: AzureAuthority
    rules: AzureScopeRules
    /** Verifies Entra's access tokens for this API. */
    accessTokenVerifier: AzureJWTVerifier
    /** Undefined for B2C (no On-Behalf-Of there). */
    obo: OboClient | undefined
  }
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

export class AzureProvider extends OAuthProxy {
  readonly azure: AzureProviderOptions['azure']

  /** `createAzureProxy`: Gatehouse with Entra ID as the identity provider. */
  static async create(options: AzureProxyOptions): Promise<Gatehouse> {
    // Loaded on use: the factories import `createGatehouse`, which imports this class.
    const { createAzureProxy } = await import('./factories.js')
    return createAzureProxy(options)
  }

  /**
   * `createAzureB2CProxy`: derives the authority (`{tenantName}.b2clogin.com` or `customDomain`),
   * the tenant path (`{tenantName}.onmicrosoft.com/{policyName}`) and the identifier URI; the
   * issuer is checked only when `tokenIssuer` is given; On-Behalf-Of is refused.
   */
  static async fromB2C(options: AzureB2CProxyOptions): Promise<Gatehouse> {
    const { createAzureB2CProxy } = await import('./factories.js')
    return createAzureB2CProxy(options)
  }

  constructor(options: AzureProviderOptions) {
    super(options)
    this.azure = options.azure
  }

  /** Authorize: the client's scopes (or the configured ones) for Entra, plus the additional ones. */
  override upstreamScopesFor(txn: Transaction): readonly string[] {
    return this.azure.rules.authorizeScopes(txn.params.scopes)
  }

  /** Code exchange: this API's scopes and OIDC ones only (one resource per request). */
  override upstreamTokenScopesFor(txn: Transaction): readonly string[] {
    return this.azure.rules.tokenScopes(txn.params.scopes)
  }

  override upstreamRefreshScopesFor(grant: GrantRecord): readonly string[] {
    return this.azure.rules.tokenScopes(grant.scopes)
  }

  override keepUpstreamTokens(tokens: UpstreamTokens): UpstreamTokens {
    return tokens.scope === undefined
      ? tokens
      : { ...tokens, scope: this.azure.rules.translateEchoed(tokens.scope) }
  }

  /** The user is who Entra's access token for this API names; an unverifiable token is refused. */
  override async identify(result: {
    tokens: UpstreamTokens
    idTokenClaims?: Record<string, unknown>
  }): Promise<UserIdentity> {
    const verified = await this.azure.accessTokenVerifier.verifyToken(result.tokens.accessToken)
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
    if (id !== undefined && this.azure.authority.b2c && !isB2CPolicy(this.azure.authority, id)) {
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
    return {
      subject: verified.subject,
      claims,
      upstream: this.keepUpstreamTokens(result.tokens),
    }
  }

  /**
   * Issues Gatehouse's code for the scopes the client asked for AND Entra granted (`scp` of its
   * access token): Gatehouse's token never claims more than Entra gave. OIDC scopes are not in
   * `scp` and are kept. A request left with no scope at all is refused (`access_denied`).
   */
  override async issueCode(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    const rules = this.azure.rules
    const scp = identity.claims?.scp
    const granted = new Set(
      (Array.isArray(scp) ? (scp as unknown[]) : [])
        .filter((s): s is string => typeof s === 'string')
        .map((s) => rules.toEntra(s)),
    )
    // `.default` (only OIDC scopes configured) grants whatever Entra decided.
    const keep = (s: string) => isOidcScope(s) || granted.has(rules.toEntra(s))
    const scopes = params.scopes.filter(keep)
    if (scopes.length === 0 && params.scopes.length > 0) {
      throw new OAuthError('access_denied', 'the identity provider granted none of the scopes', {
        reason: 'upstream_scopes_not_granted',
      })
    }
    return super.issueCode(client, { ...params, scopes }, identity)
  }

  /**
   * A token for a downstream API (`https://graph.microsoft.com/User.Read` …) on behalf of the
   * user behind `token`, by Entra On-Behalf-Of with the user's Entra access token (refreshed
   * first when it is about to expire). Cached per (assertion, scopes) until shortly before it
   * expires.
   *
   * @throws {EntraOboError} `ERR_OBO_NOT_SUPPORTED` (B2C), `ERR_OBO_NO_TOKEN` (no Entra token
   *   behind `token`), `ERR_OBO_REFUSED` (Entra's `error` and AADSTS codes kept),
   *   `ERR_OBO_UNAVAILABLE`.
   */
  async onBehalfOf(token: AccessToken, scopes: readonly string[]): Promise<string> {
    const obo = this.azure.obo
    if (obo === undefined) {
      throw new EntraOboError('ERR_OBO_NOT_SUPPORTED', 'Azure AD B2C does not support On-Behalf-Of')
    }
    let assertion: string
    try {
      assertion = await this.getUpstreamToken(token)
    } catch (error) {
      if (error instanceof OAuthError) {
        throw new EntraOboError(
          'ERR_OBO_NO_TOKEN',
          'no signed-in Entra user behind this request (sign in again)',
          { cause: error },
        )
      }
      throw new EntraOboError(
        'ERR_OBO_UNAVAILABLE',
        'the user’s Entra token could not be refreshed for On-Behalf-Of',
        { cause: error },
      )
    }
    return (await obo.token(assertion, scopes)).accessToken
  }

  /** Clears the On-Behalf-Of cache (also done by `gatehouse.close()`). */
  override close(): void {
    this.azure.obo?.close()
  }
}
