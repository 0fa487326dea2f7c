/**
 * The Okta stand-in (development and tests only): one authorization server of an Okta org,
 * either the org authorization server (issuer `http://127.0.0.1:PORT`) or a custom one (issuer
 * `http://127.0.0.1:PORT/oauth2/{id}`), each with its own key set. As Okta documents: the groups
 * claim (`groups`, from the app's Groups claim filter or the custom server's claim) is in the ID
 * token; a custom authorization server issues JWT access tokens for its audience (`api://default`
 * for `default`) with `cid` and `uid`, the org server access tokens meant for Okta only (opaque
 * here).
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/server.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface OktaUser extends Omit<DevIdPUser, 'claims'> {
  groups?: string[]
}

export interface OktaStandInOptions {
  /** A custom authorization server's ID (`default`); unset: the org authorization server. */
  authorizationServer?: string
  users: OktaUser[]
  clients: DevIdPClient[]
}

export type OktaStandIn = ProviderStandIn

export function startOktaStandIn(options: OktaStandInOptions): Promise<OktaStandIn> {
  const server = options.authorizationServer
  return startProviderStandIn({
    issuerPath: server === undefined ? '' : `/oauth2/${server}`,
    clients: options.clients,
    // The org server's pre-configured scope for the groups claim.
    ...(server === undefined ? { scopes: ['groups'] } : {}),
    users: options.users.map(({ groups, ...u }) => ({
      ...u,
      ...(groups ? { claims: { groups } } : {}),
    })),
    ...(server === undefined
      ? {}
      : {
          jwtAccessToken: ({ idTokenClaims, clientId, scope }) => ({
            sub: idTokenClaims.sub,
            uid: `00u${String(idTokenClaims.sub)}`,
            cid: clientId,
            aud: server === 'default' ? 'api://default' : `api://${server}`,
            scp: scope.split(' ').filter(Boolean),
          }),
        }),
  })
}
