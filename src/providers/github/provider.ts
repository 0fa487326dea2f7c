/**
 * `GitHubProvider`: the OAuth proxy with GitHub's rules. GitHub is OAuth only (no OpenID Connect:
 * no ID token, no discovery, no `iss` on redirects) and its access tokens are opaque, so the user
 * is learnt from the API with the new token (identity.ts). What it changes in the proxy:
 * - no scope at the code exchange (GitHub ignores it there); none at all for GitHub Apps;
 * - the token endpoint's quirks (token-endpoint.ts);
 * - OAuth apps' tokens do not expire and come with no refresh token (nothing to refresh); GitHub
 *   Apps' expiring tokens are refreshed by the proxy's usual upstream refresh, and a refused
 *   refresh (`bad_refresh_token`) ends the grant.
 */
import type { ResolvedConfig } from '../../config/schema.js'
import { isLoopbackHost } from '../../config/urls.js'
import { createCookieSigner } from '../../http/cookies.js'
import type { GatehouseProviderOptions, UserIdentity } from '../../oauth/gatehouse-provider.js'
import type { ProxyDeps } from '../../upstream/create-proxy.js'
import { OAuthProxy, type OAuthProxyOptions, type Transaction } from '../../upstream/oauth-proxy.js'
import { UpstreamClient, type UpstreamTokens } from '../../upstream/upstream-client.js'
import { GitHubApi } from './api.js'
import { normaliseRules, readsTeams, resolveGitHubIdentity, type GitHubRules } from './identity.js'
import { gitHubTokenFetch } from './token-endpoint.js'

export type GitHubUpstream = Extract<NonNullable<ResolvedConfig['upstream']>, { kind: 'github' }>

export const GITHUB_SERVER = 'https://github.com'
export const GITHUB_API = 'https://api.github.com'

export interface GitHubProviderOptions extends OAuthProxyOptions {
  github: {
    api: GitHubApi
    rules: GitHubRules
    /** GitHub's web address, recorded as the user's `upstream.iss`. */
    serverUrl: string
  }
}

export class GitHubProvider extends OAuthProxy {
  readonly github: GitHubProviderOptions['github']

  constructor(options: GitHubProviderOptions) {
    super(options)
    this.github = options.github
  }

  /** GitHub takes no scope at the code exchange. */
  override upstreamTokenScopesFor(_txn: Transaction): readonly string[] {
    return []
  }

  /** The user behind GitHub's (opaque) access token, with the organization and team rules. */
  override async identify(result: { tokens: UpstreamTokens }): Promise<UserIdentity> {
    const identity = await resolveGitHubIdentity(
      this.github.api,
      result.tokens.accessToken,
      this.github.rules,
      this.github.serverUrl,
    )
    return { ...identity, upstream: result.tokens }
  }
}

/** The scopes an OAuth app asks for: the profile, the email list, and `read:org` for org rules. */
export function defaultGitHubScopes(up: GitHubUpstream, rules: GitHubRules): string[] {
  if (up.appType === 'github-app') return []
  const orgs = rules.allowedOrganizations !== undefined || readsTeams(rules)
  return ['read:user', 'user:email', ...(orgs ? ['read:org'] : [])]
}

export async function buildGitHubProvider(
  config: ResolvedConfig,
  up: GitHubUpstream,
  base: GatehouseProviderOptions,
  deps: ProxyDeps,
): Promise<GitHubProvider> {
  const serverUrl = (up.serverUrl ?? GITHUB_SERVER).replace(/\/+$/, '')
  const apiUrl = (
    up.apiUrl ?? (up.serverUrl === undefined ? GITHUB_API : `${serverUrl}/api/v3`)
  ).replace(/\/+$/, '')
  const tokenEndpoint = `${serverUrl}/login/oauth/access_token`
  const timeoutMs = up.timeoutSeconds * 1000
  const rules = normaliseRules(up)
  const upstream = new UpstreamClient(
    {
      clientId: up.clientId,
      ...(up.clientSecret !== undefined ? { clientSecret: up.clientSecret } : {}),
      tokenEndpointAuthMethod: up.tokenEndpointAuthMethod,
      // GitHub has no issuer identifier; its address stands in (it sends no `iss` to check).
      issuer: serverUrl,
      authorizationEndpoint: `${serverUrl}/login/oauth/authorize`,
      tokenEndpoint,
      issParameterSupported: false,
      openid: false,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      extraTokenParams: { ...up.extraTokenParams },
      allowInsecureRequests: isLoopbackUrl(serverUrl),
      timeoutMs,
    },
    gitHubTokenFetch(tokenEndpoint, deps.fetch),
    base.now,
  )
  return new GitHubProvider({
    ...base,
    upstream,
    cookies: await createCookieSigner(config.secret),
    redirectPath: up.redirectPath,
    upstreamScopes:
      up.appType === 'github-app' ? [] : (up.scopes ?? defaultGitHubScopes(up, rules)),
    github: {
      api: new GitHubApi({ apiUrl, ...(deps.fetch ? { fetch: deps.fetch } : {}), timeoutMs }),
      rules,
      serverUrl,
    },
  })
}

function isLoopbackUrl(value: string): boolean {
  const url = new URL(value)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}
