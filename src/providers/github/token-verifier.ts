/**
 * `GitHubTokenVerifier`: GitHub's opaque user tokens as bearer tokens (the profile's
 * `accessTokenVerifier`, for a resource server that accepts GitHub tokens directly, or to check
 * an `idp-token` before use). GitHub has no introspection endpoint and its tokens are not JWTs, so
 * a token is verified by calling GitHub:
 * - `POST /applications/{client_id}/token` ("check a token", authenticated as the app): the token
 *   must be a live token **of this app** (a token another app obtained for the same user is
 *   refused: `GET /user` alone would accept it), and gives its user and scopes;
 * - then the profile's own rules with the token (`resolveGitHubIdentity`: organization and team
 *   rules, team roles, verified email), so a token passes only for a user who may sign in.
 * Valid answers are kept in a short cache (default 60 s, never past the token's expiry), so a
 * resent token costs no round trip; refusals are not cached. Concurrent checks of one token share
 * one call. A GitHub outage rejects (`UpstreamError`), never reads as valid.
 */
import { OAuthError } from '../../errors.js'
import type { AccessToken, TokenVerifier } from '../../jwt/access-token.js'
import { VerifiedTokenCache } from '../../jwt/verified-token-cache.js'
import type { GitHubAPI } from './api.js'
import { resolveGitHubIdentity, type GitHubRules } from './identity.js'

export interface GitHubTokenVerifierOptions {
  api: GitHubAPI
  clientId: string
  clientSecret: string
  rules: GitHubRules
  /** GitHub's address, the issuer of the identities (`upstream_iss`). */
  issuer: string
  /** Clock in ms. */
  now: () => number
  /** How long a valid answer is kept (default 60 s; 0: no cache). */
  cacheTtlSeconds?: number
  maxEntries?: number
}

export const GITHUB_TOKEN_CACHE_SECONDS = 60

export class GitHubTokenVerifier implements TokenVerifier {
  readonly #options: GitHubTokenVerifierOptions
  readonly #cache: VerifiedTokenCache
  readonly #ttlMs: number
  readonly #inflight = new Map<string, Promise<AccessToken | undefined>>()

  constructor(options: GitHubTokenVerifierOptions) {
    const ttl = options.cacheTtlSeconds ?? GITHUB_TOKEN_CACHE_SECONDS
    if (!(ttl >= 0)) throw new TypeError('cacheTtlSeconds must not be negative')
    this.#options = options
    this.#ttlMs = ttl * 1000
    this.#cache = new VerifiedTokenCache(
      options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries },
    )
  }

  verifyToken(token: string): Promise<AccessToken | undefined> {
    const nowMs = this.#options.now()
    const hit = this.#cache.get(token, nowMs)
    if (hit !== undefined) return Promise.resolve(hit)
    const pending = this.#inflight.get(token)
    if (pending !== undefined) return pending
    const check = this.#check(token).finally(() => this.#inflight.delete(token))
    this.#inflight.set(token, check)
    return check
  }

  async #check(token: string): Promise<AccessToken | undefined> {
    const o = this.#options
    // GitHub tokens are short ASCII strings; anything else is not worth a call.
    if (token.length === 0 || token.length > 512 || !/^[\x21-\x7e]+$/.test(token)) return undefined
    const checked = await o.api.checkToken(o.clientId, o.clientSecret, token)
    if (checked === undefined) return undefined
    let identity
    try {
      identity = await resolveGitHubIdentity(o.api, token, o.rules, o.issuer)
    } catch (error) {
      if (error instanceof OAuthError) return undefined
      throw error
    }
    if (identity.subject !== String(checked.userId)) return undefined
    const roles = identity.claims.roles
    const verified: AccessToken = {
      token,
      clientId: o.clientId,
      scopes: checked.scopes,
      subject: identity.subject,
      issuer: o.issuer,
      ...(checked.expiresAt !== undefined ? { expiresAt: checked.expiresAt } : {}),
      ...(Array.isArray(roles) ? { roles: roles as string[] } : {}),
      upstream: { issuer: o.issuer, subject: identity.subject },
      claims: { ...identity.claims, sub: identity.subject },
    }
    const nowMs = o.now()
    const until = Math.min(
      nowMs + this.#ttlMs,
      checked.expiresAt === undefined ? Infinity : checked.expiresAt * 1000,
    )
    this.#cache.set(token, verified, until, nowMs)
    return verified
  }
}
