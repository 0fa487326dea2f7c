/**
 * The identity-provider choice between consent and sign-in, when Gatehouse has several IdPs
 * (`upstreams`). Rules:
 * - The chooser is reached only after approval, in the browser that approved: the transaction has
 *   its browser-binding hash and the binding cookie matches it; no IdP is chosen yet.
 * - GET renders the page with a CSRF token bound to a signed cookie (marked for this step, so the
 *   consent page's token does not pass here).
 * - POST requires a same-origin browser request, the CSRF token matching its cookie, the binding
 *   cookie, and an IdP id Gatehouse has; anything else is refused and changes nothing.
 * - The choice is made once: the transaction is taken and stored again with the IdP's id, which
 *   the callback of that IdP (and only that one) accepts.
 */
import { OAuthError } from '../errors.js'
import { readCookie, serializeCookie } from '../http/cookies.js'
import { parseParams, readForm } from '../http/params.js'
import { randomToken, sha256, timingSafeEqual } from '../http/random.js'
import { errorPage } from '../http/responses.js'
import type { Transaction } from './callback.js'
import { storageKey } from '../storage/keys.js'
import { renderChooserPage } from './chooser-page.js'
import {
  BINDING_COOKIE,
  CSRF_COOKIE,
  currentClient,
  forbidden,
  sameOriginPost,
  secureCookies,
  TRANSACTION_TTL_SECONDS,
  type ConsentHost,
} from './consent.js'

/** What the chooser needs of the proxy (`OAuthProxy` is one when it has several IdPs). */
export interface ChooserHost {
  readonly consent: ConsentHost
  /** The IdPs on offer, in the configured order. */
  readonly choices: readonly { id: string; label: string }[]
  /**
   * Continues with IdP `idp` (known, checked): takes the transaction once, stores it again with
   * the choice, and answers with the redirect to that IdP; `undefined` when it was taken already.
   */
  choose(id: string, txn: Transaction, idp: string): Promise<Response | undefined>
}

/** The purpose the chooser's CSRF cookie is signed for (the consent page's is another). */
const CHOOSER_CSRF = 'chooser-csrf'

interface ChooserCSRF {
  txn: string
  csrf: string
  step: 'choose'
}

/** The transaction `id` when it was approved in this browser and has no IdP yet. */
async function approvedHere(
  request: Request,
  host: ChooserHost,
  id: string,
): Promise<Transaction | undefined> {
  const { consent } = host
  const txn = await consent.store.get<Transaction>(storageKey.transaction(id))
  if (!txn?.bindingHash || txn.idp !== undefined) return undefined
  const bound = await consent.cookies.verify<{ txn: string; nonce: string }>(
    BINDING_COOKIE,
    readCookie(request, BINDING_COOKIE, secureCookies(consent.config)),
  )
  if (bound?.txn !== id || !timingSafeEqual(await sha256(bound.nonce), txn.bindingHash)) {
    return undefined
  }
  return txn
}

export async function handleChooserGet(request: Request, host: ChooserHost): Promise<Response> {
  const { consent } = host
  const id = parseParams(new URL(request.url).search).get('txn')
  const txn = id === undefined ? undefined : await approvedHere(request, host, id)
  const client = txn ? await currentClient(consent, txn) : undefined
  if (id === undefined || !client) {
    return errorPage(
      400,
      'Sign-in expired',
      'This sign-in request is unknown or has expired. Start again from your app.',
    )
  }
  const csrf = randomToken(32)
  const cookie = serializeCookie(
    CSRF_COOKIE,
    await consent.cookies.sign(CHOOSER_CSRF, {
      txn: id,
      csrf,
      step: 'choose',
    } satisfies ChooserCSRF),
    { secure: secureCookies(consent.config), maxAgeSeconds: TRANSACTION_TTL_SECONDS },
  )
  return renderChooserPage(
    {
      action: `${consent.config.issuer}/consent/provider`,
      txn: id,
      csrf,
      clientName: client.client_name ?? client.client_id,
      choices: host.choices,
    },
    { 'set-cookie': cookie },
  )
}

export async function handleChooserPost(request: Request, host: ChooserHost): Promise<Response> {
  const { consent } = host
  if (!sameOriginPost(request, new URL(consent.config.issuer).origin)) {
    return forbidden(consent, 'chooser_cross_origin')
  }
  const form = await readForm(request, consent.config.maxBodyBytes)
  const id = form.get('txn')
  const csrf = form.get('csrf')
  const secure = secureCookies(consent.config)
  const bound = await consent.cookies.verify<ChooserCSRF>(
    CHOOSER_CSRF,
    readCookie(request, CSRF_COOKIE, secure),
  )
  if (
    id === undefined ||
    csrf === undefined ||
    bound?.step !== 'choose' ||
    bound.txn !== id ||
    !timingSafeEqual(bound.csrf, csrf)
  ) {
    return forbidden(consent, 'chooser_csrf')
  }
  const txn = await approvedHere(request, host, id)
  if (!txn) return forbidden(consent, 'chooser_not_approved')
  const idp = form.get('idp')
  if (idp === undefined || !host.choices.some((c) => c.id === idp)) {
    consent.onError?.(
      new OAuthError('invalid_request', 'unknown identity provider', {
        reason: 'chooser_unknown_idp',
      }),
    )
    return errorPage(400, 'Sign-in refused', 'Choose one of the identity providers offered.')
  }
  const client = await currentClient(consent, txn)
  if (!client) {
    await consent.store.delete(storageKey.transaction(id))
    return forbidden(consent, 'chooser_client_changed')
  }
  const response = await host.choose(id, txn, idp)
  if (!response) return forbidden(consent, 'chooser_replayed')
  response.headers.append(
    'set-cookie',
    serializeCookie(CSRF_COOKIE, '', { secure, maxAgeSeconds: 0 }),
  )
  return response
}
