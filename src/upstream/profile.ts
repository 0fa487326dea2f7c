/**
 * The provider profile: everything the OAuth proxy (`OAuthProxy`) needs to know about one identity
 * provider, and nothing about any provider in particular. A profile says
 * - how to reach the IdP: `upstream`, the client built from its discovery document or configured
 *   endpoints, and `redirectPath`, Gatehouse's callback;
 * - how scopes map: `scopes.authorize` / `scopes.token` / `scopes.refresh`, and `grantedScopes`
 *   (what Gatehouse's code may carry after the IdP answered);
 * - how the user is identified: `identify` turns the IdP's answer into a subject and claims;
 * - which upstream tokens are kept: `keepTokens` (after sign-in and every refresh);
 * - optional capabilities: `onBehalfOf` (a downstream token for the signed-in user) and
 *   `accessTokenVerifier` (the IdP's access tokens for this API, for a resource server that trusts
 *   the IdP directly).
 * Profiles are made by the builders in `src/providers/<kind>/`, chosen by `upstream.kind` in
 * `src/providers/registry.ts`. `ProfileContext` is what a builder gets.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import type { VerifierObserver } from '../jwt/observer.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { UserIdentity } from '../oauth/gatehouse-provider.js'
import type { TokenVerifier } from '../jwt/access-token.js'
import type { UpstreamClient, UpstreamTokens } from './upstream-client.js'

/** Who signed in, as the profile reports it (the provider contract's user). */
export type { UserIdentity }

/** The IdP's answer at the callback: its tokens and, for OpenID providers, the ID token's claims. */
export interface UpstreamResult {
  tokens: UpstreamTokens
  idTokenClaims?: Record<string, unknown>
}

/** How the MCP client's scopes become the IdP's, per leg. */
export interface ScopeMapping {
  /** The scopes sent to the IdP's authorization endpoint for a client's request. */
  authorize(clientScopes: readonly string[]): readonly string[]
  /** The scopes sent with the code exchange (default: `authorize`'s). */
  token?(clientScopes: readonly string[]): readonly string[]
  /** The scopes sent with an upstream refresh of a grant (default: none, the IdP keeps them). */
  refresh?(grantScopes: readonly string[]): readonly string[] | undefined
}

/**
 * On-Behalf-Of: a token for a downstream API with `scopes`, for the user whose IdP access token
 * `userToken` yields (it refreshes that token first when it is about to expire, and throws
 * `OAuthError('invalid_token')` when the sign-in has ended).
 */
export type OnBehalfOf = (
  userToken: () => Promise<string>,
  scopes: readonly string[],
) => Promise<string>

/** What a profile may offer beyond signing users in. */
export interface ProviderCapabilities {
  onBehalfOf?: OnBehalfOf
  /** Verifies the IdP's access tokens for this API (its tenant, audience and scope rules). */
  accessTokenVerifier?: TokenVerifier
}

export interface ProviderProfile {
  /** The `upstream.kind` the profile was built for (`oidc`, `oauth`, `azure` …). */
  readonly kind: string
  /** The leg to the IdP: endpoints, client authentication, ID-token rules. */
  readonly upstream: UpstreamClient
  /** Path of the IdP callback under the issuer. */
  readonly redirectPath: string
  readonly scopes: ScopeMapping
  /** The user behind the IdP's answer; throws `OAuthError('access_denied')` when unproven. */
  identify(result: UpstreamResult): Promise<UserIdentity>
  /**
   * The scopes Gatehouse's code may carry, of those the client asked for, once the IdP has said
   * who signed in (default: all of them). Throws `OAuthError` to refuse the sign-in.
   */
  grantedScopes?(requested: readonly string[], identity: UserIdentity): readonly string[]
  /** What is kept of the IdP's tokens in the grant, after sign-in and every refresh (default: all). */
  keepTokens?(tokens: UpstreamTokens): UpstreamTokens
  readonly capabilities?: ProviderCapabilities
  /** Releases what the profile holds in memory (caches); `gatehouse.close()` calls it. */
  close?(): void
}

/** What a profile builder may use besides the configuration. */
export interface ProviderDeps {
  fetch?: typeof fetch
  /** Checks resolved addresses of the IdP's URLs (see `createGuardedFetch`). */
  transport?: GuardedTransport
  signatureVerifier?: SignatureVerifierFactory
  /** Configurations that work but may not do what was meant (default `console.warn`). */
  onWarning?: (message: string) => void
  /** Told about key loads of the IdP's JWKS (metrics). */
  observer?: VerifierObserver
}

/** A builder's input: the resolved configuration, its `upstream` member and the clock. */
export interface ProfileContext<U> {
  config: ResolvedConfig
  upstream: U
  now: () => number
  deps: ProviderDeps
}

/** Turns the IdP's answer into a user. */
export type ResolveIdentity = (result: UpstreamResult) => Promise<UserIdentity>

/** Claims of a verified IdP token carried into the grant by `verifiedIdentity`. */
const KEPT_CLAIMS = [
  'email',
  'email_verified',
  'name',
  'preferred_username',
  'roles',
  'groups',
  'tid',
  'oid',
]

/**
 * The generic way to identify the user: the IdP's ID token (or, without one, its access token)
 * verified by `verifier`; its `sub` is the subject, `upstream_iss` and a few profile claims are kept.
 */
export function verifiedIdentity(verifier: TokenVerifier | undefined): ResolveIdentity {
  return async (result) => {
    const token = result.tokens.idToken ?? result.tokens.accessToken
    const verified = await verifier?.verifyToken(token)
    if (!verified?.subject) {
      throw new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
        reason: 'upstream_token_unverified',
      })
    }
    const claims: Record<string, unknown> = { upstream_iss: verified.issuer }
    for (const k of KEPT_CLAIMS) {
      if (verified.claims[k] !== undefined) claims[k] = verified.claims[k]
    }
    return { subject: verified.subject, claims, upstream: result.tokens }
  }
}

/** What a generic profile is made of (also the `OAuthProxy` options before profiles). */
export interface GenericProfileOptions {
  kind: string
  upstream: UpstreamClient
  redirectPath: string
  /** Scopes Gatehouse asks the IdP for; `mapScopes` may add some derived from the client's request. */
  upstreamScopes: readonly string[]
  mapScopes?: (clientScopes: readonly string[]) => readonly string[]
  /** Verifies the IdP's ID token (OIDC) or access token; its `subject` becomes the user. */
  upstreamVerifier?: TokenVerifier
  /** Replaces the verifier-based identification. */
  resolveIdentity?: ResolveIdentity
}

/** A profile with no quirks: fixed scopes (plus mapped ones), user from a verified token. */
export function genericProfile(options: GenericProfileOptions): ProviderProfile {
  return {
    kind: options.kind,
    upstream: options.upstream,
    redirectPath: options.redirectPath,
    scopes: {
      authorize: (clientScopes) => {
        const mapped = options.mapScopes?.(clientScopes) ?? []
        return [...new Set([...options.upstreamScopes, ...mapped])]
      },
    },
    identify: options.resolveIdentity ?? verifiedIdentity(options.upstreamVerifier),
  }
}
