/** The Okta provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildOktaProfile } from './profile.js'

export const oktaProvider: ProviderEntry<'okta'> = { profile: buildOktaProfile }
