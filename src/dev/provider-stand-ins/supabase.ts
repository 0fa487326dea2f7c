/**
 * The Supabase Auth stand-in (development and tests only): a project's Auth server with issuer
 * `http://127.0.0.1:PORT/auth/v1` (standing for `https://abcdefgh.supabase.co/auth/v1`) and its
 * keys also at `/auth/v1/.well-known/jwks.json`, Supabase's path. As Supabase documents its access
 * tokens: JWTs with `aud` and `role` `authenticated`, `session_id`, `aal`, `email`, `app_metadata`,
 * `user_metadata`, `client_id` for OAuth clients, and the custom claims a Custom Access Token Hook
 * adds (`claims` of the user, e.g. `user_role`). Tokens for MCP clients come from `mintAccessToken`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface SupabaseUser extends Omit<DevIdPUser, 'claims'> {
  /** `app_metadata` (set by the service role, not the user). */
  appMetadata?: Record<string, unknown>
  /** Claims the project's Custom Access Token Hook adds. */
  hookClaims?: Record<string, unknown>
}

export interface SupabaseStandInOptions {
  users: SupabaseUser[]
  clients: DevIdPClient[]
}

export type SupabaseStandIn = ProviderStandIn

export function startSupabaseStandIn(options: SupabaseStandInOptions): Promise<SupabaseStandIn> {
  const bySub = new Map(options.users.map((u) => [u.sub ?? u.username, u]))
  return startProviderStandIn({
    issuerPath: '/auth/v1',
    routes: { '/auth/v1/.well-known/jwks.json': '/jwks' },
    clients: options.clients,
    users: options.users.map(({ appMetadata: _a, hookClaims: _h, ...u }) => u),
    jwtAccessToken: ({ idTokenClaims, clientId }) => {
      const sub = String(idTokenClaims.sub)
      const user = bySub.get(sub)
      return {
        sub,
        aud: 'authenticated',
        role: 'authenticated',
        aal: 'aal1',
        session_id: `session-${sub}`,
        email: user?.email ?? '',
        phone: '',
        is_anonymous: false,
        client_id: clientId,
        app_metadata: { provider: 'email', ...user?.appMetadata },
        user_metadata: {},
        ...user?.hookClaims,
      }
    },
  })
}
