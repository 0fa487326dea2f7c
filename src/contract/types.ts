/**
 * Wire-shaped OAuth records shared by the endpoints and the provider contract. Field names follow
 * RFC 7591 (client metadata) and RFC 6749 (token responses), so they stay snake_case.
 */

export type TokenEndpointAuthMethod =
  'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'

/** Client metadata as registered (RFC 7591 §2) plus what the server issued (§3.2.1). */
export interface OAuthClientInformation {
  client_id: string
  /** Plain secret: only on the registration response, never stored. */
  client_secret?: string
  /** SHA-256 (base64url) of the client secret, as stored. */
  client_secret_hash?: string
  client_id_issued_at?: number
  client_secret_expires_at?: number
  redirect_uris: string[]
  token_endpoint_auth_method: TokenEndpointAuthMethod
  grant_types: string[]
  response_types: string[]
  application_type?: 'web' | 'native'
  client_name?: string
  client_uri?: string
  logo_uri?: string
  tos_uri?: string
  policy_uri?: string
  contacts?: string[]
  scope?: string
  software_id?: string
  software_version?: string
  jwks_uri?: string
  jwks?: { keys: unknown[] }
  /** RFC 9449 §5.2: the client always uses DPoP; a token request without a proof is refused. */
  dpop_bound_access_tokens?: boolean
  /**
   * Set on a client resolved from its Client ID Metadata Document: a hash of the document's
   * redirect URIs and keys. Codes, grants and consent are bound to it; a change voids them.
   */
  metadata_document_fingerprint?: string
}

/** A validated authorization request, handed to `OAuthServerProvider.authorize`. */
export interface AuthorizationParams {
  state?: string
  scopes: string[]
  codeChallenge: string
  redirectUri: string
  /** Whether the client named the redirect URI (it must then be repeated at the token endpoint). */
  redirectUriProvidedExplicitly: boolean
  /** The canonical resource (RFC 8707) the tokens will be for. */
  resource: string
  /** RFC 9449 §10 `dpop_jkt`: the code may be redeemed only with a DPoP proof of this key. */
  dpopJkt?: string
}

/** What the server remembers about an authorization code until it is redeemed. */
export interface AuthorizationCode {
  clientId: string
  redirectUri: string
  redirectUriProvidedExplicitly: boolean
  codeChallenge: string
  scopes: string[]
  resource: string
  subject: string
  /** Seconds since the epoch. */
  expiresAt: number
  /** Set when the code was already redeemed: a valid replay revokes this grant. */
  redeemedGrantId?: string
  claims?: Record<string, unknown>
  /** The identity provider's tokens (proxy), carried into the grant. */
  upstream?: unknown
  /** The client's `metadata_document_fingerprint` when the code was issued (CIMD clients). */
  clientFingerprint?: string
  /** RFC 9449 §10: the key (`dpop_jkt`) whose DPoP proof must accompany the redemption. */
  dpopJkt?: string
}

/** What the server remembers about a refresh token. */
export interface RefreshToken {
  clientId: string
  grantId: string
  scopes: string[]
  resource: string
  /** Seconds since the epoch. */
  expiresAt: number
  /** Set when this token was already rotated: presenting it again revokes the grant. */
  rotated?: boolean
  /** RFC 9449 §5: a public client's token issued with a DPoP proof is used only with that key. */
  dpopJkt?: string
}

/**
 * How the tokens of one exchange are bound (RFC 9449): `dpopJkt` is the thumbprint of the key of
 * the request's verified DPoP proof; absent, bearer tokens.
 */
export interface TokenBinding {
  dpopJkt?: string
}

/** RFC 6749 §5.1 token response. */
export interface TokenResponse {
  access_token: string
  /** `DPoP` when the access token is bound to a DPoP key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  scope?: string
  refresh_token?: string
  /** The resource the token is for, when the grant decided it (SEP-990 ID-JAG). */
  resource?: string
  /** RFC 8693 §2.2.1: the type of the token issued by a token exchange. */
  issued_token_type?: string
}

/** A parsed RFC 8693 token-exchange request (§2.1); the tokens are not yet verified. */
export interface TokenExchangeParams {
  subjectToken: string
  subjectTokenType: string
  actorToken?: string
  actorTokenType?: string
  /** `resource` (RFC 8707) and `audience` (RFC 8693), each at most once. */
  resource?: string
  audience?: string
  /** Scopes the client asked for; they can only narrow what the subject token carries. */
  scopes: string[]
  /** `requested_token_type`, when sent. */
  requestedTokenType?: string
  /** RFC 9449: the thumbprint of the request's DPoP proof key; the issued token is bound to it. */
  dpopJkt?: string
}

/** A validated SEP-990 identity-assertion (RFC 7523 jwt-bearer) request. */
export interface IdentityAssertionParams {
  /** The ID-JAG, a signed JWT issued by the enterprise identity provider. */
  assertion: string
  /** Scopes the client asked for; they can only narrow what the assertion grants. */
  scopes: string[]
  /** The `resource` parameter, if sent; the ID-JAG's own `resource` claim decides the audience. */
  resource?: string
  /** The request's DPoP key thumbprint (RFC 9449): the access token is bound to it. */
  dpopJkt?: string
}

/** A client credentials (RFC 6749 §4.4) request from an authenticated client. */
export interface ClientCredentialsParams {
  /** Scopes the client asked for; empty: the ones it is allowed by default. */
  scopes: string[]
  /** The `resource` parameter (RFC 8707), if sent; default: the first configured resource. */
  resource?: string
  /** The request's DPoP key thumbprint (RFC 9449): the access token is bound to it. */
  dpopJkt?: string
}
