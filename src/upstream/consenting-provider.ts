/**
 * `ConsentingProvider`: the `authenticate` hook with Gatehouse's consent page in front of it.
 * Without it, any client that can register would get a code for the user the hook names, with
 * nobody asked (MCP §Confused Deputy). `/authorize` stores the request as a transaction and
 * sends the browser to the consent page the proxy uses; approval takes the transaction once,
 * calls `authenticate` and redirects to the client with the code, `state` and `iss`; denial
 * redirects with `access_denied`. `createGatehouse({ dangerouslySkipConsent: true })` opts out.
 */
import { toOAuthError } from '../errors.js'
import type { Route } from '../http/app.js'
import type { CookieSigner } from '../http/cookies.js'
import { randomToken } from '../http/random.js'
import { redirectResponse } from '../http/responses.js'
import {
  authorizationResponseURL,
  GatehouseProvider,
  type GatehouseProviderOptions,
} from '../oauth/gatehouse-provider.js'
import type { AuthorizationParams, OAuthClientInformation } from '../contract/types.js'
import {
  consentGiven,
  forbidden,
  handleConsentGet,
  handleConsentPost,
  TRANSACTION_TTL_SECONDS,
  type ConsentHost,
  type ConsentTransaction,
} from './consent.js'
import { storageKey } from '../storage/keys.js'

export interface ConsentingProviderOptions extends GatehouseProviderOptions {
  /** Signs the consent page's CSRF cookie. */
  cookies: CookieSigner
}

/** The store-backed provider whose sign-in (`authenticate`) runs only after the user approved. */
export class ConsentingProvider extends GatehouseProvider {
  /** The consent page's view of this provider: approval issues the code. */
  readonly consent: ConsentHost

  constructor(options: ConsentingProviderOptions) {
    super(options)
    this.consent = {
      config: options.config,
      store: options.store,
      cookies: options.cookies,
      onError: options.onError,
      audit: options.audit,
      getClient: (clientId) => this.getClient(clientId),
      approve: (id, txn, client) => this.#approve(id, txn, client),
    }
  }

  /** Stores the request (10 min) and sends the browser to the consent page. */
  override async authorize(
    client: OAuthClientInformation,
    params: AuthorizationParams,
  ): Promise<string> {
    const id = randomToken(32)
    const txn: ConsentTransaction = {
      clientId: client.client_id,
      params,
      ...(client.metadata_document_fingerprint !== undefined
        ? { clientFingerprint: client.metadata_document_fingerprint }
        : {}),
    }
    await this.options.store.set(storageKey.transaction(id), txn, {
      ttlSeconds: TRANSACTION_TTL_SECONDS,
    })
    return `${this.options.config.issuer}/consent?txn=${encodeURIComponent(id)}`
  }

  /** The consent route this provider adds to the server. */
  routes(): Route[] {
    return [
      {
        path: `${this.options.config.basePath}/consent`,
        cors: false,
        methods: {
          GET: (r) => handleConsentGet(r, this.consent),
          POST: (r) => handleConsentPost(r, this.consent),
        },
      },
    ]
  }

  /**
   * Approval: the transaction is taken once (a second post of the same page finds nothing), then
   * `authenticate` names the user and the code goes to the client. A refusal or failure of the
   * hook goes to the client's redirect URI as its OAuth error, with `state` and `iss`.
   */
  async #approve(
    id: string,
    txn: ConsentTransaction,
    client: OAuthClientInformation,
  ): Promise<Response> {
    if (!(await this.options.store.take<ConsentTransaction>(storageKey.transaction(id)))) {
      return forbidden(this.consent, 'consent_replayed')
    }
    consentGiven(this.consent, txn)
    let location: string
    try {
      location = await super.authorize(client, txn.params)
    } catch (error) {
      const e = toOAuthError(error)
      this.options.onError?.(e)
      location = authorizationResponseURL(txn.params.redirectUri, this.options.config.issuer, {
        error: e.code,
        error_description: e.message,
        ...(txn.params.state !== undefined ? { state: txn.params.state } : {}),
      })
    }
    return redirectResponse(location, 303)
  }
}
