/**
 * The authorization endpoint (OAuth 2.1 §4.1.1). Rules, in order:
 * 1. `client_id` and `redirect_uri` are checked first; any problem with them is an error page,
 *    never a redirect (§4.1.2.1).
 * 2. Every later problem goes back to the validated redirect URI with `error`, `state` and `iss`
 *    (RFC 9207) — except an unknown scope, which shows a page so that a freshly registered client
 *    cannot use Gatehouse as an open redirector (RFC 9700 §4.11.2).
 * 3. PKCE is required, S256 only; `resource` must name a configured resource (RFC 8707).
 * 4. `dpop_jkt` (RFC 9449 §10), when sent, must be a JWK thumbprint; the code is bound to it.
 */
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { OAuthError, toOAuthError, type ErrorHook } from '../errors.js'
import { parseParams, readForm, type Params } from '../http/params.js'
import { errorPage, redirectResponse } from '../http/responses.js'
import { readDPoPJkt } from './dpop.js'
import { authorizationResponseURL } from './gatehouse-provider.js'
import { isValidChallenge } from '../contract/pkce.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import { matchRedirectURI, redirectAllowed } from './redirect-uri.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type { AuthorizationParams, OAuthClientInformation } from '../contract/types.js'

const MAX_STATE = 2048

export interface AuthorizeDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  onError?: ErrorHook
}

/** `GET`/`POST /authorize`. */
export async function handleAuthorize(request: Request, deps: AuthorizeDeps): Promise<Response> {
  let params: Params
  try {
    params =
      request.method === 'POST'
        ? await readForm(request, deps.config.maxBodyBytes)
        : parseParams(new URL(request.url).search)
  } catch (error) {
    return page(toOAuthError(error), deps)
  }
  if (params.repeated.has('client_id') || params.repeated.has('redirect_uri')) {
    return page(
      invalid('client_id and redirect_uri must not be repeated', 'repeated_parameter'),
      deps,
    )
  }
  const clientId = params.get('client_id')
  if (clientId === undefined) return page(invalid('client_id is required', 'no_client_id'), deps)
  let client: OAuthClientInformation | undefined
  try {
    client = await deps.provider.getClient(clientId)
  } catch (error) {
    // E.g. a client_id URL whose metadata document cannot be used: a page, never a redirect.
    return page(toOAuthError(error), deps)
  }
  if (!client) {
    return page(
      new OAuthError('invalid_client', 'unknown client', { reason: 'unknown_client', status: 400 }),
      deps,
    )
  }
  const requested = params.get('redirect_uri')
  let redirectUri: string | undefined
  if (requested === undefined) {
    // OAuth 2.1 §2.3.2: may be omitted only when exactly one URI is registered.
    redirectUri = client.redirect_uris.length === 1 ? client.redirect_uris[0] : undefined
    if (redirectUri === undefined) {
      return page(invalid('redirect_uri is required for this client', 'no_redirect_uri'), deps)
    }
  } else {
    redirectUri = matchRedirectURI(requested, client.redirect_uris)
    if (redirectUri === undefined) {
      return page(
        invalid('redirect_uri is not registered for this client', 'redirect_mismatch'),
        deps,
      )
    }
  }
  // The operator's allow-list holds for every redirect, also the one implied by omission.
  if (!redirectAllowed(redirectUri, deps.config)) {
    return page(
      invalid('redirect_uri is not registered for this client', 'redirect_mismatch'),
      deps,
    )
  }

  const rawState = params.get('state')
  // A repeated or oversized state is not echoed: which copy the client meant is unknowable.
  const state =
    rawState !== undefined && rawState.length <= MAX_STATE && !params.repeated.has('state')
      ? rawState
      : undefined
  const fail = (error: OAuthError): Response => {
    deps.onError?.(error)
    const location = authorizationResponseURL(redirectUri, deps.config.issuer, {
      error: error.code,
      error_description: error.message,
      ...(state !== undefined ? { state } : {}),
    })
    return redirectResponse(location)
  }

  try {
    if (rawState !== undefined && rawState.length > MAX_STATE) {
      throw invalid(`state must be at most ${MAX_STATE} characters`, 'state_too_long')
    }
    if (params.repeated.size > 0) {
      throw invalid('parameters must not be repeated', 'repeated_parameter')
    }
    const validated = validateRequest(params, client, deps.config)
    const location = await deps.provider.authorize(client, {
      ...validated,
      redirectUri,
      redirectUriProvidedExplicitly: requested !== undefined,
      ...(state !== undefined ? { state } : {}),
    })
    return redirectResponse(location)
  } catch (error) {
    const e = toOAuthError(error)
    if (
      e.code === 'invalid_scope' ||
      e.code === 'server_error' ||
      e.code === 'temporarily_unavailable'
    ) {
      return page(e, deps)
    }
    return fail(e)
  }
}

function validateRequest(
  params: Params,
  client: OAuthClientInformation,
  config: ResolvedConfig,
): Pick<AuthorizationParams, 'codeChallenge' | 'scopes' | 'resource' | 'dpopJkt'> {
  const responseType = params.get('response_type')
  if (responseType === undefined) throw invalid('response_type is required', 'no_response_type')
  if (responseType !== 'code' || !client.response_types.includes('code')) {
    throw new OAuthError('unsupported_response_type', 'only response_type=code is supported', {
      reason: 'bad_response_type',
    })
  }
  const challenge = params.get('code_challenge')
  if (challenge === undefined) throw invalid('code_challenge is required (PKCE)', 'no_pkce')
  if (params.get('code_challenge_method') !== 'S256') {
    throw invalid('code_challenge_method must be S256', 'pkce_method')
  }
  if (!isValidChallenge(challenge)) throw invalid('code_challenge is malformed', 'pkce_format')
  const resource = resolveResource(params.get('resource'), config)
  const scopes = chooseScopes(params.get('scope'), resource)
  const dpopJkt = readDPoPJkt(params.get('dpop_jkt'), config)
  return {
    codeChallenge: challenge,
    scopes,
    resource: resource.url,
    ...(dpopJkt !== undefined ? { dpopJkt } : {}),
  }
}

/**
 * The scopes to grant: the requested ones the resource knows (unknown ones are ignored, OAuth 2.1
 * §1.4.1), or the resource's default when none were asked for. Asking only for unknown scopes is
 * `invalid_scope`.
 */
export function chooseScopes(value: string | undefined, resource: ResolvedResource): string[] {
  const requested = parseScope(value)
  if (requested.length === 0) return [...(resource.defaultScopes ?? resource.scopes)]
  if (resource.scopes.length === 0) return requested
  const known = requested.filter((s) => resource.scopes.includes(s))
  if (known.length === 0) {
    throw new OAuthError('invalid_scope', 'none of the requested scopes is known', {
      reason: 'unknown_scopes',
    })
  }
  return known
}

function invalid(description: string, reason: string): OAuthError {
  return new OAuthError('invalid_request', description, { reason })
}

function page(error: OAuthError, deps: AuthorizeDeps): Response {
  deps.onError?.(error)
  const status = error.status >= 500 ? error.status : 400
  return errorPage(status, 'Authorization request refused', error.message)
}
