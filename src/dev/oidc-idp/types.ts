/**
 * The embedded OpenID provider's shared shapes (users, clients, validated settings, signing
 * algorithms), in one module so the server, its configuration and its option parsing import
 * them without importing each other.
 */
import type { ClientMetadata, Configuration } from 'oidc-provider'

/** The ID-token signing algorithms the dev IdP offers: asymmetric only, as Gatehouse accepts. */
export const DEV_IDP_SIGNING_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

/** One of {@link DEV_IDP_SIGNING_ALGORITHMS}. */
export type DevIdPSigningAlgorithm = (typeof DEV_IDP_SIGNING_ALGORITHMS)[number]

/** A user who can sign in at the dev IdP. */
export interface DevIdPUser {
  /** What the user types in the sign-in form. */
  username: string
  /** The user's password (compared in constant time; never logged). */
  password: string
  /** The `sub` claim; defaults to `username`. */
  sub?: string
  /** Released with the `email` scope, with `email_verified: true`. */
  email?: string
  /** Released with the `profile` scope (with `preferred_username`, the username). */
  name?: string
  /** Extra claims (e.g. `groups`, `tid`), released with `openid`, so in every ID token. */
  claims?: Record<string, unknown>
}

/** A statically registered client (the dev IdP has no registration endpoint). */
export interface DevIdPClient {
  clientId: string
  /** Required unless `tokenEndpointAuthMethod` is `'none'`. */
  clientSecret?: string
  /** Exact redirect URIs; at least one. */
  redirectUris: string[]
  /** Default `'client_secret_basic'` with a secret, `'none'` without. */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** Shown on the sign-in page; defaults to `clientId`. */
  clientName?: string
}

/** A user the dev IdP can sign in, with its defaults applied. */
export interface DevIdPAccount {
  username: string
  password: string
  sub: string
  email?: string
  name?: string
  claims: Record<string, unknown>
}

/** Everything `buildProviderConfiguration` (config.ts) needs, already validated. */
export interface DevIdPSettings {
  accounts: readonly DevIdPAccount[]
  clients: readonly ClientMetadata[]
  scopes: readonly string[]
  /** Claim names the users carry besides the standard ones; released with `openid`. */
  customClaims: readonly string[]
  accessTokenTtl: number
  idTokenTtl: number
  refreshTokenTtl: number
  /** Refresh tokens for every code grant, not only with `offline_access` (Cognito). */
  refreshTokenWithoutOfflineAccess: boolean
  cookieKeys: readonly string[]
  adapter: NonNullable<Configuration['adapter']>
  /** The one algorithm ID tokens and signed userinfo responses are signed with. */
  signingAlg: DevIdPSigningAlgorithm
}
