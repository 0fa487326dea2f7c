/**
 * The Amazon Cognito stand-in (development and tests only): a user pool whose issuer is
 * `http://127.0.0.1:PORT/{userPoolId}` (standing for `cognito-idp.{region}.amazonaws.com`, with
 * discovery and keys) and whose sign-in endpoints are on a second origin, the user pool domain
 * (`/oauth2/authorize`, `/oauth2/token`). As Cognito documents: groups in `cognito:groups` in the
 * ID token and the access token; access tokens with `client_id` and `token_use: access` and no
 * `aud`; ID tokens with `aud` = the app client and `token_use: id`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/server.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface CognitoUser extends Omit<DevIdPUser, 'claims'> {
  groups?: string[]
}

export interface CognitoStandInOptions {
  userPoolId: string
  users: CognitoUser[]
  clients: DevIdPClient[]
}

export type CognitoStandIn = ProviderStandIn

export function startCognitoStandIn(options: CognitoStandInOptions): Promise<CognitoStandIn> {
  const groupsBySub = new Map(options.users.map((u) => [u.sub ?? u.username, u.groups ?? []]))
  return startProviderStandIn({
    issuerPath: `/${options.userPoolId}`,
    domainRoutes: { '/oauth2/authorize': '/auth', '/oauth2/token': '/token' },
    // Cognito has no `offline_access`: the code grant returns a refresh token when the app
    // client allows it (docs/providers/cognito.md).
    refreshTokenWithoutOfflineAccess: true,
    clients: options.clients,
    users: options.users.map(({ groups, ...u }) => ({
      ...u,
      claims: {
        'cognito:username': u.username,
        token_use: 'id',
        ...(groups ? { 'cognito:groups': groups } : {}),
      },
    })),
    jwtAccessToken: ({ idTokenClaims, clientId, scope }) => {
      const sub = String(idTokenClaims.sub)
      return {
        sub,
        client_id: clientId,
        token_use: 'access',
        scope,
        username: idTokenClaims['cognito:username'],
        'cognito:groups': groupsBySub.get(sub) ?? [],
      }
    },
  })
}
