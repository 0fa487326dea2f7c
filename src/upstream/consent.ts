/**
 * The consent step between `/authorize` and the identity provider. Rules:
 * - GET renders the page with a CSRF token bound to a signed cookie; nothing about the upstream
 *   state is set yet (MCP Sec-BP: "MUST NOT be set until after consent").
 * - POST requires a same-origin browser request (`Origin`, `Sec-Fetch-Site`), the CSRF token
 *   matching its cookie, and a transaction not yet approved.
 * - Approve: a browser-binding cookie (checked at the callback) and a 303 to the IdP.
 *   Deny: a 303 to the client with `access_denied`, `state` and `iss`.
 */
import { OAuthError, toOAuthError } from '../errors.js'
import { readCookie, serializeCookie } from '../http/cookies.js'
import { parseParams, readForm } from '../http/params.js'
import { randomToken, sha256, timingSafeEqual } from '../http/random.js'
import { errorPage, redirectResponse } from '../http/responses.js'
import { authorizationResponseUrl } from '../oauth/gatehouse-provider.js'
import type { OAuthClientInformation } from '../oauth/types.js'
import { renderConsentPage } from './consent-page.js'
import { TRANSACTION_TTL_SECONDS, type OAuthProxy, type Transaction } from './oauth-proxy.js'

export const CSRF_COOKIE = 'gh-csrf'
export const BINDING_COOKIE = 'gh-binding'

interface CsrfCookie {
  txn: string
  csrf: string
}

/** Whether cookies must be `Secure`/`__Host-` (an https issuer). */
export function secureCookies(proxy: OAuthProxy): boolean {
  return proxy.proxy.config.issuer.startsWith('https:')
}

export async function handleConsentGet(request: Request, proxy: OAuthProxy): Promise<Response> {
  const id = parseParams(new URL(request.url).search).get('txn')
  const txn = id === undefined ? undefined : await proxy.proxy.store.get<Transaction>(`txn:${id}`)
  if (id === undefined || !txn) return expired()
  const client = await currentClient(proxy, txn)
  if (!client) return expired()
  const csrf = randomToken(32)
  const secure = secureCookies(proxy)
  const cookie = serializeCookie(
    CSRF_COOKIE,
    await proxy.proxy.cookies.sign({ txn: id, csrf } satisfies CsrfCookie),
    {
      secure,
      maxAgeSeconds: TRANSACTION_TTL_SECONDS,
    },
  )
  return renderConsentPage(
    {
      action: `${proxy.proxy.config.issuer}/consent`,
      txn: id,
      csrf,
      clientId: client.client_id,
      ...(client.client_name !== undefined ? { clientName: client.client_name } : {}),
      ...(client.metadata_document_fingerprint !== undefined
        ? { documentHost: new URL(client.client_id).host }
        : {}),
      redirectUri: txn.params.redirectUri,
      scopes: txn.params.scopes,
      resource: txn.params.resource,
    },
    { 'set-cookie': cookie },
  )
}

export async function handleConsentPost(request: Request, proxy: OAuthProxy): Promise<Response> {
  if (!sameOriginPost(request, new URL(proxy.proxy.config.issuer).origin)) {
    return forbidden(proxy, 'consent_cross_origin')
  }
  const form = await readForm(request, proxy.proxy.config.maxBodyBytes)
  const id = form.get('txn')
  const csrf = form.get('csrf')
  const secure = secureCookies(proxy)
  const bound = await proxy.proxy.cookies.verify<CsrfCookie>(
    readCookie(request, CSRF_COOKIE, secure),
  )
  if (
    id === undefined ||
    csrf === undefined ||
    !bound ||
    bound.txn !== id ||
    !timingSafeEqual(bound.csrf, csrf)
  ) {
    return forbidden(proxy, 'consent_csrf')
  }
  const txn = await proxy.proxy.store.get<Transaction>(`txn:${id}`)
  if (!txn || txn.bindingHash !== undefined) return forbidden(proxy, 'consent_replayed')
  // The user approved what the page showed: a client whose metadata document changed since
  // (redirect URIs or keys) must be shown and approved again.
  if (!(await currentClient(proxy, txn))) {
    await proxy.proxy.store.delete(`txn:${id}`)
    return forbidden(proxy, 'consent_client_changed')
  }
  const clearCsrf = serializeCookie(CSRF_COOKIE, '', { secure, maxAgeSeconds: 0 })
  const action = form.get('action')
  if (action === 'deny') {
    await proxy.proxy.store.delete(`txn:${id}`)
    proxy.proxy.audit?.emit({ event: 'consent_denied', outcome: 'denied', clientId: txn.clientId })
    const location = authorizationResponseUrl(txn.params.redirectUri, proxy.proxy.config.issuer, {
      error: 'access_denied',
      error_description: 'the user denied the request',
      ...(txn.params.state !== undefined ? { state: txn.params.state } : {}),
    })
    return withCookies(redirectResponse(location, 303), [clearCsrf])
  }
  if (action !== 'approve') return errorPage(400, 'Consent refused', 'unknown action')
  const nonce = randomToken(32)
  await proxy.proxy.store.set(
    `txn:${id}`,
    { ...txn, bindingHash: await sha256(nonce) } satisfies Transaction,
    {
      ttlSeconds: TRANSACTION_TTL_SECONDS,
    },
  )
  const binding = serializeCookie(
    BINDING_COOKIE,
    await proxy.proxy.cookies.sign({ txn: id, nonce }),
    {
      secure,
      maxAgeSeconds: TRANSACTION_TTL_SECONDS,
    },
  )
  proxy.proxy.audit?.emit({ event: 'consent_given', outcome: 'success', clientId: txn.clientId })
  const upstream = await proxy.proxy.upstream.authorizationUrl({
    redirectUri: `${proxy.proxy.config.issuer}${proxy.proxy.redirectPath}`,
    state: id,
    codeVerifier: txn.codeVerifier,
    ...(txn.nonce !== undefined ? { nonce: txn.nonce } : {}),
    scopes: proxy.upstreamScopesFor(txn),
  })
  return withCookies(redirectResponse(upstream, 303), [clearCsrf, binding])
}

/**
 * A browser tells where a form came from with `Sec-Fetch-Site`; when it sends that, only
 * `same-origin` passes, whatever `Origin` says (our pages send no referrer, so browsers send
 * `Origin: null`). Without `Sec-Fetch-Site`, `Origin` must be absent or the issuer's origin: an
 * old browser sending `Origin: null` is refused (fails closed). Either way the CSRF cookie and
 * token are required too.
 */
function sameOriginPost(request: Request, issuerOrigin: string): boolean {
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin'
  const origin = request.headers.get('origin')
  return origin === null || origin === issuerOrigin
}

/**
 * The transaction's client as it is now, or `undefined` when it is gone, its metadata document
 * can no longer be used, or the document's redirect URIs or keys changed since the transaction.
 */
export async function currentClient(
  proxy: OAuthProxy,
  txn: Transaction,
): Promise<OAuthClientInformation | undefined> {
  let client: OAuthClientInformation | undefined
  try {
    client = await proxy.getClient(txn.clientId)
  } catch (error) {
    proxy.proxy.onError?.(toOAuthError(error))
    return undefined
  }
  if (client?.metadata_document_fingerprint !== txn.clientFingerprint) return undefined
  return client
}

function withCookies(response: Response, cookies: string[]): Response {
  for (const c of cookies) response.headers.append('set-cookie', c)
  return response
}

function expired(): Response {
  return errorPage(
    400,
    'Sign-in expired',
    'This sign-in request is unknown or has expired. Start again from your app.',
  )
}

function forbidden(proxy: OAuthProxy, reason: string): Response {
  proxy.proxy.onError?.(
    new OAuthError('access_denied', 'consent request refused', { reason, status: 403 }),
  )
  return errorPage(
    403,
    'Request refused',
    'This consent request could not be verified. Start again from your app.',
  )
}
