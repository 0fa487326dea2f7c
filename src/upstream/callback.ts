/**
 * The identity provider's callback. Rules, in order:
 * 1. `state` names a live transaction, approved in this browser (the binding cookie); anything
 *    else is a plain error page, never a redirect (MCP Sec-BP §OAuth State Parameter Validation).
 * 2. The transaction is taken once, so a replayed callback finds nothing.
 * 3. The IdP's `access_denied` goes back to the client's validated redirect URI; every other IdP
 *    failure becomes `temporarily_unavailable` there, with none of the IdP's text.
 * 4. On success: the code is exchanged (PKCE, nonce, `iss`), the ID or access token verified, the
 *    IdP's tokens kept encrypted in the grant, and Gatehouse's own code sent to the client.
 */
import { OAuthError, UpstreamError } from '../errors.js'
import { readCookie, serializeCookie } from '../http/cookies.js'
import { sha256, timingSafeEqual } from '../http/random.js'
import { errorPage, redirectResponse } from '../http/responses.js'
import { authorizationResponseURL } from '../oauth/gatehouse-provider.js'
import type { ResolvedConfig } from '../config/schema.js'
import type { ErrorHook } from '../errors.js'
import type { CookieSigner } from '../http/cookies.js'
import type { UserIdentity } from '../oauth/gatehouse-provider.js'
import type { AuthorizationParams, OAuthClientInformation } from '../contract/types.js'
import type { AuditSink } from '../audit-event.js'
import type { Store } from '../storage/store.js'
import {
  BINDING_COOKIE,
  currentClient,
  secureCookies,
  type ConsentHost,
  type ConsentTransaction,
} from './consent.js'
import type { UpstreamResult } from './profile.js'
import type { UpstreamClient } from './upstream-client.js'
import { storageKey } from '../storage/keys.js'

/** A pending authorization: what the client asked for and Gatehouse's upstream PKCE pair. */
export interface Transaction extends ConsentTransaction {
  codeVerifier: string
  nonce?: string
  /** With several IdPs (`upstreams`): the id of the one the user chose (`./chooser.ts`). */
  idp?: string
}

/** What the callback needs of the proxy (`OAuthProxy` is one). */
export interface CallbackHost {
  readonly proxy: {
    config: ResolvedConfig
    store: Store
    cookies: CookieSigner
    upstream: UpstreamClient
    redirectPath: string
    onError?: ErrorHook | undefined
    audit?: AuditSink | undefined
  }
  readonly consent: ConsentHost
  /**
   * With several IdPs: the id of the IdP this callback belongs to. Only a transaction whose
   * chosen IdP it is passes (RFC 9700 §4.4.2: one redirect URI per IdP, checked against the
   * state-bound choice), so a code from another IdP is never redeemed here.
   */
  readonly idp?: string
  upstreamTokenScopesFor(txn: Transaction): readonly string[]
  identify(result: UpstreamResult): Promise<UserIdentity>
  issueCode(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string>
}

export async function handleCallback(request: Request, proxy: CallbackHost): Promise<Response> {
  const { config, store, cookies, upstream, onError, audit } = proxy.proxy
  const url = new URL(request.url)
  const params = url.searchParams
  const state = params.get('state')
  const refuse = (reason: string) => {
    onError?.(new OAuthError('invalid_request', 'callback refused', { reason }))
    return errorPage(
      400,
      'Sign-in failed',
      'This sign-in response is unknown, expired or was already used. Start again from your app.',
    )
  }
  if (state === null || params.getAll('state').length !== 1) return refuse('callback_no_state')
  const txn = await store.get<Transaction>(storageKey.transaction(state))
  if (!txn?.bindingHash) return refuse('callback_unknown_transaction')
  const secure = secureCookies(config)
  const bound = await cookies.verify<{ txn: string; nonce: string }>(
    BINDING_COOKIE,
    readCookie(request, BINDING_COOKIE, secure),
  )
  if (bound?.txn !== state || !timingSafeEqual(await sha256(bound.nonce), txn.bindingHash)) {
    return refuse('callback_browser_mismatch')
  }
  if (!(await store.take<Transaction>(storageKey.transaction(state))))
    return refuse('callback_replayed')
  const clear = serializeCookie(BINDING_COOKIE, '', { secure, maxAgeSeconds: 0 })
  const client = await currentClient(proxy.consent, txn)
  if (!client) return refuse('callback_client_gone')

  const signInFailed = (reason: string, denied = false) => {
    audit?.emit({
      event: 'sign_in',
      outcome: denied ? 'denied' : 'failure',
      clientId: client.client_id,
      reason,
    })
  }
  const toClient = (response: Record<string, string>) => {
    const location = authorizationResponseURL(txn.params.redirectUri, config.issuer, {
      ...response,
      ...(txn.params.state !== undefined ? { state: txn.params.state } : {}),
    })
    const res = redirectResponse(location)
    res.headers.append('set-cookie', clear)
    return res
  }
  const mixUp = (reason: string) => {
    onError?.(new OAuthError('invalid_request', 'callback refused', { reason }))
    signInFailed(reason)
    return toClient({
      error: 'temporarily_unavailable',
      error_description: 'sign-in at the identity provider failed',
    })
  }
  // Several IdPs: the answer must come back on the callback of the IdP chosen for this
  // transaction; on another IdP's callback it is a mix-up attempt (RFC 9700 §4.4).
  if (proxy.idp !== undefined && txn.idp !== proxy.idp) return mixUp('callback_idp_mismatch')
  // RFC 9207 before anything else, error responses included: an `iss` naming another IdP is a
  // mix-up attempt, and an IdP that promises `iss` must send it.
  const iss = params.get('iss')
  const settings = upstream.settings
  if (
    (iss !== null && iss !== settings.issuer) ||
    (iss === null && settings.issParameterSupported === true)
  ) {
    return mixUp('callback_iss_mismatch')
  }
  const upstreamError = params.get('error')
  if (upstreamError !== null) {
    const reason = upstreamErrorReason(upstreamError)
    onError?.(new OAuthError('access_denied', 'the identity provider refused', { reason }))
    signInFailed(reason, upstreamError === 'access_denied')
    return upstreamError === 'access_denied'
      ? toClient({
          error: 'access_denied',
          error_description: 'the user or identity provider denied the request',
        })
      : toClient({
          error: 'temporarily_unavailable',
          error_description: 'sign-in at the identity provider failed',
        })
  }
  try {
    const result = await upstream.exchangeCode({
      callback: params,
      expectedState: state,
      redirectUri: `${config.issuer}${proxy.proxy.redirectPath}`,
      codeVerifier: txn.codeVerifier,
      ...(txn.nonce !== undefined ? { nonce: txn.nonce } : {}),
      scopes: proxy.upstreamTokenScopesFor(txn),
    })
    const identity = await proxy.identify(result)
    const code = await proxy.issueCode(client, txn.params, identity)
    audit?.emit({
      event: 'sign_in',
      outcome: 'success',
      clientId: client.client_id,
      subject: identity.subject,
    })
    return toClient({ code })
  } catch (error) {
    const reason =
      (error instanceof OAuthError
        ? error.reason
        : error instanceof UpstreamError
          ? error.code
          : undefined) ?? 'upstream_failed'
    // A refusal (a tenant or user that may not sign in) is reported as what the client sees.
    if (error instanceof OAuthError && error.code === 'access_denied') {
      onError?.(error)
      signInFailed(reason, true)
      return toClient({ error: 'access_denied', error_description: error.message })
    }
    onError?.(
      new OAuthError('temporarily_unavailable', 'sign-in at the identity provider failed', {
        reason,
        cause: error,
      }),
    )
    signInFailed(reason)
    return toClient({
      error: 'temporarily_unavailable',
      error_description: 'sign-in at the identity provider failed',
    })
  }
}

/**
 * The audit and log reason for an IdP's error answer: one of the codes RFC 6749 §4.1.2.1, OpenID
 * Connect Core §3.1.2.6 and GitHub define, else `upstream_error`. The `error` parameter comes through
 * the browser, so anyone holding a transaction could otherwise write their own words into the
 * security log.
 */
function upstreamErrorReason(error: string): string {
  return UPSTREAM_ERRORS.has(error) ? `upstream_${error}` : 'upstream_error'
}

const UPSTREAM_ERRORS = new Set([
  'access_denied',
  'invalid_request',
  'unauthorized_client',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
  // GitHub's own (its OAuth app docs, "Troubleshooting authorization request errors").
  'redirect_uri_mismatch',
  'application_suspended',
])
