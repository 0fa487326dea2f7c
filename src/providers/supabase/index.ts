/** The Supabase Auth provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildSupabaseProfile } from './profile.js'

export const supabaseProvider: ProviderEntry<'supabase'> = { profile: buildSupabaseProfile }
