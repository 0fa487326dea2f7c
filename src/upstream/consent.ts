/**
 * The consent step between `/authorize` and signing the user in, shared by the IdP proxy and the
 * `authenticate` hook. Rules:
 * - GET renders the page with a CSRF token bound to a signed cookie; nothing about the sign-in
 *   is set yet (MCP Sec-BP: "MUST NOT be set until after consent").
 * - POST requires a same-origin browser request (`Origin`, `Sec-Fetch-Site`), the CSRF token
 *   matching its cookie, and a transaction not yet approved.
 * - Approve: the host continues the flow (the proxy sets a browser-binding cookie and sends the
 *   browser to the IdP; the `authenticate` mode issues the code).
 *   Deny: a 303 to the client with `access_denied`, `state` and `iss`.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError, toOAuthError, type ErrorHook } from '../errors.js'
import { readCookie, serializeCookie, type CookieSigner } from '../http/cookies.js'
import { parseParams, readForm } from '../http/params.js'
import { randomToken, timingSafeEqual } from '../http/random.js'
import { errorPage, redirectResponse } from '../http/responses.js'
import { authorizationResponseURL } from '../oauth/gatehouse-provider.js'
import type { AuthorizationParams, OAuthClientInformation } from '../contract/types.js'
import type { AuditSink } from '../audit-event.js'
import type { Store } from '../storage/store.js'
import { renderConsentPage } from './consent-page.js'
import { storageKey } from '../storage/keys.js'

/** The CSRF cookie of the consent page and of the chooser (each signs it for its own purpose). */
export const CSRF_COOKIE = 'gh-csrf'
/** The browser-binding cookie of an approved transaction; also the purpose it is signed for. */
export const BINDING_COOKIE = 'gh-binding'
/** The purpose the consent page's CSRF cookie is signed for. */
const CONSENT_CSRF = 'consent-csrf'
/** How long a pending authorization (and its consent page) lives. */
export const TRANSACTION_TTL_SECONDS = 600

/** What the consent step needs of a pending authorization, stored under `txn:<id>`. */
export interface ConsentTransaction {
  clientId: string
  params: AuthorizationParams
  /** Set once the user approved (the proxy's browser-binding nonce, hashed). */
  bindingHash?: string
  /** The client's metadata-document fingerprint when consent was asked (CIMD clients). */
  clientFingerprint?: string
}

/** The server the consent page belongs to: its state, and what approval leads to. */
export interface ConsentHost {
  readonly config: ResolvedConfig
  readonly store: Store
  readonly cookies: CookieSigner
  readonly onError?: ErrorHook | undefined
  /** Receives `consent_denied`; the host emits `consent_given` once its approval took effect. */
  readonly audit?: AuditSink | undefined
  getClient(clientId: string): Promise<OAuthClientInformation | undefined>
  /**
   * Continues the flow after the user approved `txn` (CSRF, origin and client already checked):
   * the response the browser gets. Must make a second approval of the same transaction fail,
   * and emit `consent_given` (see `consentGiven`) once the approval took effect.
   */
  approve(
    id: string,
    txn: ConsentTransaction,
    client: OAuthClientInformation,
    secure: boolean,
  ): Promise<Response>
}

interface CSRFCookie {
  txn: string
  csrf: string
}

/** Whether cookies must be `Secure`/`__Host-` (an https issuer). */
export function secureCookies(config: Pick<ResolvedConfig, 'issuer'>): boolean {
  return config.issuer.startsWith('https:')
}

export async function handleConsentGet(request: Request, host: ConsentHost): Promise<Response> {
  const id = parseParams(new URL(request.url).search).get('txn')
  const txn =
    id === undefined
      ? undefined
      : await host.store.get<ConsentTransaction>(storageKey.transaction(id))
  if (id === undefined || !txn) return expired()
  const client = await currentClient(host, txn)
  if (!client) return expired()
  const csrf = randomToken(32)
  const secure = secureCookies(host.config)
  const cookie = serializeCookie(
    CSRF_COOKIE,
    await host.cookies.sign(CONSENT_CSRF, { txn: id, csrf } satisfies CSRFCookie),
    {
      secure,
      maxAgeSeconds: TRANSACTION_TTL_SECONDS,
    },
  )
  return renderConsentPage(
    {
      action: `${host.config.issuer}/consent`,
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

export async function handleConsentPost(request: Request, host: ConsentHost): Promise<Response> {
  if (!sameOriginPost(request, new URL(host.config.issuer).origin)) {
    return forbidden(host, 'consent_cross_origin')
  }
  const form = await readForm(request, host.config.maxBodyBytes)
  const id = form.get('txn')
  const csrf = form.get('csrf')
  const secure = secureCookies(host.config)
  const bound = await host.cookies.verify<CSRFCookie>(
    CONSENT_CSRF,
    readCookie(request, CSRF_COOKIE, secure),
  )
  if (
    id === undefined ||
    csrf === undefined ||
    !bound ||
    bound.txn !== id ||
    !timingSafeEqual(bound.csrf, csrf)
  ) {
    return forbidden(host, 'consent_csrf')
  }
  const txn = await host.store.get<ConsentTransaction>(storageKey.transaction(id))
  if (!txn || txn.bindingHash !== undefined) return forbidden(host, 'consent_replayed')
  // The user approved what the page showed: a client whose metadata document changed since
  // (redirect URIs or keys) must be shown and approved again.
  const client = await currentClient(host, txn)
  if (!client) {
    await host.store.delete(storageKey.transaction(id))
    return forbidden(host, 'consent_client_changed')
  }
  const clearCsrf = serializeCookie(CSRF_COOKIE, '', { secure, maxAgeSeconds: 0 })
  const action = form.get('action')
  if (action === 'deny') {
    // Taken, not just deleted: of a racing approve and deny only one answers the client.
    if (!(await host.store.take<ConsentTransaction>(storageKey.transaction(id)))) {
      return forbidden(host, 'consent_replayed')
    }
    host.audit?.emit({ event: 'consent_denied', outcome: 'denied', clientId: txn.clientId })
    const location = authorizationResponseURL(txn.params.redirectUri, host.config.issuer, {
      error: 'access_denied',
      error_description: 'the user denied the request',
      ...(txn.params.state !== undefined ? { state: txn.params.state } : {}),
    })
    return withCookies(redirectResponse(location, 303), [clearCsrf])
  }
  if (action !== 'approve') return errorPage(400, 'Consent refused', 'unknown action')
  return withCookies(await host.approve(id, txn, client, secure), [clearCsrf])
}

/**
 * A browser tells where a form came from with `Sec-Fetch-Site`; when it sends that, only
 * `same-origin` passes, whatever `Origin` says (our pages send no referrer, so browsers send
 * `Origin: null`). Without `Sec-Fetch-Site`, `Origin` must be absent or the issuer's origin: an
 * old browser sending `Origin: null` is refused (fails closed). Either way the CSRF cookie and
 * token are required too.
 */
export function sameOriginPost(request: Request, issuerOrigin: string): boolean {
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
  host: ConsentHost,
  txn: ConsentTransaction,
): Promise<OAuthClientInformation | undefined> {
  let client: OAuthClientInformation | undefined
  try {
    client = await host.getClient(txn.clientId)
  } catch (error) {
    host.onError?.(toOAuthError(error))
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

/** The audit event of an approval that took effect (one per transaction). */
export function consentGiven(host: ConsentHost, txn: ConsentTransaction): void {
  host.audit?.emit({ event: 'consent_given', outcome: 'success', clientId: txn.clientId })
}

/** The 403 page for a consent request that cannot be verified; `reason` goes to `onError`. */
export function forbidden(host: ConsentHost, reason: string): Response {
  host.onError?.(
    new OAuthError('access_denied', 'consent request refused', { reason, status: 403 }),
  )
  return errorPage(
    403,
    'Request refused',
    'This consent request could not be verified. Start again from your app.',
  )
}
