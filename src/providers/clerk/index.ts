/** The Clerk provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildClerkProfile } from './profile.js'

export const clerkProvider: ProviderEntry<'clerk'> = { profile: buildClerkProfile }
