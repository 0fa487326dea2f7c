/** The PropelAuth provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildPropelAuthProfile } from './profile.js'

export const propelauthProvider: ProviderEntry<'propelauth'> = { profile: buildPropelAuthProfile }
