/** The OCI IAM identity domain provider's registry entry (`upstream.kind: 'oci'`). */
import type { ProviderEntry } from '../entry.js'
import { buildOciProfile } from './profile.js'

export const ociProvider: ProviderEntry<'oci'> = { profile: buildOciProfile }
export { buildOciProfile } from './profile.js'
