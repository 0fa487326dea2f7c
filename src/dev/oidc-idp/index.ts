/**
 * The embedded OpenID provider (oidc-provider with a real login page) that `gatehouse dev` and the
 * tests sign in against: start it with `startDevIdentityProvider`.
 */
export * from './server.js'
