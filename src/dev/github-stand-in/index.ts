/** The local GitHub stand-in (development and tests only; Node). */
export { startGitHubStandIn } from './server.js'
export type { GitHubStandIn, GitHubStandInOptions } from './server.js'
export type { GitHubStandInApp, GitHubStandInOrg, GitHubStandInUser } from './state.js'
export type { RecordedRequest } from '../stand-in-kit.js'
