/**
 * An in-memory `OAuthClientProvider` for the MCP SDK client in end-to-end tests: a public client
 * whose "browser" signs in through the consent page and the IdP login with `approveAndSignIn`.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { approveAndSignIn, UserAgent } from './user-agent.js'

export interface BrowserlessClientOptions {
  /** The loopback redirect URI the client registers (nothing listens there). */
  redirectUrl: string
  clientName: string
  /** The IdP login the "user" types. */
  user: { username: string; password: string }
  /** A Client ID Metadata Document URL: the SDK then uses it as client_id and does not register. */
  clientMetadataUrl?: string
  /** Also load the consent page once more to keep its HTML in `consentPage`. */
  keepConsentPage?: boolean
  /** Gatehouse with several IdPs: the one to choose after consent. */
  idp?: string
}

export class BrowserlessClientProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  /** The authorization code the last sign-in returned. */
  code: string | undefined
  /** The whole query of the last redirect back (`code`, `state`, `iss`), for SDK 2.x `finishAuth`. */
  callbackParams: URLSearchParams | undefined
  /** The HTML of the last consent page shown. */
  consentPage = ''
  registrations = 0
  readonly redirectUrl: string
  readonly clientMetadataUrl?: string
  readonly clientMetadata
  readonly #user: { username: string; password: string }
  readonly #keepConsentPage: boolean
  readonly #idp: string | undefined

  constructor(options: BrowserlessClientOptions) {
    this.redirectUrl = options.redirectUrl
    if (options.clientMetadataUrl !== undefined) this.clientMetadataUrl = options.clientMetadataUrl
    this.#user = options.user
    this.#keepConsentPage = options.keepConsentPage ?? false
    this.#idp = options.idp
    this.clientMetadata = {
      client_name: options.clientName,
      redirect_uris: [options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.registrations++
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
  async redirectToAuthorization(url: URL) {
    if (this.#keepConsentPage) {
      const consent = await new UserAgent().follow(url.href)
      this.consentPage = (await consent.response?.clone().text()) ?? ''
    }
    const back = await approveAndSignIn(
      new UserAgent(),
      url.href,
      this.#user,
      this.redirectUrl,
      this.#idp,
    )
    this.code = back.searchParams.get('code') ?? undefined
    this.callbackParams = back.searchParams
  }
}
