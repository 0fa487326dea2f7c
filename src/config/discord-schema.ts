/**
 * The `kind: 'discord'` member of the upstream union: Discord (OAuth2 only, no OpenID Connect) as
 * the identity provider. Only shapes and the rules a user must fix in configuration are checked
 * here; `src/providers/discord/` derives endpoints and scopes. Messages name the option and the
 * Discord Developer Portal setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

/** A Discord snowflake (guild ids and user ids are 64-bit integers written in decimal). */
export const DISCORD_SNOWFLAKE = /^\d{15,21}$/

/** Fields of the Discord upstream besides those every upstream has. */
export const discordUpstreamFields = {
  kind: z.literal('discord'),
  /** Replaces `https://discord.com` (a local stand-in: http on loopback only). */
  serverUrl: absoluteURL().optional(),
  /** Only members of one of these guilds (server ids) may sign in (asks for the `guilds` scope). */
  allowedGuilds: z.array(z.string()).optional(),
  /** Guild id → Gatehouse roles given to its members (asks for the `guilds` scope). */
  guildRoles: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
}

/** The start-up checks of a Discord upstream (paths relative to `upstream`). */
export function checkDiscordUpstream(
  d: {
    allowedGuilds?: string[] | undefined
    guildRoles?: Record<string, string[]> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const hint =
    'a guild (server) id: Discord → User Settings → Advanced → Developer Mode on, then right-click ' +
    'the server → Copy Server ID'
  if (d.allowedGuilds?.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['allowedGuilds'],
      message: `names no guild: give at least one (${hint}) or leave it out`,
    })
  }
  for (const [i, g] of (d.allowedGuilds ?? []).entries()) {
    if (!DISCORD_SNOWFLAKE.test(g)) {
      ctx.addIssue({ code: 'custom', path: ['allowedGuilds', i], message: `is not ${hint}` })
    }
  }
  for (const g of Object.keys(d.guildRoles ?? {})) {
    if (!DISCORD_SNOWFLAKE.test(g)) {
      ctx.addIssue({ code: 'custom', path: ['guildRoles', g], message: `the key is not ${hint}` })
    }
  }
}
