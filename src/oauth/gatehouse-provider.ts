/**
 * The store-backed implementation of the provider contract: clients, and the grants' store-backed
 * halves (`grants/`: authorization codes, rotating refresh tokens, identity assertions, client
 * credentials, and the issuance step minting RFC 9068 access tokens), to which its methods
 * delegate. The proxies extend it and replace only how the user is signed in (`authorize`).
 *
 * Stored form: codes and refresh tokens only as SHA-256; client secrets only as SHA-256.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError, type ErrorHook } from '../errors.js'
import {
  createAuthorizationCode,
  loadAuthorizationCode,
  redeemAuthorizationCode,
} from '../grants/authorization-code.js'
import { redeemClientCredentials } from '../grants/client-credentials.js'
import type { GrantContext } from '../grants/grant-handler.js'
import type { Grants, GrantRecord } from '../grants/grant-store.js'
import type { IdentityAssertionVerifier } from '../grants/identity-assertion-verifier.js'
import { redeemIdentityAssertion } from '../grants/identity-assertion.js'
import { TokenIssuer, type IssueOptions, type PreparedTokens } from '../grants/issue.js'
import { loadRefreshToken, rotateRefreshToken } from '../grants/refresh-token.js'
import type { SubjectTokenVerifier } from '../grants/subject-token.js'
import { redeemTokenExchange } from '../grants/token-exchange.js'
import type { AccessToken, TokenVerifier } from '../jwt/access-token.js'
import type { AuditSink } from '../audit-event.js'
import { commitOrConfirm } from '../storage/commit-or-confirm.js'
import type { Store } from '../storage/store.js'
import type { SigningKeys } from '../tokens/keys.js'
import { isClientIDURL } from '../contract/client-id-url.js'
import type { ClientMetadataResolver } from './client-metadata-resolver.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import { staticClients } from './static-clients.js'
import type {
  AuthorizationCode,
  AuthorizationParams,
  ClientCredentialsParams,
  IdentityAssertionParams,
  OAuthClientInformation,
  RefreshToken,
  TokenBinding,
  TokenExchangeParams,
  TokenResponse,
} from '../contract/types.js'
import { storageKey } from '../storage/keys.js'
import type { Sha256Function } from '../http/random.js'

export type { PreparedTokens } from '../grants/issue.js'

/** Who signed in: the subject and any claims to carry into the grant. */
export interface UserIdentity {
  subject: string
  claims?: Record<string, unknown>
  /** The identity provider's tokens (proxy), kept encrypted in the grant. */
  upstream?: unknown
}

/** Signs the user in for an authorization request; returns the identity or throws `OAuthError`. */
export type Authenticate = (
  client: OAuthClientInformation,
  params: AuthorizationParams,
) => Promise<UserIdentity>

export interface GatehouseProviderOptions {
  config: ResolvedConfig
  /** The (encrypted) store for clients, codes, grants and refresh tokens. */
  store: Store
  keys: SigningKeys
  /** Verifies Gatehouse's own access tokens, including grant revocation. */
  verifier: TokenVerifier
  grants: Grants
  /** How `authorize` signs the user in when no proxy replaces it. */
  authenticate?: Authenticate
  /** Sees refusals that do not become error responses (consent and callback pages). */
  onError?: ErrorHook
  now: () => number
  /** Validates SEP-990 ID-JAGs; when set, the jwt-bearer grant is enabled. */
  identityAssertions?: IdentityAssertionVerifier
  /** Verifies RFC 8693 subject and actor tokens; when set, the token-exchange grant is enabled. */
  subjectTokens?: SubjectTokenVerifier
  /** Resolves `client_id` URLs (Client ID Metadata Documents); unset: they are unknown clients. */
  clientMetadata?: ClientMetadataResolver
  /** Security events (reuse, replay; the proxy's consent and sign-in). Default none. */
  audit?: AuditSink
  /**
   * Clients Gatehouse registers for itself (the `/admin` page's sign-in), looked up like
   * configured ones: never stored, so they exist exactly while the server runs with them.
   */
  internalClients?: readonly OAuthClientInformation[]
  /**
   * SHA-256 of codes and refresh tokens: Web Crypto by default; `nodeSha256` from
   * `mcp-gatehouse/node` on Node (synchronous, no thread-pool hop).
   */
  sha256?: Sha256Function
}

/** Store-backed provider: everything but the user's sign-in, which `authenticate` or a subclass does. */
export class GatehouseProvider implements OAuthServerProvider {
  protected readonly options: GatehouseProviderOptions
  readonly grants: Grants
  /**
   * SEP-990: trades an ID-JAG for an access token (no refresh token). Present only when
   * `identityAssertion` is configured, so metadata advertises the grant exactly then.
   */
  readonly exchangeIdentityAssertion?: (
    client: OAuthClientInformation,
    params: IdentityAssertionParams,
  ) => Promise<TokenResponse>
  /** RFC 6749 §4.4 (grants/client-credentials.ts); present only when `clientCredentials.enabled`. */
  readonly exchangeClientCredentials?: (
    client: OAuthClientInformation,
    params: ClientCredentialsParams,
  ) => Promise<TokenResponse>
  /** RFC 8693 (grants/token-exchange.ts); present only when `tokenExchange.enabled`. */
  readonly exchangeToken?: (
    client: OAuthClientInformation,
    params: TokenExchangeParams,
  ) => Promise<TokenResponse>
  readonly #staticClients: ReadonlyMap<string, OAuthClientInformation>
  readonly #issuer: TokenIssuer
  /** What the grants' store-backed halves run with; issuance goes through `prepareTokens`. */
  readonly #grantContext: GrantContext

  constructor(options: GatehouseProviderOptions) {
    this.options = options
    this.grants = options.grants
    const clients = new Map(staticClients(options.config))
    for (const client of options.internalClients ?? []) clients.set(client.client_id, client)
    this.#staticClients = clients
    this.#issuer = new TokenIssuer(options)
    this.#grantContext = {
      config: options.config,
      store: options.store,
      grants: options.grants,
      now: options.now,
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.sha256 ? { sha256: options.sha256 } : {}),
      prepareTokens: (client, grantId, grant, scopes, issue) =>
        this.prepareTokens(client, grantId, grant, scopes, issue),
    }
    const assertions = options.identityAssertions
    if (assertions) {
      this.exchangeIdentityAssertion = (client, params) =>
        redeemIdentityAssertion(this.#grantContext, assertions, client, params)
    }
    if (options.config.clientCredentials.enabled) {
      this.exchangeClientCredentials = (client, params) =>
        redeemClientCredentials(this.#grantContext, client, params)
    }
    const subjectTokens = options.subjectTokens
    if (subjectTokens && options.config.tokenExchange?.enabled === true) {
      this.exchangeToken = (client, params) =>
        redeemTokenExchange(this.#grantContext, subjectTokens, client, params)
    }
  }

  /**
   * A client from configuration (`clients`), else, with `clientMetadata`, a `client_id` URL
   * resolved from its metadata document (throws `invalid_client` when the document cannot be
   * used), else a registered one.
   */
  getClient(clientId: string): Promise<OAuthClientInformation | undefined> {
    const configured = this.#staticClients.get(clientId)
    if (configured) return Promise.resolve(configured)
    const documents = this.options.clientMetadata
    if (documents && isClientIDURL(clientId)) return documents.resolve(clientId)
    return this.options.store.get<OAuthClientInformation>(storageKey.client(clientId))
  }

  async registerClient(client: OAuthClientInformation): Promise<void> {
    const stored: OAuthClientInformation = { ...client }
    delete stored.client_secret
    const key = storageKey.client(client.client_id)
    // One write. When its reply is lost the client id (128 random bits) tells whether it landed:
    // a registration that did is answered as one, so no client is left behind that nobody knows.
    await commitOrConfirm(
      this.options.store,
      { set: [{ key, value: stored }] },
      async () => (await this.options.store.get(key)) !== undefined,
    )
  }

  /** Signs the user in through `authenticate` and returns the client's redirect with a code. */
  async authorize(client: OAuthClientInformation, params: AuthorizationParams): Promise<string> {
    if (!this.options.authenticate) {
      throw new OAuthError('access_denied', 'no sign-in method is configured', {
        reason: 'no_authenticator',
      })
    }
    const identity = await this.options.authenticate(client, params)
    return this.completeAuthorization(client, params, identity)
  }

  /**
   * Issues an authorization code (256 bits, single use, `authorizationCodeTtlSeconds`) for a
   * signed-in user and returns the client's redirect URI carrying `code`, `state` and `iss`.
   */
  async completeAuthorization(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    const code = await this.issueCode(client, params, identity)
    return authorizationResponseURL(params.redirectUri, this.options.config.issuer, {
      code,
      ...(params.state !== undefined ? { state: params.state } : {}),
    })
  }

  /** Stores a new authorization code for the signed-in user and returns it. */
  issueCode(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    return createAuthorizationCode(this.#grantContext, client, params, identity)
  }

  loadAuthorizationCode(
    _client: OAuthClientInformation,
    authorizationCode: string,
  ): Promise<AuthorizationCode | undefined> {
    return loadAuthorizationCode(this.#grantContext, authorizationCode)
  }

  /**
   * Redeems the code once (grants/authorization-code.ts); a replay revokes its grant. `binding`:
   * the DPoP key the tokens are bound to (RFC 9449).
   */
  exchangeAuthorizationCode(
    client: OAuthClientInformation,
    authorizationCode: string,
    code: AuthorizationCode,
    binding: TokenBinding = {},
  ): Promise<TokenResponse> {
    return redeemAuthorizationCode(this.#grantContext, client, authorizationCode, code, binding)
  }

  loadRefreshToken(
    _client: OAuthClientInformation,
    refreshToken: string,
  ): Promise<RefreshToken | undefined> {
    return loadRefreshToken(this.#grantContext, refreshToken)
  }

  /**
   * Rotates the refresh token (grants/refresh-token.ts); reuse revokes the grant. `binding` as for
   * `exchangeAuthorizationCode`.
   */
  exchangeRefreshToken(
    client: OAuthClientInformation,
    refreshToken: string,
    record: RefreshToken,
    scopes: string[],
    binding: TokenBinding = {},
  ): Promise<TokenResponse> {
    return rotateRefreshToken(this.#grantContext, client, refreshToken, record, scopes, binding)
  }

  loadAccessToken(token: string): Promise<AccessToken | undefined> {
    return this.options.verifier.verifyToken(token)
  }

  /** Revokes the grant of a refresh or access token the client owns; anything else is ignored. */
  async revokeToken(client: OAuthClientInformation, token: string): Promise<void> {
    const refresh = await this.loadRefreshToken(client, token)
    if (refresh) {
      if (refresh.clientId === client.client_id) await this.grants.revoke(refresh.grantId)
      return
    }
    const access = await this.options.verifier.verifyToken(token)
    if (access?.grantId !== undefined && access.clientId === client.client_id) {
      await this.grants.revoke(access.grantId)
    }
  }

  /**
   * Mints an access token for the grant (narrowed to `scopes`) and, when the client registered the
   * `refresh_token` grant, a new refresh token carrying the grant's full scope; stores the refresh
   * token. Callers that change other records in the same exchange use {@link prepareTokens} and
   * one `Store.commit` instead.
   */
  async issueTokens(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: IssueOptions = {},
  ): Promise<TokenResponse> {
    const issued = await this.prepareTokens(client, grantId, grant, scopes, options)
    await this.options.store.commit({ set: issued.writes })
    return issued.response
  }

  /**
   * {@link issueTokens} without writing anything: the response, and the writes (the refresh
   * token's record) that must be applied, atomically with the rest of the exchange, before the
   * response may be sent. Reads the key set when it may have rotated elsewhere.
   */
  prepareTokens(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: IssueOptions = {},
  ): Promise<PreparedTokens> {
    return this.#issuer.prepare(client, grantId, grant, scopes, options)
  }
}

/** The client's redirect URI with response parameters and RFC 9207 `iss` appended. */
export function authorizationResponseURL(
  redirectUri: string,
  issuer: string,
  params: Record<string, string>,
): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v)
  url.searchParams.append('iss', issuer)
  return url.href
}
