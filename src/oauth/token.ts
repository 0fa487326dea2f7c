/**
 * The token endpoint (OAuth 2.1 §3.2). Rules, in order: form body only, no query parameters, no
 * repeated parameters; the client authenticates; the grant type must be one the client registered;
 * then each grant's own checks. Every check happens before the provider is asked to redeem
 * anything, so a replay with wrong parameters changes nothing (OAuth 2.1 §7.5.3).
 */
import { CLIENT_CREDENTIALS_GRANT } from '../config/protocol.js'
import { decodeJwt } from 'jose'
import { JWT_BEARER_GRANT as JWT_BEARER } from '../config/protocol.js'
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { jsonResponse, CORS_HEADERS } from '../http/responses.js'
import { resolveResource } from './authorize.js'
import type { ClientAssertionVerifier } from './client-assertion.js'
import { readAuthenticatedForm } from './client-auth.js'
import { verifyPkce } from './pkce.js'
import type { RateLimiter } from '../http/rate-limit.js'
import { exchangeIdentityAssertionUnsupported, type OAuthServerProvider } from './provider.js'
import { parseScope } from './scopes.js'
import type { OAuthClientInformation, TokenResponse } from './types.js'
import type { AuditSink } from '../audit-event.js'

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
}

/** `POST /token`. */
export async function handleToken(request: Request, deps: TokenDeps): Promise<Response> {
  if (new URL(request.url).search !== '') {
    throw new OAuthError('invalid_request', 'parameters must be sent in the request body', {
      reason: 'query_parameters',
    })
  }
  const { client, form } = await readAuthenticatedForm(request, deps)
  const grantType = form.get('grant_type')
  if (grantType === undefined) {
    throw new OAuthError('invalid_request', 'grant_type is required', { reason: 'no_grant_type' })
  }
  const known = ['authorization_code', 'refresh_token']
  if (deps.provider.exchangeIdentityAssertion) known.push(JWT_BEARER)
  if (deps.provider.exchangeClientCredentials) known.push(CLIENT_CREDENTIALS_GRANT)
  if (!known.includes(grantType)) {
    throw new OAuthError('unsupported_grant_type', 'the grant type is not supported', {
      reason: 'unknown_grant_type',
    })
  }
  if (!client.grant_types.includes(grantType)) {
    throw new OAuthError('unauthorized_client', 'the client may not use this grant type', {
      reason: 'grant_not_registered',
    })
  }
  let tokens: TokenResponse
  switch (grantType) {
    case 'authorization_code':
      tokens = await authorizationCodeGrant(form, client, deps)
      break
    case 'refresh_token':
      tokens = await refreshTokenGrant(form, client, deps)
      break
    case CLIENT_CREDENTIALS_GRANT:
      tokens = await clientCredentialsGrant(form, client, deps)
      break
    default:
      tokens = await identityAssertionGrant(form, client, deps)
  }
  deps.audit?.emit({
    event: 'tokens_issued',
    outcome: 'success',
    clientId: client.client_id,
    grantType,
    ...issuedTo(tokens),
  })
  return jsonResponse(tokens, { headers: { ...CORS_HEADERS, pragma: 'no-cache' } })
}

async function authorizationCodeGrant(
  form: Params,
  client: OAuthClientInformation,
  deps: TokenDeps,
): Promise<TokenResponse> {
  const code = required(form, 'code')
  const verifier = required(form, 'code_verifier')
  const record = await deps.provider.loadAuthorizationCode(client, code)
  const invalidCode = (reason: string) =>
    new OAuthError('invalid_grant', 'the authorization code is invalid or expired', { reason })
  if (!record) throw invalidCode('unknown_code')
  if (record.clientId !== client.client_id) throw invalidCode('code_client_mismatch')
  if (record.redeemedGrantId === undefined && record.expiresAt * 1000 <= deps.now()) {
    throw invalidCode('code_expired')
  }
  const redirectUri = form.get('redirect_uri')
  if (
    redirectUri !== undefined
      ? redirectUri !== record.redirectUri
      : record.redirectUriProvidedExplicitly
  ) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request', {
      reason: 'redirect_uri_mismatch',
    })
  }
  if (!(await verifyPkce(verifier, record.codeChallenge))) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge', {
      reason: 'pkce_mismatch',
    })
  }
  const resource = form.get('resource')
  if (resource !== undefined && resolveResource(resource, deps.config).url !== record.resource) {
    throw new OAuthError('invalid_target', 'the resource was not part of the authorization', {
      reason: 'resource_mismatch',
    })
  }
  return deps.provider.exchangeAuthorizationCode(client, code, record)
}

async function refreshTokenGrant(
  form: Params,
  client: OAuthClientInformation,
  deps: TokenDeps,
): Promise<TokenResponse> {
  const token = required(form, 'refresh_token')
  const record = await deps.provider.loadRefreshToken(client, token)
  const invalidToken = (reason: string) =>
    new OAuthError('invalid_grant', 'the refresh token is invalid', { reason })
  if (!record) throw invalidToken('unknown_refresh_token')
  if (record.clientId !== client.client_id) throw invalidToken('refresh_client_mismatch')
  if (!record.rotated && record.expiresAt * 1000 <= deps.now())
    throw invalidToken('refresh_expired')
  const scopes = parseScope(form.get('scope'))
  if (!record.rotated) {
    const extra = scopes.filter((s) => !record.scopes.includes(s))
    if (extra.length > 0) {
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the original grant', {
        reason: 'scope_widening',
      })
    }
    const resource = form.get('resource')
    if (resource !== undefined && resolveResource(resource, deps.config).url !== record.resource) {
      throw new OAuthError('invalid_target', 'the resource was not part of the grant', {
        reason: 'resource_mismatch',
      })
    }
  }
  return deps.provider.exchangeRefreshToken(client, token, record, scopes)
}

async function identityAssertionGrant(
  form: Params,
  client: OAuthClientInformation,
  deps: TokenDeps,
): Promise<TokenResponse> {
  if (!deps.provider.exchangeIdentityAssertion) return exchangeIdentityAssertionUnsupported()
  // ID-JAG draft §8.1: confidential clients only; a public client uses the code flow instead.
  if (client.token_endpoint_auth_method === 'none') {
    throw new OAuthError(
      'unauthorized_client',
      'the jwt-bearer grant is for confidential clients',
      {
        reason: 'id_jag_public_client',
      },
    )
  }
  const assertion = required(form, 'assertion')
  const resource = form.get('resource')
  return deps.provider.exchangeIdentityAssertion(client, {
    assertion,
    scopes: parseScope(form.get('scope')),
    ...(resource !== undefined ? { resource } : {}),
  })
}

async function clientCredentialsGrant(
  form: Params,
  client: OAuthClientInformation,
  deps: TokenDeps,
): Promise<TokenResponse> {
  if (!deps.provider.exchangeClientCredentials) {
    throw new OAuthError('unsupported_grant_type', 'the grant type is not supported', {
      reason: 'client_credentials_disabled',
    })
  }
  const resource = form.get('resource')
  return deps.provider.exchangeClientCredentials(client, {
    scopes: parseScope(form.get('scope')),
    ...(resource !== undefined ? { resource } : {}),
  })
}

function required(form: Params, name: string): string {
  const value = form.get(name)
  if (value === undefined) {
    throw new OAuthError('invalid_request', `${name} is required`, { reason: `no_${name}` })
  }
  return value
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
