/** The GitHub provider's registry entry (`upstream.kind: 'github'`): OAuth apps and GitHub Apps. */
import type { ProviderEntry } from '../entry.js'
import { buildGitHubProfile } from './profile.js'

export const githubProvider: ProviderEntry<'github'> = { profile: buildGitHubProfile }
export { buildGitHubProfile } from './profile.js'
export { GitHubAPI } from './api.js'
export { gitHubTokenFetch } from './token-endpoint.js'
export { GitHubTokenVerifier } from './token-verifier.js'
