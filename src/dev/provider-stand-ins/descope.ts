/**
 * The Descope stand-in (development and tests only): a project's OIDC federated application with
 * issuer `http://127.0.0.1:PORT/{projectId}` (standing for `https://api.descope.com/{projectId}`)
 * and the project's keys also at `/{projectId}/.well-known/jwks.json`, Descope's path. As Descope
 * documents, the ID token carries the user's project roles (`roles`) and tenant roles
 * (`tenants.{tenantId}.roles`). Tokens a Descope MCP server issues to MCP clients (issuer
 * `…/v1/apps/agentic/{projectId}/{mcpServerId}`, `aud` = [client, project]) come from
 * `mintAccessToken`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface DescopeUser extends Omit<DevIdPUser, 'claims'> {
  /** Project-level roles. */
  roles?: string[]
  /** Roles per tenant id. */
  tenants?: Record<string, string[]>
}

export interface DescopeStandInOptions {
  projectId: string
  users: DescopeUser[]
  clients: DevIdPClient[]
}

export type DescopeStandIn = ProviderStandIn

export function startDescopeStandIn(options: DescopeStandInOptions): Promise<DescopeStandIn> {
  const project = options.projectId
  return startProviderStandIn({
    issuerPath: `/${project}`,
    routes: { [`/${project}/.well-known/jwks.json`]: '/jwks' },
    clients: options.clients,
    users: options.users.map(({ roles, tenants, ...u }) => ({
      ...u,
      claims: {
        ...(roles ? { roles } : {}),
        ...(tenants
          ? {
              tenants: Object.fromEntries(
                Object.entries(tenants).map(([id, r]) => [id, { roles: r, permissions: [] }]),
              ),
            }
          : {}),
      },
    })),
  })
}
