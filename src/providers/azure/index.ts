/** The Microsoft Entra ID / Azure AD B2C provider's registry entry. */
import type { ProviderEntry } from '../entry.js'
import { buildAzureProfile } from './profile.js'
import { AzureProvider } from './provider.js'

export const azureProvider: ProviderEntry<'azure'> = {
  profile: buildAzureProfile,
  // `gatehouse.base` stays an `AzureProvider` (its `azure` and `onBehalfOf` members).
  proxy: (options) => new AzureProvider(options),
}
