/**
 * `StaticTokenVerifier`: fixed bearer tokens for development and tests, refused by default outside
 * a loopback issuer so it cannot slip into production by accident.
 */

import { isLoopbackHost } from '../config/urls.js'
import type { AccessToken, TokenCheck, TokenVerifier } from './access-token.js'
import { encodeBase64URL } from './base64url.js'

/** Options of `StaticTokenVerifier`. */
export interface StaticTokenVerifierOptions {
  /** Token string → what it grants (`issuer` defaults to the option below). */
  tokens: Record<string, Omit<AccessToken, 'token'>>
  /** The issuer these tokens belong to; must be a loopback URL unless explicitly allowed. */
  issuer: string
  /** Accept a non-loopback issuer (a shared test environment). Default false. */
  dangerouslyAllowNonLoopback?: boolean
  /**
   * Scopes every token must carry: a known token without them is `insufficient_scope` (403 at the
   * guard), as with the other verifiers. Default none.
   */
  requiredScopes?: string[]
  /** Clock in ms for `expiresAt`; default `Date.now`. */
  now?: () => number
}

/**
 * Verifies tokens against a fixed table, for development only.
 *
 * The table is keyed by SHA-256 of each token, and a presented token is hashed before the
 * lookup, so lookup time does not depend on how much of a secret token matched. A token whose
 * `expiresAt` (seconds) has passed is refused; one without every `requiredScopes` entry is
 * `insufficient_scope`. Not checked: anything else (no audience check: the table is the policy).
 *
 * @throws {TypeError} at construction when `issuer` is not an http(s) URL on a loopback host
 *   (127.0.0.0/8, `[::1]`, `localhost`) and `dangerouslyAllowNonLoopback` is not set, or when a
 *   token is empty.
 */
export class StaticTokenVerifier implements TokenVerifier {
  readonly #table: Promise<Map<string, Omit<AccessToken, 'token'>>>
  readonly #issuer: string
  readonly #now: () => number
  readonly #requiredScopes: readonly string[]

  constructor(options: StaticTokenVerifierOptions) {
    let url: URL
    try {
      url = new URL(options.issuer)
    } catch {
      throw new TypeError('issuer must be a URL')
    }
    const local =
      (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname)
    if (!local && options.dangerouslyAllowNonLoopback !== true) {
      throw new TypeError(
        'StaticTokenVerifier is for development: the issuer must be a loopback URL ' +
          '(set dangerouslyAllowNonLoopback to override)',
      )
    }
    const entries = Object.entries(options.tokens)
    if (entries.some(([token]) => token === '')) throw new TypeError('tokens must not be empty')
    this.#issuer = options.issuer
    this.#now = options.now ?? Date.now
    this.#requiredScopes = [...(options.requiredScopes ?? [])]
    this.#table = Promise.all(
      entries.map(async ([token, info]) => [await hashToken(token), freezeInfo(info)] as const),
    ).then((pairs) => new Map(pairs))
  }

  /** The configured grant for this token, or `undefined` when unknown, expired or insufficient. */
  async verifyToken(token: string): Promise<AccessToken | undefined> {
    const check = await this.checkToken(token)
    return check.status === 'valid' ? check.token : undefined
  }

  /** The token's `TokenCheck`: unknown and expired tokens are `invalid`. */
  async checkToken(token: string): Promise<TokenCheck> {
    const [table, hash] = await Promise.all([this.#table, hashToken(token)])
    const info = table.get(hash)
    if (info === undefined) return { status: 'invalid', reason: 'unknown_token' }
    if (info.expiresAt !== undefined && info.expiresAt * 1000 <= this.#now()) {
      return { status: 'invalid', reason: 'expired' }
    }
    const verified: AccessToken = Object.freeze({ issuer: this.#issuer, ...info, token })
    if (this.#requiredScopes.some((scope) => !info.scopes.includes(scope))) {
      return { status: 'insufficient_scope', token: verified, scopes: this.#requiredScopes }
    }
    return { status: 'valid', token: verified }
  }
}

async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return encodeBase64URL(new Uint8Array(digest))
}

function freezeInfo(info: Omit<AccessToken, 'token'>): Omit<AccessToken, 'token'> {
  return Object.freeze({
    ...info,
    scopes: Object.freeze([...info.scopes]) as string[],
    ...(info.roles === undefined ? {} : { roles: Object.freeze([...info.roles]) as string[] }),
    claims: Object.freeze({ ...info.claims }),
  })
}
