/**
 * The token endpoint (OAuth 2.1 §3.2), a dispatcher. Rules, in order: form body only, no query
 * parameters, no repeated parameters; the client authenticates; `grant_type` names a grant the
 * provider offers (`grants/index.ts`) and the client registered; a DPoP proof, when sent (or
 * required), valid (RFC 9449, `oauth/dpop.ts`), its key the tokens' binding; then that grant's
 * handler (`grants/<grant>.ts`) checks its own parameters, every one before the provider is asked
 * to redeem anything, so a replay with wrong parameters changes nothing (OAuth 2.1 §7.5.3).
 */
import { decodeJwt } from 'jose'
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { grantHandler } from '../grants/index.js'
import { jsonResponse, CORS_HEADERS } from '../http/responses.js'
import type { ClientAssertionVerifier } from './client-assertion.js'
import { readAuthenticatedForm } from './client-auth.js'
import type { RateLimiter } from '../http/rate-limit.js'
import type { Sha256Function } from '../http/random.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import type { TokenResponse } from '../contract/types.js'
import type { AuditSink } from '../audit-event.js'
import type { DPoPPolicy } from '../jwt/dpop-proof.js'
import { checkTokenRequestProof, requireProofForBoundClient, tokenResponseHeaders } from './dpop.js'

export { JWT_BEARER_GRANT as JWT_BEARER } from '../config/protocol.js'

export interface TokenDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  now: () => number
  /** Counts failed client authentications per client id (429 past the limit). */
  clientAuthFailures?: RateLimiter
  /** Verifies `private_key_jwt` assertions (metadata-document clients); unset: refused. */
  clientAssertions?: ClientAssertionVerifier
  audit?: AuditSink
  /** DPoP (RFC 9449, oauth/dpop.ts); unset: `DPoP` headers are ignored and tokens are bearer. */
  dpop?: DPoPPolicy
  /** SHA-256 for PKCE; default Web Crypto (`http/random.ts`). */
  sha256?: Sha256Function
}

/** `POST /token`. */
export async function handleToken(request: Request, deps: TokenDeps): Promise<Response> {
  if (new URL(request.url).search !== '') {
    throw new OAuthError('invalid_request', 'parameters must be sent in the request body', {
      reason: 'query_parameters',
    })
  }
  // RFC 9449: a DPoP proof, when sent, is checked first: before any grant is touched, and before
  // the client authenticates, whose assertion a refused proof must not spend. Its own `jti` is
  // spent once the client has authenticated. The grant binds the tokens to its key.
  const proof = await checkTokenRequestProof(request, deps.config, deps.dpop)
  const { client, form } = await readAuthenticatedForm(request, deps)
  await proof.spend()
  const binding = proof.binding
  const grantType = form.get('grant_type')
  if (grantType === undefined) {
    throw new OAuthError('invalid_request', 'grant_type is required', { reason: 'no_grant_type' })
  }
  const handler = grantHandler(grantType, deps.provider)
  if (!handler) {
    throw new OAuthError('unsupported_grant_type', 'the grant type is not supported', {
      reason: 'unknown_grant_type',
    })
  }
  if (!client.grant_types.includes(grantType)) {
    throw new OAuthError('unauthorized_client', 'the client may not use this grant type', {
      reason: 'grant_not_registered',
    })
  }
  requireProofForBoundClient(client, binding, deps.dpop)
  const tokens = await handler.handle(form, client, { ...deps, binding })
  deps.audit?.emit({
    event: 'tokens_issued',
    outcome: 'success',
    clientId: client.client_id,
    grantType,
    ...issuedTo(tokens),
  })
  return jsonResponse(tokens, {
    headers: { ...CORS_HEADERS, pragma: 'no-cache', ...(await tokenResponseHeaders(deps.dpop)) },
  })
}

/** Subject and grant of the access token just issued (Gatehouse's `sub`, `gid`), for the audit. */
function issuedTo(tokens: TokenResponse): { subject?: string; grantId?: string } {
  try {
    const claims = decodeJwt(tokens.access_token)
    return {
      ...(typeof claims.sub === 'string' ? { subject: claims.sub } : {}),
      ...(typeof claims.gid === 'string' ? { grantId: claims.gid } : {}),
    }
  } catch {
    // A custom provider's opaque token: the event names the client and grant type only.
    return {}
  }
}
