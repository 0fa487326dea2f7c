/**
 * The GitHub profile (`upstream.kind: 'github'`). GitHub is OAuth only (no OpenID Connect: no ID
 * token, no discovery, no `iss` on redirects) and its access tokens are opaque, so the user is
 * learnt from the API with the new token (identity.ts). What the profile sets:
 * - scopes: `read:user user:email` (+ `read:org` when organization or team rules need it) for OAuth
 *   apps, none for GitHub Apps (their permissions are fixed on the app); none at the code exchange;
 * - the token endpoint's quirks (token-endpoint.ts);
 * - OAuth apps' tokens do not expire and come with no refresh token (nothing to refresh); GitHub
 *   Apps' expiring tokens are refreshed by the proxy's usual upstream refresh, and a refused
 *   refresh (`bad_refresh_token`) ends the grant;
 * - capability `accessTokenVerifier` (with a client secret): GitHub tokens of this app verified by
 *   GitHub's "check a token" API and the same rules, with a short cache (token-verifier.ts).
 */
import type { ProfileContext, ProviderProfile } from '../../upstream/profile.js'
import { cappedFetch, UpstreamClient } from '../../upstream/upstream-client.js'
import { commonSettings, isLoopbackURL, type UpstreamOf } from '../shared.js'
import { GitHubAPI } from './api.js'
import { normaliseRules, readsTeams, resolveGitHubIdentity, type GitHubRules } from './identity.js'
import { gitHubTokenFetch } from './token-endpoint.js'
import { GitHubTokenVerifier } from './token-verifier.js'

export type GitHubUpstream = UpstreamOf<'github'>

export const GITHUB_SERVER = 'https://github.com'
export const GITHUB_API = 'https://api.github.com'

/** The scopes an OAuth app asks for: the profile, the email list, and `read:org` for org rules. */
export function defaultGitHubScopes(up: GitHubUpstream, rules: GitHubRules): string[] {
  if (up.appType === 'github-app') return []
  const orgs = rules.allowedOrganizations !== undefined || readsTeams(rules)
  return ['read:user', 'user:email', ...(orgs ? ['read:org'] : [])]
}

export function buildGitHubProfile(ctx: ProfileContext<GitHubUpstream>): Promise<ProviderProfile> {
  const up = ctx.upstream
  const serverUrl = (up.serverUrl ?? GITHUB_SERVER).replace(/\/+$/, '')
  const apiUrl = (
    up.apiUrl ?? (up.serverUrl === undefined ? GITHUB_API : `${serverUrl}/api/v3`)
  ).replace(/\/+$/, '')
  const tokenEndpoint = `${serverUrl}/login/oauth/access_token`
  const rules = normaliseRules(up)
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      // GitHub has no issuer identifier; its address stands in (it sends no `iss` to check).
      issuer: serverUrl,
      authorizationEndpoint: `${serverUrl}/login/oauth/authorize`,
      tokenEndpoint,
      issParameterSupported: false,
      openid: false,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(serverUrl),
    },
    // Capped inside too: the GitHub wrapper reads the token answer before the client does.
    gitHubTokenFetch(tokenEndpoint, cappedFetch(ctx.deps.fetch)),
    ctx.now,
  )
  const api = new GitHubAPI({
    apiUrl,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
    timeoutMs: up.timeoutSeconds * 1000,
  })
  const scopes = up.appType === 'github-app' ? [] : (up.scopes ?? defaultGitHubScopes(up, rules))
  return Promise.resolve({
    kind: 'github',
    upstream,
    redirectPath: up.redirectPath,
    scopes: { authorize: () => scopes, token: () => [] },
    ...(up.clientSecret !== undefined
      ? {
          capabilities: {
            accessTokenVerifier: new GitHubTokenVerifier({
              api,
              clientId: up.clientId,
              clientSecret: up.clientSecret,
              rules,
              issuer: serverUrl,
              now: ctx.now,
            }),
          },
        }
      : {}),
    identify: async (result) => ({
      ...(await resolveGitHubIdentity(api, result.tokens.accessToken, rules, serverUrl)),
      upstream: result.tokens,
    }),
  })
}
