/**
 * The Clerk stand-in (development and tests only): a Clerk instance's Frontend API at
 * `http://127.0.0.1:PORT` (standing for `https://acme-42.clerk.accounts.dev`) with its discovery
 * document and keys (also at `/.well-known/jwks.json`, Clerk's path). As Clerk documents for OAuth
 * applications: opaque access tokens (the IdP's own), ID tokens with the user's claims and public
 * metadata (`public_metadata`; the stand-in accepts that scope and, unlike Clerk, releases the
 * claim without it — tests check the scope was asked for). JWT access tokens of a Clerk MCP server
 * (`typ: at+jwt`, `aud` = the MCP URL) come from `mintAccessToken`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface ClerkUser extends Omit<DevIdPUser, 'claims'> {
  publicMetadata?: Record<string, unknown>
}

export interface ClerkStandInOptions {
  users: ClerkUser[]
  clients: DevIdPClient[]
}

export type ClerkStandIn = ProviderStandIn

export function startClerkStandIn(options: ClerkStandInOptions): Promise<ClerkStandIn> {
  return startProviderStandIn({
    issuerPath: '',
    routes: { '/.well-known/jwks.json': '/jwks' },
    clients: options.clients,
    scopes: ['public_metadata'],
    users: options.users.map(({ publicMetadata, ...u }) => ({
      ...u,
      ...(publicMetadata ? { claims: { public_metadata: publicMetadata } } : {}),
    })),
  })
}
