/**
 * The Scalekit stand-in (development and tests only): an environment at `http://127.0.0.1:PORT`
 * (standing for `https://acme.scalekit.com`) with its discovery document and keys (also at
 * `/keys`, Scalekit's path), behaving as Scalekit documents its access tokens: JWTs with
 * `aud` = [client id], `client_id`, `sid`, the organization `oid`, and `roles` / `permissions` when
 * the user has them; the ID token carries none of those. Tokens Scalekit issues to MCP clients
 * (`aud` naming the MCP server resource `res_…`) come from `mintAccessToken`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface ScalekitUser extends Omit<DevIdPUser, 'claims'> {
  organizationId?: string
  roles?: string[]
  permissions?: string[]
}

export interface ScalekitStandInOptions {
  users: ScalekitUser[]
  clients: DevIdPClient[]
}

export type ScalekitStandIn = ProviderStandIn

export function startScalekitStandIn(options: ScalekitStandInOptions): Promise<ScalekitStandIn> {
  const bySub = new Map(options.users.map((u) => [u.sub ?? u.username, u]))
  return startProviderStandIn({
    issuerPath: '',
    routes: { '/keys': '/jwks' },
    clients: options.clients,
    users: options.users.map(({ organizationId: _o, roles: _r, permissions: _p, ...u }) => u),
    jwtAccessToken: ({ idTokenClaims, clientId }) => {
      const sub = String(idTokenClaims.sub)
      const user = bySub.get(sub)
      return {
        sub,
        aud: [clientId],
        client_id: clientId,
        sid: `ses_${sub}`,
        jti: `tkn_${Math.random().toString(36).slice(2)}`,
        oid: user?.organizationId ?? 'org_0',
        ...(user?.roles ? { roles: user.roles } : {}),
        ...(user?.permissions ? { permissions: user.permissions } : {}),
      }
    },
  })
}
