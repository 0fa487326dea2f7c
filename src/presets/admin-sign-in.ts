/**
 * The `/admin` page's sign-in through Gatehouse itself: the page is a first-party OAuth client of
 * its own authorization server, registered internally (never stored, never listed by
 * `/register`), confidential, authorization code only.
 *
 * - `start`: a new PKCE pair (S256) and state, and the `/authorize` URL; the browser then goes
 *   through Gatehouse's own sign-in exactly as an MCP client's user does (consent page, the
 *   upstream IdP through the proxy or the `authenticate` hook, callback).
 * - `finish`: the code is redeemed at Gatehouse's own token endpoint, in process, with the
 *   client's secret (derived from `secret` by HKDF, so every instance agrees) and the verifier;
 *   the access token is verified like any other and dropped: what remains is the subject, its
 *   roles and the grant the sign-in created. The admin session is bound to that grant: revoking
 *   it (from the page, `gatehouse admin`, or sign-out) ends the session, and the grant ends when
 *   the session does (`admin.sessionMinutes`).
 */
import { base64url } from 'jose'
import type { ResolvedConfig } from '../config/schema.js'
import { ConfigError } from '../errors.js'
import type { Grants } from '../grants/grant-store.js'
import { randomToken, sha256 } from '../http/random.js'
import type { TokenVerifier } from '../jwt/access-token.js'
import { redirectAllowed } from '../oauth/redirect-uri.js'
import type { OAuthClientInformation } from '../contract/types.js'
import type { AdminSignInPort } from '../admin/admin-page.js'

/** The internal client's id; a configured client may not take it. */
export const ADMIN_CLIENT_ID = 'gatehouse-admin'
/** What the consent page calls the internal client. */
const ADMIN_CLIENT_NAME = 'Gatehouse administration'

/** Whether the page signs operators in through Gatehouse (`admin.subjects` or `admin.roles`). */
export function adminSignInEnabled(config: ResolvedConfig): boolean {
  return config.admin.enabled && (config.admin.subjects.length > 0 || config.admin.roles.length > 0)
}

/** Where the internal client's codes arrive. */
export function adminCallbackURL(config: ResolvedConfig): string {
  return `${config.issuer}/admin/callback`
}

/**
 * The internal client, for the provider's client lookup. Refuses (`ConfigError`) a configured
 * client with the same id, and a redirect allow-list that would refuse the callback.
 */
export async function adminClient(config: ResolvedConfig): Promise<OAuthClientInformation> {
  const callback = adminCallbackURL(config)
  const problems: string[] = []
  if (config.clients.some((c) => c.clientId === ADMIN_CLIENT_ID)) {
    problems.push(`clients: the id ${ADMIN_CLIENT_ID} is reserved for the /admin page's sign-in`)
  }
  if (!redirectAllowed(callback, config)) {
    problems.push(
      `registration.allowedRedirectUris: must allow ${callback} for the /admin page's sign-in (admin.subjects, admin.roles)`,
    )
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze({
    client_id: ADMIN_CLIENT_ID,
    client_name: ADMIN_CLIENT_NAME,
    client_secret: await deriveClientSecret(config.secret),
    redirect_uris: [callback],
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })
}

export interface AdminSignInDeps {
  config: ResolvedConfig
  client: OAuthClientInformation
  /** Gatehouse's own token endpoint (`handleToken` with the server's deps); throws OAuthError. */
  token: (request: Request) => Promise<Response>
  verifier: TokenVerifier
  grants: Grants
}

/** The sign-in the `/admin` page drives (see the file comment). */
export function createAdminSignIn(deps: AdminSignInDeps): AdminSignInPort {
  const { config, client } = deps
  const callback = adminCallbackURL(config)
  return {
    async start() {
      const verifier = randomToken(32)
      const state = randomToken(16)
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: callback,
        code_challenge: await sha256(verifier),
        code_challenge_method: 'S256',
        state,
      })
      return { location: `${config.issuer}/authorize?${query.toString()}`, state, verifier }
    },
    async finish(code, verifier) {
      let response: Response
      try {
        response = await deps.token(
          new Request(`${config.issuer}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'authorization_code',
              code,
              code_verifier: verifier,
              redirect_uri: callback,
              client_id: client.client_id,
              client_secret: client.client_secret ?? '',
            }).toString(),
          }),
        )
      } catch {
        // The token endpoint's refusal (a replayed or expired code, a wrong verifier) reached the
        // error hook with its reason; the page only learns that the sign-in did not complete.
        return undefined
      }
      if (response.status !== 200) return undefined
      const body = (await response.json()) as { access_token?: unknown }
      if (typeof body.access_token !== 'string') return undefined
      const access = await deps.verifier.verifyToken(body.access_token)
      if (access?.subject === undefined || access.grantId === undefined) return undefined
      // The grant ends with the session it backs, not when grants usually do.
      const minutes = config.admin.sessionMinutes
      if (!(await deps.grants.expireIn(access.grantId, minutes * 60))) return undefined
      return { subject: access.subject, roles: access.roles ?? [], grantId: access.grantId }
    },
    active: (grantId) => deps.grants.isActiveNow(grantId),
    end: (grantId) => deps.grants.revoke(grantId),
  }
}

/** The internal client's secret: HKDF-SHA-256 of `secret` with its own salt and info. */
async function deriveClientSecret(secret: string): Promise<string> {
  const material = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    'HKDF',
    false,
    ['deriveBits'],
  )
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new TextEncoder().encode('mcp-gatehouse/admin-client/v1'),
      info: new TextEncoder().encode('admin-client-secret'),
    },
    material,
    256,
  )
  return base64url.encode(new Uint8Array(bits))
}
