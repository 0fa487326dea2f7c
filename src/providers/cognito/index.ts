/** The Amazon Cognito provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildCognitoProfile } from './profile.js'

export const cognitoProvider: ProviderEntry<'cognito'> = { profile: buildCognitoProfile }
