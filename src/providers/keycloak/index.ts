/** The Keycloak provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildKeycloakProfile } from './profile.js'

export const keycloakProvider: ProviderEntry<'keycloak'> = { profile: buildKeycloakProfile }
