/**
 * The leg to the identity provider, spoken with `oauth4webapi`: the authorization URL (Gatehouse's
 * own client id, callback, PKCE pair, `state` and `nonce`), the code exchange and refresh. The
 * MCP client's `client_id`, `redirect_uri`, `resource` and tokens are never sent upstream.
 * Every answer of the IdP is read through `cappedFetch`: at most 1 MiB, so an IdP cannot make
 * Gatehouse hold (and store) an answer of any size.
 */
import * as oauth from 'oauth4webapi'
import { ASYMMETRIC_ALGORITHMS, CLIENT_ASSERTION_TYPE } from '../config/protocol.js'
import { OAuthError, UpstreamError } from '../errors.js'
import { readBody } from '../http/guarded-fetch.js'

/**
 * The most Gatehouse reads of one answer from an identity provider (token, userinfo, discovery,
 * the provider APIs of GitHub, Discord, PropelAuth, Hugging Face): 1 MiB, far above any real one.
 */
export const MAX_UPSTREAM_RESPONSE_BYTES = 1024 * 1024

/**
 * `fetchImpl` whose answers are read whole, up to `maxBytes`, before they are handed on. A larger
 * body (declared in `content-length` or found while reading) fails with `UpstreamError`
 * `ERR_UPSTREAM_RESPONSE` and the rest is not read; the request's `signal` bounds the reading too.
 * Addresses are not checked here (unlike the guarded fetch): IdP URLs come from the configuration.
 */
export function cappedFetch(
  fetchImpl: typeof fetch = fetch,
  maxBytes: number = MAX_UPSTREAM_RESPONSE_BYTES,
): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init)
    if (response.body === null) return response
    const url = input instanceof Request ? input.url : String(input)
    const origin = URL.canParse(url) ? new URL(url).origin : 'the identity provider'
    const declared = Number(response.headers.get('content-length') ?? 0)
    if (declared > maxBytes) {
      await response.body.cancel().catch(() => undefined)
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `${origin} sent a response that is too large`,
      )
    }
    const signal = init?.signal ?? new AbortController().signal
    const body = await readBody(response, maxBytes, signal, origin)
    return new Response(body as Uint8Array<ArrayBuffer>, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}

/** Where the identity provider is and how Gatehouse authenticates to it. */
export interface UpstreamSettings {
  /** The IdP's issuer identifier; its `iss` callback parameter and ID tokens are checked against it. */
  issuer: string
  authorizationEndpoint: string
  tokenEndpoint: string
  revocationEndpoint?: string
  jwksUri?: string
  /** Whether the IdP sends RFC 9207 `iss` on its redirects (then it is required). */
  issParameterSupported?: boolean
  clientId: string
  clientSecret?: string
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** Whether the IdP is an OpenID provider: a `nonce` is sent and an ID token required. */
  openid: boolean
  /**
   * The algorithms an ID token from the IdP may be signed with (code exchange and refresh alike);
   * asymmetric only. Default `['RS256']`, OpenID Connect's default. An ID token signed otherwise
   * fails the exchange.
   */
  idTokenAlgorithms?: readonly string[]
  extraAuthorizeParams: Readonly<Record<string, string>>
  extraTokenParams: Readonly<Record<string, string>>
  /** http IdPs on loopback (development). */
  allowInsecureRequests: boolean
  timeoutMs: number
  /**
   * The issuer an ID token must name, from its claims, when it is not `issuer` (Entra's
   * multi-tenant `{tenantid}` template); `undefined` means `issuer`.
   */
  idTokenIssuer?: (claims: Readonly<Record<string, unknown>>) => string | undefined
  /** Signs a client assertion (`private_key_jwt`); replaces the secret when set. */
  clientAssertion?: () => Promise<string>
}

/** Tokens from the IdP, kept encrypted in the grant and never given to MCP clients. */
export interface UpstreamTokens {
  accessToken: string
  refreshToken?: string
  idToken?: string
  /** Seconds since the epoch; `undefined` when the IdP did not say. */
  expiresAt?: number
  scope?: string
}

const EXPECTED_ISSUER = expectedIssuerHook()

/**
 * Entra's multi-tenant and B2C ID tokens are checked through oauth4webapi's `_expectedIssuer`
 * hook; without it they would only ever be refused, with no hint why. Fail at load instead.
 */
function expectedIssuerHook(): symbol {
  const hook = (oauth as unknown as { _expectedIssuer: unknown })._expectedIssuer
  if (typeof hook !== 'symbol') {
    throw new Error(
      'oauth4webapi no longer provides _expectedIssuer: the Entra issuer rules need it',
    )
  }
  return hook
}

/** Parameters that only Gatehouse may set on the upstream authorization request. */
const RESERVED = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'resource',
])

export class UpstreamClient {
  readonly settings: UpstreamSettings
  readonly #as: oauth.AuthorizationServer
  readonly #client: oauth.Client
  readonly #auth: oauth.ClientAuth
  // oauth4webapi marks the http switch deprecated to make it stand out; it is only set for an IdP
  // on a loopback address (development and tests), never for a remote one.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  readonly #options: { [oauth.allowInsecureRequests]?: boolean; [oauth.customFetch]: typeof fetch }

  readonly #now: () => number

  constructor(
    settings: UpstreamSettings,
    fetchImpl: typeof fetch = fetch,
    now: () => number = Date.now,
  ) {
    this.#now = now
    this.settings = settings
    const idTokenAlgorithms = settings.idTokenAlgorithms
    // oauth4webapi checks an ID token's `alg` against the issuer's advertised list (without one it
    // expects RS256 only); a MAC or `none` in it would let a token nobody verifiably signed through.
    if (
      idTokenAlgorithms !== undefined &&
      (idTokenAlgorithms.length === 0 ||
        idTokenAlgorithms.some((a) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a)))
    ) {
      throw new TypeError('idTokenAlgorithms must list asymmetric JWS algorithms only')
    }
    this.#as = {
      issuer: settings.issuer,
      authorization_endpoint: settings.authorizationEndpoint,
      token_endpoint: settings.tokenEndpoint,
      ...(settings.revocationEndpoint ? { revocation_endpoint: settings.revocationEndpoint } : {}),
      ...(settings.jwksUri ? { jwks_uri: settings.jwksUri } : {}),
      ...(settings.issParameterSupported
        ? { authorization_response_iss_parameter_supported: true }
        : {}),
      ...(idTokenAlgorithms
        ? { id_token_signing_alg_values_supported: [...idTokenAlgorithms] }
        : {}),
    }
    const idTokenIssuer = settings.idTokenIssuer
    if (idTokenIssuer) {
      // oauth4webapi's hook for templated issuers (the one openid-client uses for Entra).
      Object.assign(this.#as, {
        [EXPECTED_ISSUER]: (result: { claims: Record<string, unknown> }) =>
          idTokenIssuer(result.claims) ?? settings.issuer,
      })
    }
    this.#client = { client_id: settings.clientId }
    const secret = settings.clientSecret ?? ''
    const assertion = settings.clientAssertion
    this.#auth = assertion
      ? async (_as, client, body) => {
          body.set('client_id', client.client_id)
          body.set('client_assertion_type', CLIENT_ASSERTION_TYPE)
          body.set('client_assertion', await assertion())
        }
      : settings.tokenEndpointAuthMethod === 'none'
        ? oauth.None()
        : settings.tokenEndpointAuthMethod === 'client_secret_post'
          ? oauth.ClientSecretPost(secret)
          : oauth.ClientSecretBasic(secret)
    const timeoutMs = settings.timeoutMs
    const capped = cappedFetch(fetchImpl)
    this.#options = {
      [oauth.customFetch]: (url, init) =>
        capped(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }),
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      ...(settings.allowInsecureRequests ? { [oauth.allowInsecureRequests]: true } : {}),
    }
  }

  /** The URL that sends the browser to the IdP. */
  async authorizationUrl(input: {
    redirectUri: string
    state: string
    codeVerifier: string
    nonce?: string
    scopes: readonly string[]
    extra?: Readonly<Record<string, string>>
  }): Promise<string> {
    const url = new URL(this.settings.authorizationEndpoint)
    const extras = { ...this.settings.extraAuthorizeParams, ...input.extra }
    for (const [k, v] of Object.entries(extras)) if (!RESERVED.has(k)) url.searchParams.set(k, v)
    url.searchParams.set('response_type', 'code')
    url.searchParams.set('client_id', this.settings.clientId)
    url.searchParams.set('redirect_uri', input.redirectUri)
    url.searchParams.set('state', input.state)
    url.searchParams.set(
      'code_challenge',
      await oauth.calculatePKCECodeChallenge(input.codeVerifier),
    )
    url.searchParams.set('code_challenge_method', 'S256')
    if (input.nonce !== undefined) url.searchParams.set('nonce', input.nonce)
    if (input.scopes.length > 0) url.searchParams.set('scope', input.scopes.join(' '))
    else url.searchParams.delete('scope')
    return url.href
  }

  /**
   * Checks the callback (`state`, RFC 9207 `iss`) and exchanges the code. Throws `UpstreamError`
   * for anything the IdP did wrong, with no IdP text in the message.
   */
  async exchangeCode(input: {
    callback: URLSearchParams
    expectedState: string
    redirectUri: string
    codeVerifier: string
    nonce?: string
    scopes?: readonly string[]
  }): Promise<{ tokens: UpstreamTokens; idTokenClaims?: Record<string, unknown> }> {
    let params: URLSearchParams
    try {
      params = oauth.validateAuthResponse(
        this.#as,
        this.#client,
        input.callback,
        input.expectedState,
      )
    } catch (error) {
      // Not chained as `cause`: oauth4webapi errors carry the callback parameters (the IdP's code).
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `the identity provider response was invalid (${errorCode(error)})`,
      )
    }
    return this.#tokenCall(async () => {
      const response = await oauth.authorizationCodeGrantRequest(
        this.#as,
        this.#client,
        this.#auth,
        params,
        input.redirectUri,
        input.codeVerifier,
        { ...this.#options, additionalParameters: this.#tokenParams(input.scopes) },
      )
      const result = await oauth.processAuthorizationCodeResponse(
        this.#as,
        this.#client,
        response,
        {
          ...(this.settings.openid
            ? { expectedNonce: input.nonce ?? oauth.expectNoNonce, requireIdToken: true }
            : {}),
        },
      )
      const claims = this.settings.openid ? oauth.getValidatedIdTokenClaims(result) : undefined
      return {
        tokens: toTokens(result, undefined, this.#now),
        ...(claims ? { idTokenClaims: { ...claims } } : {}),
      }
    })
  }

  /** Refreshes the upstream tokens; a refused refresh is `invalid_grant` in `reason`. */
  async refresh(current: UpstreamTokens, scopes?: readonly string[]): Promise<UpstreamTokens> {
    const refreshToken = current.refreshToken
    if (refreshToken === undefined) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        'the identity provider gave no refresh token',
      )
    }
    return this.#tokenCall(async () => {
      const response = await oauth.refreshTokenGrantRequest(
        this.#as,
        this.#client,
        this.#auth,
        refreshToken,
        {
          ...this.#options,
          additionalParameters: this.#tokenParams(scopes),
        },
      )
      const result = await oauth.processRefreshTokenResponse(this.#as, this.#client, response)
      return toTokens(result, current, this.#now)
    })
  }

  #tokenParams(scopes: readonly string[] | undefined): Record<string, string> {
    const params: Record<string, string> = { ...this.settings.extraTokenParams }
    if (scopes && scopes.length > 0) params.scope = scopes.join(' ')
    return params
  }

  async #tokenCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      // Gatehouse's own refusal from a hook (`idTokenIssuer`), or an answer over the size cap:
      // kept as it is.
      if (error instanceof OAuthError || error instanceof UpstreamError) throw error
      if (error instanceof oauth.ResponseBodyError) {
        // The IdP refused (invalid_grant, consent required ...): keep its code, not its text.
        throw new UpstreamRefusal(error.error)
      }
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        throw new UpstreamError(
          'ERR_UPSTREAM_TIMEOUT',
          'the identity provider did not answer in time',
        )
      }
      // Not chained as `cause`: oauth4webapi attaches whole token responses to its errors.
      throw new UpstreamError(
        'ERR_UPSTREAM',
        `the identity provider request failed (${errorCode(error)})`,
      )
    }
  }
}

/** The IdP answered with an OAuth error (`code` is its `error`, e.g. `invalid_grant`). */
export class UpstreamRefusal extends UpstreamError {
  readonly upstreamCode: string
  constructor(upstreamCode: string) {
    super('ERR_UPSTREAM_RESPONSE', 'the identity provider refused the request')
    this.upstreamCode = upstreamCode.replace(/[^\w.-]/g, '').slice(0, 64)
  }
}

function toTokens(
  result: oauth.TokenEndpointResponse,
  previous: UpstreamTokens | undefined,
  now: () => number,
): UpstreamTokens {
  const expiresIn = typeof result.expires_in === 'number' ? result.expires_in : undefined
  const refreshToken = result.refresh_token ?? previous?.refreshToken
  const idToken = result.id_token ?? previous?.idToken
  return {
    accessToken: result.access_token,
    ...(refreshToken !== undefined ? { refreshToken } : {}),
    ...(idToken !== undefined ? { idToken } : {}),
    ...(expiresIn !== undefined ? { expiresAt: Math.floor(now() / 1000) + expiresIn } : {}),
    ...(typeof result.scope === 'string' ? { scope: result.scope } : {}),
  }
}

/** A fixed, secret-free identifier of what went wrong (oauth4webapi codes, error class names). */
function errorCode(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return (typeof code === 'string' ? code : error.name).replace(/[^\w.-]/g, '').slice(0, 60)
  }
  return 'unknown'
}
