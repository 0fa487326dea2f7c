/**
 * The Discord profile (`upstream.kind: 'discord'`). Discord speaks OAuth2 only (no OpenID
 * Connect: no ID token, no discovery, no `iss` on redirects) and its access tokens are opaque, so
 * the user is learnt from the API with the new token (`GET /users/@me`, api.ts). What it sets:
 * - endpoints: `https://discord.com/oauth2/authorize`, `https://discord.com/api/oauth2/token`,
 *   revocation at `/api/oauth2/token/revoke`;
 * - scopes: `identify email` (+ `guilds` when guild rules or roles need the user's guilds); none
 *   at the code exchange;
 * - the subject is the user's snowflake id; the email is kept only when Discord says `verified`;
 * - access tokens expire (a week) and come with a refresh token, which Discord replaces at every
 *   refresh: the proxy's usual upstream refresh keeps the new one;
 * - roles: the guilds in `guildRoles` the user is a member of give their roles (`../roles.ts`);
 *   `allowedGuilds` refuses users in none of them. Both fail closed.
 */
import { OAuthError } from '../../errors.js'
import type { ProfileContext, ProviderProfile, UserIdentity } from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { withRoles } from '../roles.js'
import { commonSettings, isLoopbackURL, type UpstreamOf } from '../shared.js'
import { DISCORD_API_VERSION, DiscordAPI } from './api.js'

export type DiscordUpstream = UpstreamOf<'discord'>

export const DISCORD_SERVER = 'https://discord.com'

/** The scopes asked for: the user, the email, and the guild list when rules need it. */
export function defaultDiscordScopes(up: DiscordUpstream): string[] {
  const guilds = up.allowedGuilds !== undefined || up.guildRoles !== undefined
  return ['identify', 'email', ...(guilds ? ['guilds'] : [])]
}

export function buildDiscordProfile(
  ctx: ProfileContext<DiscordUpstream>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const server = (up.serverUrl ?? DISCORD_SERVER).replace(/\/+$/, '')
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      // Discord has no issuer identifier; its address stands in (it sends no `iss` to check).
      issuer: server,
      authorizationEndpoint: `${server}/oauth2/authorize`,
      tokenEndpoint: `${server}/api/oauth2/token`,
      revocationEndpoint: `${server}/api/oauth2/token/revoke`,
      issParameterSupported: false,
      openid: false,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(server),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const api = new DiscordAPI({
    apiUrl: `${server}/api/${DISCORD_API_VERSION}`,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
    timeoutMs: up.timeoutSeconds * 1000,
  })
  const scopes = up.scopes ?? defaultDiscordScopes(up)
  const readsGuilds = up.allowedGuilds !== undefined || up.guildRoles !== undefined
  return Promise.resolve({
    kind: 'discord',
    upstream,
    redirectPath: up.redirectPath,
    scopes: { authorize: () => scopes, token: () => [] },
    identify: async (result): Promise<UserIdentity> => {
      const token = result.tokens.accessToken
      const user = await api.user(token)
      const guilds = readsGuilds ? await api.guildIds(token) : []
      const allowed = up.allowedGuilds
      if (allowed !== undefined && !guilds.some((g) => allowed.includes(g))) {
        throw new OAuthError('access_denied', 'this Discord account is not in an allowed server', {
          reason: 'upstream_guild_not_allowed',
        })
      }
      const claims: Record<string, unknown> = {
        upstream_iss: server,
        preferred_username: user.username,
        ...(user.globalName !== undefined ? { name: user.globalName } : {}),
        ...(user.verifiedEmail !== undefined
          ? { email: user.verifiedEmail, email_verified: true }
          : {}),
      }
      const roles = guilds.flatMap((g) => up.guildRoles?.[g] ?? [])
      return withRoles({ subject: user.id, claims, upstream: result.tokens }, roles)
    },
  })
}
