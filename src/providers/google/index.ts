/** The Google provider's registry entry (`upstream.kind: 'google'`): Google accounts and Workspace. */
import type { ProviderEntry } from '../entry.js'
import { buildGoogleProfile } from './profile.js'

export const googleProvider: ProviderEntry<'google'> = { profile: buildGoogleProfile }
export { buildGoogleProfile } from './profile.js'
