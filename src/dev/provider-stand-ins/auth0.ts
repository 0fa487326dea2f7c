/**
 * The Auth0 stand-in (development and tests only): a tenant whose issuer is its domain with a
 * trailing slash (`http://127.0.0.1:PORT/`), behaving as Auth0 documents: without an `audience`
 * on the authorization request the access token is opaque (good for `/userinfo` only); with the
 * Identifier of a known API as `audience` it is a JWT for that API (`aud` is the API and the
 * tenant's `/userinfo`, `azp` the application). Roles reach tokens as a namespaced custom claim
 * an Action sets (`rolesClaim`), in the ID token and in JWT access tokens.
 */
import type { DevIdpClient, DevIdpUser } from '../idp.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface Auth0User extends Omit<DevIdpUser, 'claims'> {
  roles?: string[]
}

export interface Auth0StandInOptions {
  users: Auth0User[]
  clients: DevIdpClient[]
  /** Identifiers of the tenant's APIs (an unknown `audience` gets an opaque token here). */
  apis: string[]
  /** The claim the tenant's Action sets, e.g. `https://example.com/roles`. */
  rolesClaim: string
}

export type Auth0StandIn = ProviderStandIn

export function startAuth0StandIn(options: Auth0StandInOptions): Promise<Auth0StandIn> {
  const bySub = new Map(options.users.map((u) => [u.sub ?? u.username, u]))
  return startProviderStandIn({
    issuerPath: '/',
    clients: options.clients,
    users: options.users.map(({ roles, ...u }) => ({
      ...u,
      claims: { [options.rolesClaim]: roles ?? [] },
    })),
    jwtAccessToken: ({ authorize, idTokenClaims, issuer, clientId, scope }) => {
      const audience = authorize.audience
      if (audience === undefined || !options.apis.includes(audience)) return undefined
      const sub = String(idTokenClaims.sub)
      return {
        sub,
        aud: [audience, `${issuer}userinfo`],
        azp: clientId,
        scope,
        [options.rolesClaim]: bySub.get(sub)?.roles ?? [],
      }
    },
  })
}
