/**
 * Token revocation (RFC 7009). The client authenticates; `token` is required; the hint is only a
 * hint (§2.1: the search extends to every type). Revoking either token of a grant revokes the
 * grant: its refresh tokens fail at once and its access tokens at the guard within
 * `revocationCheckSeconds`. Unknown tokens and other clients' tokens answer 200 and change nothing.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { CORS_HEADERS } from '../http/responses.js'
import { readAuthenticatedForm } from './client-auth.js'
import type { RateLimiter } from '../http/rate-limit.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import type { AuditSink } from '../audit-event.js'

export interface RevokeDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  now: () => number
  /** Counts failed client authentications per client id (429 past the limit). */
  clientAuthFailures?: RateLimiter
  audit?: AuditSink
}

/** `POST /revoke`. */
export async function handleRevoke(request: Request, deps: RevokeDeps): Promise<Response> {
  const { client, form } = await readAuthenticatedForm(request, deps)
  const token = form.get('token')
  if (token === undefined) {
    throw new OAuthError('invalid_request', 'token is required', { reason: 'no_token' })
  }
  await deps.provider.revokeToken(client, token)
  // RFC 7009 §2.2: the answer is the same whatever matched; the event records the request.
  deps.audit?.emit({ event: 'token_revoked', outcome: 'success', clientId: client.client_id })
  return new Response(null, {
    status: 200,
    headers: { 'cache-control': 'no-store', ...CORS_HEADERS },
  })
}
