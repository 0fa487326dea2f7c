/**
 * What every grant shares: the handler contract the token endpoint dispatches to (one handler per
 * `grant_type`, see `index.ts`), and the store-backed context in which `GatehouseProvider`'s
 * redemptions run.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { sha256, type Sha256Function } from '../http/random.js'
import type { OAuthServerProvider } from '../contract/provider.js'
import type { OAuthClientInformation, TokenBinding, TokenResponse } from '../contract/types.js'
import type { AuditSink } from '../audit-event.js'
import type { Store } from '../storage/store.js'
import type { Grants } from './grant-store.js'
import type { PrepareTokens } from './issue.js'

/**
 * What a handler may use: the configuration, the provider that redeems, the clock, and how the
 * request's tokens are bound.
 */
export interface GrantHandlerDeps {
  config: ResolvedConfig
  provider: OAuthServerProvider
  now: () => number
  /**
   * RFC 9449: the key of the request's DPoP proof, which the endpoint checked before dispatching
   * (`checkTokenRequestProof`); empty when no proof was sent (bearer tokens).
   */
  binding: TokenBinding
  /** SHA-256 for PKCE; default Web Crypto (`http/random.ts`). */
  sha256?: Sha256Function
}

/**
 * One grant type at the token endpoint. The endpoint has parsed the body, authenticated the
 * client and checked that the client registered the grant type; the handler checks the grant's
 * own parameters, all before anything is redeemed (OAuth 2.1 §7.5.3), then asks the provider.
 */
export interface GrantHandler {
  /** Whether the provider offers the grant; when not, the endpoint answers `unsupported_grant_type`. */
  offered(provider: OAuthServerProvider): boolean
  handle(
    form: Params,
    client: OAuthClientInformation,
    deps: GrantHandlerDeps,
  ): Promise<TokenResponse>
}

/** The store-backed context of a redemption (`GatehouseProvider` passes its own). */
export interface GrantContext {
  config: ResolvedConfig
  /** The (encrypted) store for codes, grants and refresh tokens. */
  store: Store
  grants: Grants
  now: () => number
  /** Security events (reuse, replay). */
  audit?: AuditSink
  /** The issuance step (`issue.ts`), through the provider so that a subclass's override holds. */
  prepareTokens: PrepareTokens
  /** SHA-256 of codes and refresh tokens; default Web Crypto (`http/random.ts`). */
  sha256?: Sha256Function
}

/** The form parameter `name`; absent: `invalid_request` naming it. */
export function requiredParam(form: Params, name: string): string {
  const value = form.get(name)
  if (value === undefined) {
    throw new OAuthError('invalid_request', `${name} is required`, { reason: `no_${name}` })
  }
  return value
}

/** The SHA-256 (base64url) of `text` the context computes with. */
export async function hashOf(context: { sha256?: Sha256Function }, text: string): Promise<string> {
  return (context.sha256 ?? sha256)(text)
}

/** The context's clock in seconds since the epoch. */
export function nowSeconds(context: Pick<GrantContext, 'now'>): number {
  return Math.floor(context.now() / 1000)
}
