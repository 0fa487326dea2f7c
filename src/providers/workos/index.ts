/** The WorkOS AuthKit provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildWorkOSProfile } from './profile.js'

export const workosProvider: ProviderEntry<'workos'> = { profile: buildWorkOSProfile }
