/**
 * Entra's scope rules, in one place. Entra names a scope by its resource (`api://app/read`), puts
 * only the short form (`read`) in the access token's `scp`, never puts OIDC scopes there, and
 * issues a token for one resource per token request. The rules (documented as a table in
 * `docs/providers/azure.md`):
 * - OIDC scopes (`openid`, `profile`, `email`, `offline_access`) are sent unprefixed and left out
 *   of token validation;
 * - a scope containing `://` or `/` is fully qualified and sent as it is; an MCP client's is sent
 *   only when it is this API's (under the identifier URI), never another resource's;
 * - every other scope is this API's and is sent as `{identifierUri}/{scope}` (also `my.scope`);
 * - `additionalAuthorizeScopes` reach the authorize request only: never validated or advertised;
 * - code exchange and refresh send this API's scopes plus the OIDC ones (one resource), falling
 *   back to the configured scopes when the client asked for none of this API's;
 * - scopes Entra echoes back are unprefixed again.
 * Beyond the table: `offline_access` and the configured OIDC scopes are always asked for (refresh
 * and On-Behalf-Of need Entra's refresh token; the ID token is then always expected), and with
 * only OIDC scopes configured `{identifierUri}/.default` is.
 */

/** Scopes of OpenID Connect itself: never prefixed, never in `scp`. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set([
  'openid',
  'profile',
  'email',
  'offline_access',
])

export interface AzureScopeRulesOptions {
  /** Application ID URI of this API, without a trailing slash. */
  identifierUri: string
  /** Configured scopes, unprefixed, OIDC ones allowed. */
  requiredScopes: readonly string[]
  /** Authorize-only scopes (Graph's `User.Read` …), sent as given. */
  additionalAuthorizeScopes: readonly string[]
}

/** The scope rules for one app registration. */
export class AzureScopeRules {
  readonly identifierUri: string
  readonly requiredScopes: readonly string[]
  readonly additionalAuthorizeScopes: readonly string[]
  /** What Entra's access tokens must carry in `scp` (short form): required minus OIDC. */
  readonly validationScopes: readonly string[]

  constructor(options: AzureScopeRulesOptions) {
    this.identifierUri = options.identifierUri.replace(/\/+$/, '')
    this.requiredScopes = dedupe(options.requiredScopes)
    this.additionalAuthorizeScopes = dedupe(options.additionalAuthorizeScopes)
    this.validationScopes = this.requiredScopes.filter((s) => !isOIDCScope(s))
  }

  /** Whether scope validation is off (only OIDC scopes are configured). */
  get validationOff(): boolean {
    return this.validationScopes.length === 0
  }

  /** The form Entra understands: OIDC and qualified scopes as they are, others prefixed. */
  toEntra(scope: string): string {
    if (isOIDCScope(scope) || isQualified(scope)) return scope
    return `${this.identifierUri}/${scope}`
  }

  /** The short form: `{identifierUri}/x` becomes `x`; anything else is unchanged. */
  fromEntra(scope: string): string {
    const prefix = `${this.identifierUri}/`
    return scope.startsWith(prefix) && scope.length > prefix.length
      ? scope.slice(prefix.length)
      : scope
  }

  /**
   * The client's scopes, or the configured ones when the client asked for none of this API's;
   * with no API scope configured at all, `{identifierUri}/.default`, so that Entra's access token
   * is still one for this API.
   */
  #apiScopes(requested: readonly string[]): string[] {
    // An MCP client may name this API's scopes and OIDC ones only: another resource's scope
    // (`https://graph.microsoft.com/Mail.Read`) would make Entra ask the user to grant it to
    // Gatehouse's app. Those come from `additionalAuthorizeScopes` alone.
    const clientScopes = requested.filter((s) => isOIDCScope(s) || this.isOwn(s))
    // Configured OIDC scopes are about the sign-in itself: always asked for (an ID token is
    // then always expected).
    const oidc = this.requiredScopes.filter(isOIDCScope)
    const own = clientScopes.filter((s) => !isOIDCScope(s))
    if (own.length > 0) return dedupe([...clientScopes, ...oidc])
    const fallback = this.validationOff ? ['.default'] : []
    return dedupe([...clientScopes, ...this.requiredScopes, ...fallback])
  }

  /** Whether `scope` (not OIDC) is this API's: unqualified, or under the identifier URI. */
  isOwn(scope: string): boolean {
    const prefix = `${this.identifierUri}/`
    return !isQualified(scope) || (scope.startsWith(prefix) && scope.length > prefix.length)
  }

  /** Scopes of the authorize request: the client's (or configured) scopes plus the additional ones. */
  authorizeScopes(clientScopes: readonly string[]): string[] {
    return dedupe([
      ...this.#apiScopes(clientScopes).map((s) => this.toEntra(s)),
      'offline_access',
      ...this.additionalAuthorizeScopes,
    ])
  }

  /**
   * Scopes of the code exchange and refresh: this API's scopes and the OIDC ones only, since
   * Entra issues a token for one resource per request (AADSTS28000).
   */
  tokenScopes(clientScopes: readonly string[]): string[] {
    const prefix = `${this.identifierUri}/`
    return dedupe([
      ...this.#apiScopes(clientScopes)
        .map((s) => this.toEntra(s))
        .filter((s) => isOIDCScope(s) || s.startsWith(prefix)),
      'offline_access',
    ])
  }

  /** A scope string Entra sent (token response, `scp`) in short form. */
  translateEchoed(scope: string): string {
    return dedupe(
      scope
        .split(' ')
        .filter((s) => s !== '')
        .map((s) => this.fromEntra(s)),
    ).join(' ')
  }
}

export function isOIDCScope(scope: string): boolean {
  return OIDC_SCOPES.has(scope)
}

function isQualified(scope: string): boolean {
  return scope.includes('://') || scope.includes('/')
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)]
}
