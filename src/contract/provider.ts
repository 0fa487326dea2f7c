/**
 * The provider contract of the MCP SDKs (seed 004), in TypeScript. The authorization-server
 * endpoints validate the protocol (client authentication, redirect URIs, PKCE, resource) and call a
 * provider for everything that needs state or a user. `GatehouseProvider` is the store-backed
 * implementation; the OAuth and OIDC proxies build on it.
 */
import { OAuthError } from '../errors.js'
import type { AccessToken, TokenVerifier } from '../jwt/access-token.js'
import type {
  AuthorizationCode,
  AuthorizationParams,
  ClientCredentialsParams,
  IdentityAssertionParams,
  TokenExchangeParams,
  OAuthClientInformation,
  RefreshToken,
  TokenBinding,
  TokenResponse,
} from './types.js'

export interface OAuthServerProvider {
  /** The client, or `undefined` when unknown. */
  getClient(clientId: string): Promise<OAuthClientInformation | undefined>
  /** Saves a client the registration endpoint validated. */
  registerClient(client: OAuthClientInformation): Promise<void>
  /**
   * Handles a validated authorization request and returns the URL the user agent goes to next
   * (a consent page, the upstream IdP, or the client's redirect URI with a code).
   * Codes must carry at least 160 bits of entropy.
   */
  authorize(client: OAuthClientInformation, params: AuthorizationParams): Promise<string>
  /** The code's record, or `undefined`. A redeemed code's record has `redeemedGrantId` set. */
  loadAuthorizationCode(
    client: OAuthClientInformation,
    authorizationCode: string,
  ): Promise<AuthorizationCode | undefined>
  /**
   * Redeems a code the endpoint already checked (client, redirect URI, PKCE, expiry). Must be
   * single use through one atomic store operation; a redeemed code throws `invalid_grant` and
   * revokes the grant issued from it. `binding` (RFC 9449 DPoP) says which key the tokens are
   * bound to; a provider that ignores it issues bearer tokens.
   */
  exchangeAuthorizationCode(
    client: OAuthClientInformation,
    authorizationCode: string,
    code: AuthorizationCode,
    binding?: TokenBinding,
  ): Promise<TokenResponse>
  /** The refresh token's record, or `undefined`. A rotated token's record has `rotated` set. */
  loadRefreshToken(
    client: OAuthClientInformation,
    refreshToken: string,
  ): Promise<RefreshToken | undefined>
  /**
   * Rotates the refresh token; a rotated token presented again revokes the grant. `binding` as for
   * `exchangeAuthorizationCode` (the endpoint has checked a bound token's key already).
   */
  exchangeRefreshToken(
    client: OAuthClientInformation,
    refreshToken: string,
    record: RefreshToken,
    scopes: string[],
    binding?: TokenBinding,
  ): Promise<TokenResponse>
  /** The verified access token, or `undefined` if it is invalid, expired or revoked. */
  loadAccessToken(token: string): Promise<AccessToken | undefined>
  /** Revokes the token and the grant it belongs to; unknown tokens are ignored (RFC 7009 §2.2). */
  revokeToken(client: OAuthClientInformation, token: string): Promise<void>
  /** SEP-990: trades an ID-JAG for an access token. Default: `unsupported_grant_type`. */
  exchangeIdentityAssertion?(
    client: OAuthClientInformation,
    params: IdentityAssertionParams,
  ): Promise<TokenResponse>
  /**
   * RFC 6749 §4.4: a token for the authenticated confidential client itself (no refresh token).
   * Absent: the grant is not enabled (`unsupported_grant_type`, and not advertised).
   */
  exchangeClientCredentials?(
    client: OAuthClientInformation,
    params: ClientCredentialsParams,
  ): Promise<TokenResponse>
  /**
   * RFC 8693 token exchange (grants/token-exchange.ts). Absent: the grant is not enabled
   * (`unsupported_grant_type`, and not advertised).
   */
  exchangeToken?(
    client: OAuthClientInformation,
    params: TokenExchangeParams,
  ): Promise<TokenResponse>
}

/** The default for providers that do not implement the identity-assertion grant. */
export function exchangeIdentityAssertionUnsupported(): Promise<TokenResponse> {
  return Promise.reject(
    new OAuthError('unsupported_grant_type', 'the jwt-bearer grant is not enabled', {
      reason: 'id_jag_disabled',
    }),
  )
}

/** A `TokenVerifier` that asks the provider (`loadAccessToken`). */
export class ProviderTokenVerifier implements TokenVerifier {
  readonly #provider: Pick<OAuthServerProvider, 'loadAccessToken'>
  constructor(provider: Pick<OAuthServerProvider, 'loadAccessToken'>) {
    this.#provider = provider
  }
  verifyToken(token: string): Promise<AccessToken | undefined> {
    return this.#provider.loadAccessToken(token)
  }
}
