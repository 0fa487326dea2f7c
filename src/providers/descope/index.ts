/** The Descope provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildDescopeProfile } from './profile.js'

export const descopeProvider: ProviderEntry<'descope'> = { profile: buildDescopeProfile }
