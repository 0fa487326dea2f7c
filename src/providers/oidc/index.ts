/** The generic OpenID Connect provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildOIDCProfile } from './profile.js'

export const oidcProvider: ProviderEntry<'oidc'> = { profile: buildOIDCProfile }
