/**
 * The WorkOS AuthKit stand-in (development and tests only): an AuthKit domain at
 * `http://127.0.0.1:PORT` (standing for `https://acme-42.authkit.app`) with its discovery document
 * and keys (also at `/oauth2/jwks`, AuthKit's path), behaving as WorkOS documents: JWT access tokens
 * with `sub` (`user_…`), `sid`, `org_id`, `role`, `roles` and `permissions` of the organization
 * membership, `aud` = the OAuth application's client id; the ID token carries no roles. Tokens it
 * issues to MCP clients in the remote-AS mode come from `mintAccessToken`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface WorkOSUser extends Omit<DevIdPUser, 'claims'> {
  /** The organization selected at sign-in. */
  orgId?: string
  /** The membership's roles (one: `role` only; several: `role` is the first, `roles` all). */
  roles?: string[]
  permissions?: string[]
}

export interface WorkOSStandInOptions {
  users: WorkOSUser[]
  clients: DevIdPClient[]
}

export type WorkOSStandIn = ProviderStandIn

export function startWorkOSStandIn(options: WorkOSStandInOptions): Promise<WorkOSStandIn> {
  const bySub = new Map(options.users.map((u) => [u.sub ?? u.username, u]))
  return startProviderStandIn({
    issuerPath: '',
    routes: { '/oauth2/jwks': '/jwks' },
    clients: options.clients,
    users: options.users.map(({ orgId: _o, roles: _r, permissions: _p, ...u }) => u),
    jwtAccessToken: ({ idTokenClaims, clientId }) => {
      const sub = String(idTokenClaims.sub)
      const user = bySub.get(sub)
      const roles = user?.roles ?? []
      return {
        sub,
        aud: clientId,
        sid: `session_${sub}`,
        ...(user?.orgId !== undefined ? { org_id: user.orgId } : {}),
        ...(roles.length > 0 ? { role: roles[0] } : {}),
        ...(roles.length > 1 ? { roles } : {}),
        ...(user?.permissions ? { permissions: user.permissions } : {}),
      }
    },
  })
}
