/** The local Google sign-in stand-in (development and tests only; Node). */
export { startGoogleStandIn } from './server.js'
export type { GoogleStandIn, GoogleStandInOptions } from './server.js'
export type { GoogleStandInClient, GoogleStandInUser } from './oauth.js'
export type { RecordedRequest } from '../stand-in-kit.js'
