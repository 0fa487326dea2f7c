/**
 * The PropelAuth stand-in (development and tests only): a project's Auth URL at
 * `http://127.0.0.1:PORT` serving PropelAuth's OAuth2 API as documented — `/propelauth/oauth/
 * authorize`, `/propelauth/oauth/token` (no ID token), `/propelauth/oauth/userinfo` answering
 * `user_id`, `email`, `email_confirmed` and `org_id_to_org_info` (`org_id`, `org_name`,
 * `user_role`, `inherited_user_roles_plus_current_role`, `user_permissions` per organization) —
 * and MCP authentication's introspection endpoint `/oauth/2.1/introspect` for the tokens
 * `mintAccessToken` makes. The embedded IdP behind it needs `scope=openid`, which PropelAuth does
 * not: the stand-in adds it after recording the request.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

/** PropelAuth's role hierarchy of a default project: each role includes those after it. */
const HIERARCHY = ['Owner', 'Admin', 'Member']

export interface PropelAuthUser extends Omit<DevIdPUser, 'claims'> {
  /** The user's role per organization id. */
  orgs?: Record<string, { name: string; role: string }>
}

export interface PropelAuthStandInOptions {
  users: PropelAuthUser[]
  clients: DevIdPClient[]
  /** The credentials of MCP > Request Validation (for introspection). */
  introspectionClient: { clientId: string; clientSecret: string }
}

export type PropelAuthStandIn = ProviderStandIn

function orgInfo(orgs: Record<string, { name: string; role: string }>) {
  return Object.fromEntries(
    Object.entries(orgs).map(([id, o]) => {
      const at = HIERARCHY.indexOf(o.role)
      return [
        id,
        {
          org_id: id,
          org_name: o.name,
          user_role: o.role,
          inherited_user_roles_plus_current_role: at < 0 ? [o.role] : HIERARCHY.slice(at),
          user_permissions: [],
        },
      ]
    }),
  )
}

export function startPropelAuthStandIn(
  options: PropelAuthStandInOptions,
): Promise<PropelAuthStandIn> {
  return startProviderStandIn({
    issuerPath: '',
    routes: {
      '/propelauth/oauth/authorize': '/auth',
      '/propelauth/oauth/token': '/token',
      '/propelauth/oauth/userinfo': '/me',
    },
    clients: options.clients,
    users: options.users.map(({ orgs, ...u }) => ({
      ...u,
      ...(orgs ? { claims: { org_id_to_org_info: orgInfo(orgs) } } : {}),
    })),
    oauthOnly: {
      authorizeParams: { scope: 'openid email offline_access' },
      userinfo: (claims) => ({
        user_id: claims.sub,
        email: claims.email,
        email_confirmed: claims.email_verified === true,
        org_id_to_org_info: claims.org_id_to_org_info ?? {},
      }),
    },
    introspection: { path: '/oauth/2.1/introspect', ...options.introspectionClient },
  })
}
