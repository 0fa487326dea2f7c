/**
 * Client authentication at the token, revocation and introspection endpoints (OAuth 2.1 §2.4,
 * §3.2.1): `client_secret_basic`, `client_secret_post`, `none`, and `private_key_jwt` (RFC 7523)
 * for clients with keys (metadata documents). Exactly one method per request.
 */
import { OAuthError } from '../errors.js'
import { assertNoRepeats, readForm, type Params } from '../http/params.js'
import { sha256, timingSafeEqual } from '../http/random.js'
import type { RateLimiter } from '../http/rate-limit.js'
import { CLIENT_ASSERTION_TYPE } from '../config/protocol.js'
import { assertionClientID, type ClientAssertionVerifier } from './client-assertion.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import type { OAuthClientInformation, TokenEndpointAuthMethod } from '../contract/types.js'

/** The client that authenticated and the method it used. */
export interface AuthenticatedClient {
  client: OAuthClientInformation
  method: TokenEndpointAuthMethod
}

interface Presented {
  method: TokenEndpointAuthMethod
  clientId: string
  secret?: string
  assertion?: string
}

/**
 * Authenticates the calling client. Throws `invalid_request` for several methods at once, and
 * `invalid_client` (401; with `WWW-Authenticate: Basic` when the header was used) for an unknown
 * client, a wrong secret, or a method other than the one the client registered.
 */
export async function authenticateClient(
  request: Request,
  form: Params,
  provider: Pick<OAuthServerProvider, 'getClient'>,
  now: () => number,
  failures?: RateLimiter,
  assertions?: ClientAssertionVerifier,
): Promise<AuthenticatedClient> {
  const presented = readCredentials(request, form)
  const usedHeader = presented.method === 'client_secret_basic'
  // OAuth 2.1 §7.7: failed attempts are counted per client id and answered 429 past the limit.
  // A request that authenticates is never blocked: client ids are public, so blocking them
  // would let anyone lock a client out (secrets are 256-bit; guessing is not the threat).
  const fail = (reason: string) => {
    failures?.hit(presented.clientId)
    return new OAuthError('invalid_client', 'client authentication failed', {
      reason,
      ...(usedHeader ? { headers: { 'www-authenticate': 'Basic realm="gatehouse"' } } : {}),
    })
  }
  let client: OAuthClientInformation | undefined
  try {
    client = await provider.getClient(presented.clientId)
  } catch (error) {
    // A client_id URL whose metadata document cannot be used (the reason stays in the logs).
    if (error instanceof OAuthError && error.code === 'invalid_client')
      throw fail(error.reason ?? 'unknown_client')
    throw error
  }
  if (!client) throw fail('unknown_client')
  if (client.token_endpoint_auth_method !== presented.method) throw fail('auth_method_mismatch')
  if (presented.method === 'none') return { client, method: 'none' }
  if (presented.method === 'private_key_jwt') {
    if (!assertions || presented.assertion === undefined) throw fail('assertion_unsupported')
    let narrowed
    try {
      narrowed = await assertions.verify(presented.assertion, client)
    } catch (error) {
      throw fail(error instanceof OAuthError ? (error.reason ?? 'bad_assertion') : 'bad_assertion')
    }
    // A workload identity policy's scopes narrow this request's client (workload-identity.ts).
    if (narrowed) return { client: { ...client, scope: narrowed.scope }, method: 'private_key_jwt' }
    return { client, method: 'private_key_jwt' }
  }
  const expiresAt = client.client_secret_expires_at ?? 0
  if (expiresAt !== 0 && expiresAt * 1000 <= now()) throw fail('secret_expired')
  const secret = presented.secret ?? ''
  const ok = client.client_secret_hash
    ? timingSafeEqual(await sha256(secret), client.client_secret_hash)
    : client.client_secret !== undefined && timingSafeEqual(secret, client.client_secret)
  if (!ok) throw fail('bad_secret')
  return { client, method: presented.method }
}

function readCredentials(request: Request, form: Params): Presented {
  const header = request.headers.get('authorization')
  const bodyId = form.get('client_id')
  const bodySecret = form.get('client_secret')
  const assertion = form.get('client_assertion')
  if (header !== null) {
    if (bodySecret !== undefined || assertion !== undefined) {
      throw new OAuthError('invalid_request', 'use exactly one client authentication method', {
        reason: 'multiple_auth_methods',
      })
    }
    const basic = parseBasic(header)
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id does not match the credentials', {
        reason: 'client_id_mismatch',
      })
    }
    return basic
  }
  if (assertion !== undefined) {
    if (bodySecret !== undefined) {
      throw new OAuthError('invalid_request', 'use exactly one client authentication method', {
        reason: 'multiple_auth_methods',
      })
    }
    if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError('invalid_client', 'unsupported client assertion type', {
        reason: 'assertion_type',
      })
    }
    // RFC 7523 §3: client_id is optional; the assertion's issuer names the client.
    const clientId = bodyId ?? assertionClientID(assertion)
    if (clientId === undefined) {
      throw new OAuthError('invalid_client', 'client authentication failed', {
        reason: 'assertion_malformed',
      })
    }
    return { method: 'private_key_jwt', clientId, assertion }
  }
  if (bodyId === undefined) {
    throw new OAuthError('invalid_client', 'client authentication is required', {
      reason: 'no_client_id',
    })
  }
  if (bodySecret !== undefined) {
    return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret }
  }
  return { method: 'none', clientId: bodyId }
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`. */
function parseBasic(header: string): Presented {
  const invalid = () =>
    new OAuthError('invalid_client', 'malformed client credentials', {
      reason: 'malformed_basic',
      headers: { 'www-authenticate': 'Basic realm="gatehouse"' },
    })
  const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header)
  if (!match?.[1]) throw invalid()
  let decoded: string
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(
      Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)),
    )
  } catch {
    throw invalid()
  }
  const colon = decoded.indexOf(':')
  if (colon < 1) throw invalid()
  try {
    return {
      method: 'client_secret_basic',
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    }
  } catch {
    throw invalid()
  }
}

/**
 * The start of every client-authenticated endpoint (token, revocation, introspection): a form
 * body without repeated parameters, then client authentication.
 */
export async function readAuthenticatedForm(
  request: Request,
  deps: {
    config: { maxBodyBytes: number }
    provider: Pick<OAuthServerProvider, 'getClient'>
    now: () => number
    clientAuthFailures?: RateLimiter
    clientAssertions?: ClientAssertionVerifier
  },
): Promise<AuthenticatedClient & { form: Params }> {
  const form = await readForm(request, deps.config.maxBodyBytes)
  assertNoRepeats(form)
  const authenticated = await authenticateClient(
    request,
    form,
    deps.provider,
    deps.now,
    deps.clientAuthFailures,
    deps.clientAssertions,
  )
  return { ...authenticated, form }
}
