/** The Scalekit provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildScalekitProfile } from './profile.js'

export const scalekitProvider: ProviderEntry<'scalekit'> = { profile: buildScalekitProfile }
