/**
 * `IntrospectionTokenVerifier`: checks opaque (or any) access tokens by asking the authorization
 * server (RFC 7662), with a short bounded cache so a resent token does not cost a round trip.
 */

import { OAuthError, UpstreamError } from '../errors.js'
import { createGuardedFetch } from '../http/guarded-fetch.js'
import type { GuardedFetch, GuardedTransport } from '../http/guarded-fetch.js'
import type { AccessToken, TokenCheck, TokenVerifier } from './access-token.js'
import { DEFAULT_MAX_TOKEN_BYTES } from './jws.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

/** Options of `IntrospectionTokenVerifier`. */
export interface IntrospectionTokenVerifierOptions {
  /** The authorization server's introspection endpoint. */
  introspectionUrl: string
  /** This resource server's client credentials at the authorization server. */
  clientId: string
  clientSecret: string
  /** How the credentials are sent (RFC 6749 §2.3.1). Default `client_secret_basic`. */
  clientAuthMethod?: 'client_secret_basic' | 'client_secret_post'
  /** Scopes every token must carry. */
  requiredScopes?: string[]
  /** When set, the response's `aud` must contain one of these. */
  audience?: string | string[]
  /** When set, a response `iss` must equal it; it is also the `issuer` reported when none is sent. */
  issuer?: string
  /** Cache of active answers: default on, 10 000 entries, each at most `maxTtlSeconds` (60). */
  cache?: false | { maxEntries?: number; maxTtlSeconds?: number }
  /** Fetch limits and overrides, passed to the guarded fetch. */
  fetch?: typeof fetch
  /** Connection layer that checks resolved addresses and pins them (see `createGuardedFetch`). */
  transport?: GuardedTransport
  timeoutMs?: number
  allowHttpLoopback?: boolean
  dangerouslyAllowPrivateNetwork?: boolean
  /** Clock in ms; default `Date.now`. */
  now?: () => number
}

/** An active token, or why not (with the token when only a required scope is missing). */
type Outcome = AccessToken | { readonly reason: string; readonly token?: AccessToken }

/**
 * Verifies tokens through RFC 7662 introspection.
 *
 * Rules: the token is POSTed (`token`, `token_type_hint=access_token`) with client
 * authentication; a status other than 200 or a non-JSON body is an `UpstreamError` (the server
 * could not answer, which is not the token's fault); `active` must be exactly `true`; `exp`, when
 * sent, must be a number in the future; `scope` must be a string; `aud`/`iss` are checked when
 * configured; required scopes must be present. Active answers are cached until the token's `exp`
 * and at most `maxTtlSeconds` (so revocation is seen within that time); inactive answers are not
 * cached. Concurrent checks of one token share one request. Tokens over 16 KiB are refused
 * without a request.
 *
 * @throws {TypeError} at construction for an invalid configuration.
 */
export class IntrospectionTokenVerifier implements TokenVerifier {
  readonly #options: IntrospectionTokenVerifierOptions
  readonly #fetch: GuardedFetch
  readonly #now: () => number
  readonly #audiences: ReadonlySet<string> | undefined
  readonly #cache: VerifiedTokenCache | undefined
  readonly #cacheTtlMs: number
  readonly #inflight = new Map<string, Promise<Outcome>>()

  constructor(options: IntrospectionTokenVerifierOptions) {
    if (options.clientId === '' || options.clientSecret === '') {
      throw new TypeError('clientId and clientSecret are required')
    }
    try {
      new URL(options.introspectionUrl)
    } catch {
      throw new TypeError('introspectionUrl is not a valid URL')
    }
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#fetch = createGuardedFetch({
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      allowHttpLoopback: options.allowHttpLoopback === true,
      dangerouslyAllowPrivateNetwork: options.dangerouslyAllowPrivateNetwork === true,
    })
    const { audience } = options
    this.#audiences =
      audience === undefined
        ? undefined
        : new Set(typeof audience === 'string' ? [audience] : audience)
    const cache = options.cache ?? {}
    this.#cache =
      cache === false
        ? undefined
        : new VerifiedTokenCache(
            cache.maxEntries === undefined ? {} : { maxEntries: cache.maxEntries },
          )
    const maxTtlSeconds = cache === false ? 0 : (cache.maxTtlSeconds ?? 60)
    if (!(maxTtlSeconds >= 0)) throw new TypeError('cache.maxTtlSeconds must not be negative')
    this.#cacheTtlMs = maxTtlSeconds * 1000
  }

  /** The token if the authorization server says it is active and it passes the rules, else `undefined`. */
  async verifyToken(token: string): Promise<AccessToken | undefined> {
    const outcome = await this.#check(token)
    return 'reason' in outcome ? undefined : outcome
  }

  /**
   * The token's `TokenCheck`: `insufficient_scope` (naming `requiredScopes`) for an active token
   * that passes every rule but the required scopes.
   *
   * @throws {UpstreamError} when the authorization server cannot answer.
   */
  async checkToken(token: string): Promise<TokenCheck> {
    const outcome = await this.#check(token)
    if (!('reason' in outcome)) return { status: 'valid', token: outcome }
    if (outcome.reason === 'insufficient_scope' && outcome.token !== undefined) {
      return {
        status: 'insufficient_scope',
        token: outcome.token,
        scopes: [...(this.#options.requiredScopes ?? [])],
      }
    }
    return { status: 'invalid', reason: outcome.reason }
  }

  /**
   * Like `verifyToken`, but throws for an invalid token.
   *
   * @throws {OAuthError} `invalid_token` ("the access token is invalid", reason `inactive`,
   *   `expired`, `wrong_audience`, `wrong_issuer`, `invalid_claim`, `malformed`) or
   *   `insufficient_scope`.
   * @throws {UpstreamError} when the authorization server cannot answer.
   */
  async verify(token: string): Promise<AccessToken> {
    const outcome = await this.#check(token)
    if (!('reason' in outcome)) return outcome
    if (outcome.reason === 'insufficient_scope') {
      throw new OAuthError('insufficient_scope', 'the access token lacks a required scope', {
        reason: outcome.reason,
      })
    }
    throw new OAuthError('invalid_token', 'the access token is invalid', { reason: outcome.reason })
  }

  #check(token: string): Promise<Outcome> {
    if (token === '' || token.length > DEFAULT_MAX_TOKEN_BYTES) {
      return Promise.resolve({ reason: 'malformed' })
    }
    const hit = this.#cache?.get(token, this.#now())
    if (hit !== undefined) return Promise.resolve(hit)
    let pending = this.#inflight.get(token)
    if (pending === undefined) {
      pending = this.#introspect(token).finally(() => this.#inflight.delete(token))
      this.#inflight.set(token, pending)
    }
    return pending
  }

  async #introspect(token: string): Promise<Outcome> {
    const { clientId, clientSecret, clientAuthMethod } = this.#options
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' })
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    }
    if (clientAuthMethod === 'client_secret_post') {
      body.set('client_id', clientId)
      body.set('client_secret', clientSecret)
    } else {
      // RFC 6749 §2.3.1: form-encode each part before base64.
      headers.authorization = `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`
    }
    const response = await this.#fetch(this.#options.introspectionUrl, {
      method: 'POST',
      headers,
      body: body.toString(),
    })
    if (response.status !== 200) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `introspection answered with status ${response.status}`,
      )
    }
    const answer = response.json()
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'introspection answer is not an object')
    }
    const nowMs = this.#now()
    const outcome = this.#toAccessToken(token, answer as Record<string, unknown>, nowMs)
    if (!('reason' in outcome) && this.#cache !== undefined) {
      const exp = outcome.expiresAt
      const until = Math.min(exp === undefined ? Infinity : exp * 1000, nowMs + this.#cacheTtlMs)
      this.#cache.set(token, outcome, until, nowMs)
    }
    return outcome
  }

  #toAccessToken(token: string, claims: Record<string, unknown>, nowMs: number): Outcome {
    if (claims.active !== true) return { reason: 'inactive' }
    const { exp, scope, client_id: clientId, sub, iss, aud, gid } = claims
    if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) {
      return { reason: 'invalid_claim' }
    }
    if (exp !== undefined && exp * 1000 <= nowMs) return { reason: 'expired' }
    for (const value of [scope, clientId, sub, iss, gid]) {
      if (value !== undefined && typeof value !== 'string') return { reason: 'invalid_claim' }
    }
    const configuredIssuer = this.#options.issuer
    if (configuredIssuer !== undefined && iss !== undefined && iss !== configuredIssuer) {
      return { reason: 'wrong_issuer' }
    }
    let resource: string | undefined
    if (this.#audiences !== undefined) {
      const list: unknown[] = Array.isArray(aud) ? aud : [aud]
      resource = list.find(
        (a): a is string => typeof a === 'string' && this.#audiences?.has(a) === true,
      )
      if (resource === undefined) return { reason: 'wrong_audience' }
    } else {
      const first: unknown = Array.isArray(aud) ? aud[0] : aud
      if (typeof first === 'string') resource = first
    }
    const scopes = typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : []
    const issuer = (iss as string | undefined) ?? configuredIssuer
    const result: AccessToken = {
      token,
      clientId: (clientId as string | undefined) ?? '',
      scopes: Object.freeze(scopes) as string[],
      claims: Object.freeze(claims),
    }
    if (exp !== undefined) result.expiresAt = exp
    if (resource !== undefined) result.resource = resource
    if (typeof sub === 'string') result.subject = sub
    if (issuer !== undefined) result.issuer = issuer
    if (typeof gid === 'string') result.grantId = gid
    Object.freeze(result)
    for (const required of this.#options.requiredScopes ?? []) {
      if (!scopes.includes(required)) return { reason: 'insufficient_scope', token: result }
    }
    return result
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
