/** The local Auth0 stand-in (development and tests only; Node). */
export { startAuth0StandIn } from './server.js'
export type {
  Auth0StandIn,
  Auth0StandInAPI,
  Auth0StandInOptions,
  Auth0StandInUser,
} from './server.js'
