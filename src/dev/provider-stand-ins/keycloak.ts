/**
 * The Keycloak stand-in (development and tests only): a realm at `{origin}/realms/{realm}` that
 * behaves as Keycloak documents its defaults — issuer `{base}/realms/{realm}`, JWT access tokens
 * whose `aud` is `account` (plus the client when the realm has an Audience mapper for it), `azp`
 * the client, realm roles in `realm_access.roles` and client roles in
 * `resource_access.{client}.roles`; the ID token carries no roles (the "roles" client scope's
 * mappers add them to the access token only). It accepts, ignores and records a `resource`
 * parameter (Keycloak does not implement RFC 8707).
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/server.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface KeycloakUser extends Omit<DevIdPUser, 'claims'> {
  realmRoles?: string[]
  /** Client roles by client id. */
  clientRoles?: Record<string, string[]>
  /** Group paths (with a Group Membership mapper: the `groups` claim). */
  groups?: string[]
  /**
   * The realm's default roles were taken from this user: no `account` client roles, so Keycloak's
   * Audience Resolve adds no `account` to `aud` (and without an Audience mapper there is no `aud`).
   */
  withoutDefaultRoles?: boolean
}

export interface KeycloakStandInOptions {
  realm: string
  users: KeycloakUser[]
  clients: DevIdPClient[]
  /** Client ids the realm's Audience mapper adds to `aud` (default none: `aud` is `account`). */
  audienceMapper?: string[]
}

export type KeycloakStandIn = ProviderStandIn

export function startKeycloakStandIn(options: KeycloakStandInOptions): Promise<KeycloakStandIn> {
  const bySub = new Map(options.users.map((u) => [u.sub ?? u.username, u]))
  return startProviderStandIn({
    issuerPath: `/realms/${encodeURIComponent(options.realm)}`,
    clients: options.clients,
    users: options.users.map((u) => ({
      username: u.username,
      password: u.password,
      ...(u.sub !== undefined ? { sub: u.sub } : {}),
      ...(u.email !== undefined ? { email: u.email } : {}),
      ...(u.name !== undefined ? { name: u.name } : {}),
    })),
    jwtAccessToken: ({ idTokenClaims, clientId, scope }) => {
      const sub = String(idTokenClaims.sub)
      const user = bySub.get(sub)
      const resourceAccess: Record<string, { roles: string[] }> = user?.withoutDefaultRoles
        ? {}
        : { account: { roles: ['manage-account', 'view-profile'] } }
      const aud = [
        ...(user?.withoutDefaultRoles ? [] : ['account']),
        ...(options.audienceMapper ?? []),
      ]
      for (const [client, roles] of Object.entries(user?.clientRoles ?? {})) {
        resourceAccess[client] = { roles }
      }
      return {
        sub,
        typ: 'Bearer',
        azp: clientId,
        ...(aud.length > 0 ? { aud } : {}),
        scope,
        realm_access: {
          roles: [
            ...(user?.withoutDefaultRoles ? [] : [`default-roles-${options.realm}`]),
            ...(user?.realmRoles ?? []),
          ],
        },
        resource_access: resourceAccess,
        ...(user?.groups ? { groups: user.groups } : {}),
        preferred_username: user?.username,
      }
    },
  })
}
