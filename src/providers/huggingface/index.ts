/** The Hugging Face provider's registry entry (`upstream.kind: 'huggingface'`). */
import type { ProviderEntry } from '../entry.js'
import { buildHuggingFaceProfile } from './profile.js'

export const huggingFaceProvider: ProviderEntry<'huggingface'> = {
  profile: buildHuggingFaceProfile,
}
export { buildHuggingFaceProfile } from './profile.js'
