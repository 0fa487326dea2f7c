/** The GitHub provider profile (`upstream.kind: 'github'`): OAuth apps and GitHub Apps. */
export { buildGitHubProvider, GitHubProvider, type GitHubUpstream } from './provider.js'
export { GitHubApi } from './api.js'
export { gitHubTokenFetch } from './token-endpoint.js'
