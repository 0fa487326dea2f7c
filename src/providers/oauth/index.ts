/** The generic OAuth 2.0 provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildOAuthProfile } from './profile.js'

export const oauthProvider: ProviderEntry<'oauth'> = { profile: buildOAuthProfile }
