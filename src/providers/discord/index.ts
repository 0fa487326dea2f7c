/** The Discord provider's registry entry (`upstream.kind: 'discord'`). */
import type { ProviderEntry } from '../entry.js'
import { buildDiscordProfile } from './profile.js'

export const discordProvider: ProviderEntry<'discord'> = { profile: buildDiscordProfile }
export { buildDiscordProfile } from './profile.js'
