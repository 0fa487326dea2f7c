/** The Auth0 provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildAuth0Profile } from './profile.js'

export const auth0Provider: ProviderEntry<'auth0'> = { profile: buildAuth0Profile }
