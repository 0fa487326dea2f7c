/** The Google provider profile (`upstream.kind: 'google'`): Google accounts and Workspace. */
export { buildGoogleProvider, GoogleProvider, type GoogleUpstream } from './provider.js'
