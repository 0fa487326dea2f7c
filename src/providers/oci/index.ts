/** The OCI IAM identity domain provider's registry entry (`upstream.kind: 'oci'`). */
import type { ProviderEntry } from '../entry.js'
import { buildOCIProfile } from './profile.js'

export const ociProvider: ProviderEntry<'oci'> = { profile: buildOCIProfile }
export { buildOCIProfile } from './profile.js'
