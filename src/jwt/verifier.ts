/**
 * `JWTVerifier`: the resource server's check of JWT access tokens (RFC 9068, RFC 8725) against
 * configured issuers, audiences and keys, with a verified-token cache on the hot path.
 */

import { OAuthError } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import type { AccessToken, TokenCheck, TokenVerifier } from './access-token.js'
import { encodeBase64URL } from './base64url.js'
import { checkClaims, freezeAccessToken } from './claims.js'
import type { ClaimRules, ClaimsMapper } from './claims.js'
import { DEFAULT_ASYMMETRIC_ALGORITHMS, algorithmSpec, isHMACAlgorithm } from './jwk.js'
import type { JWK, JWKSet } from './jwk.js'
import { JWKSCache } from './jwks-cache.js'
import { normalizeMediaType, parseJWS } from './jws.js'
import type { ParsedJWS, ParseJWSOptions } from './jws.js'
import { JWTError } from './jwt-error.js'
import {
  createDiscoverySource,
  createFunctionSource,
  createJWKSURISource,
  createStaticSource,
} from './key-source.js'
import type { KeySource } from './key-source.js'
import { webCryptoSignatureVerifier } from './signature.js'
import type { SignatureVerifierFactory, VerifyFunction } from './signature.js'
import type { VerifierObserver } from './observer.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

/**
 * Options of `JWTVerifier`; exactly one of `jwksUri`, `discoveryUrl`, `jwks`, `keys`,
 * `sharedSecret` (an `undefined` key source counts as not given).
 */
export interface JWTVerifierOptions {
  /** Accepted `iss` values, compared as exact strings. */
  issuer: string | string[]
  /** Accepted audiences (the canonical resource URI of this server, RFC 8707). */
  audience: string | string[]
  /** Allowed `alg` values. Default RS/PS/ES 256/384/512 and EdDSA; HS* only with `sharedSecret`. */
  algorithms?: string[]
  /** The issuer's JWKS URL. */
  jwksUri?: string | undefined
  /** OpenID discovery URL (or issuer base); needs exactly one issuer, which the document must name. */
  discoveryUrl?: string | undefined
  /** A fixed key set. */
  jwks?: JWKSet | undefined
  /** A local key source (e.g. this server's own signing keys), called like a JWKS fetch. */
  keys?: (() => Promise<JWKSet>) | undefined
  /** HMAC secret (string as UTF-8); needs `algorithms` of HS* only, each no longer than the key. */
  sharedSecret?: string | Uint8Array | undefined
  /** Scopes every token must carry; a token without them fails with `insufficient_scope`. */
  requiredScopes?: string[]
  /** Clock skew allowed for `exp`, `nbf`, `iat`, in seconds. Default 30, at most 60. */
  clockToleranceSeconds?: number
  /** Required `typ` (e.g. `at+jwt`), compared case-insensitively with or without `application/`. */
  typ?: string
  /**
   * The claim `audience` is compared with: `aud` (default, RFC 9068) or `client_id`, for an issuer
   * whose access tokens name the client instead (Amazon Cognito: see `cognitoVerifier`).
   */
  audienceClaim?: 'aud' | 'client_id'
  /**
   * Claims every token must carry with exactly these string values, e.g. `{ token_use: 'access' }`
   * so that a Cognito ID token is refused as an access token.
   */
  requiredClaims?: Readonly<Record<string, string>>
  /**
   * The resource URL a token that passed is reported for (`AccessToken.resource`), when the
   * issuer's audience names an API or a client rather than this URL (Okta's `api://default`,
   * Cognito's app client): the guard of `createRemoteAuthProvider` insists that the token is for
   * the resource it protects. Default: the audience that matched.
   */
  resource?: string
  /** Accept an `aud` array that also names audiences not configured here. Default false. */
  allowExtraAudiences?: boolean
  /** Longest token accepted, checked before decoding. Default 16 KiB. */
  maxTokenBytes?: number
  /**
   * Verified-token cache: default on, 10 000 entries (least recently used dropped first), entries
   * live at most `maxTtlSeconds` (3600).
   */
  cache?: false | { maxEntries?: number; maxTtlSeconds?: number }
  /**
   * Share one key cache across verifiers; then configure fetch and the clock of key loading on that
   * cache (`now` here still drives the claim checks).
   */
  jwksCache?: JWKSCache
  /** Underlying fetch of the private key cache. */
  fetch?: typeof fetch
  /** Connection layer that checks resolved addresses and pins them (see `createGuardedFetch`). */
  transport?: GuardedTransport
  /** Allow http/loopback key URLs (development, tests). Default false. */
  allowHttpLoopback?: boolean
  /** Allow literal private-network key hosts. Default false. */
  dangerouslyAllowPrivateNetwork?: boolean
  /** Clock in ms; default `Date.now`. */
  now?: () => number
  /** Signature implementation; default Web Crypto. Node entry points pass `nodeSignatureVerifier`. */
  signatureVerifier?: SignatureVerifierFactory
  /** Replaces reading `scope`/`scp`. */
  claimsToScopes?: ClaimsMapper
  /** Replaces reading `roles`. */
  claimsToRoles?: ClaimsMapper
  /**
   * Cache keys under this name instead of the token's issuer, when many issuers share one key set
   * (Entra's per-tenant issuers): a token naming a new issuer then costs no extra key fetch.
   */
  keyCacheName?: string
  /** Told about cache hits and key loads (metrics); never about tokens. */
  observer?: VerifierObserver
}

// JWT types that are never access tokens (RFC 8725 §3.11): refused even when no `typ` is required.
const FOREIGN_TYPES = new Set([
  'oauth-id-jag+jwt',
  'dpop+jwt',
  'secevent+jwt',
  'logout+jwt',
  'client-authentication+jwt',
  'token-introspection+jwt',
  'kb+jwt',
])

const DESCRIPTION = 'the access token is invalid'

/**
 * Verifies JWT access tokens as a `TokenVerifier`.
 *
 * Order: cache lookup → `parseJWS` (size, shape, base64url, duplicate members, `alg` allow-list,
 * no `crit`/`b64`/JWE/nested JWT; `jku`, `x5u`, `jwk`, `x5c` never read) → `typ` → exact `iss` →
 * key of that issuer by `kid` → signature → `checkClaims` (exp/nbf/iat with skew, audience,
 * scopes, roles). Keys are imported once per (issuer, kid, alg) and held by the `JWKSCache`.
 * Without `typ`, headers typed as another kind of JWT (ID-JAG, DPoP proof, logout, …) are refused.
 * Not checked: revocation (`jti`, grant state) — a cached token stays valid until its `exp` or
 * `maxTtlSeconds`, whichever is first.
 *
 * @throws {TypeError} at construction for an invalid configuration.
 */
export class JWTVerifier implements TokenVerifier {
  readonly #issuers: ReadonlySet<string>
  readonly #jws: ParseJWSOptions
  readonly #typ: string | undefined
  readonly #rules: ClaimRules
  readonly #requiredScopes: readonly string[]
  readonly #now: () => number
  readonly #factory: SignatureVerifierFactory
  readonly #source: KeySource | undefined
  readonly #keys: JWKSCache
  readonly #secret: JWK | undefined
  readonly #secretVerifiers = new Map<string, VerifyFunction | Promise<VerifyFunction>>()
  readonly #cache: VerifiedTokenCache | undefined
  readonly #cacheTtlMs: number
  readonly #keyCacheName: string | undefined
  readonly #observer: VerifierObserver | undefined

  constructor(options: JWTVerifierOptions) {
    const issuers = nonEmptyList(options.issuer, 'issuer')
    const audiences = nonEmptyList(options.audience, 'audience')
    const sources = (['jwksUri', 'discoveryUrl', 'jwks', 'keys', 'sharedSecret'] as const).filter(
      (name) => options[name] !== undefined,
    )
    if (sources.length !== 1) {
      throw new TypeError('give exactly one of jwksUri, discoveryUrl, jwks, keys, sharedSecret')
    }
    const symmetric = options.sharedSecret !== undefined
    const algorithms = options.algorithms ?? (symmetric ? [] : [...DEFAULT_ASYMMETRIC_ALGORITHMS])
    if (algorithms.length === 0) throw new TypeError('algorithms must name at least one algorithm')
    for (const alg of algorithms) {
      if (algorithmSpec(alg) === undefined) throw new TypeError(`unsupported algorithm ${alg}`)
      if (isHMACAlgorithm(alg) !== symmetric) {
        throw new TypeError('HS* algorithms need sharedSecret, and sharedSecret needs HS* only')
      }
    }
    if (
      options.audienceClaim !== undefined &&
      !['aud', 'client_id'].includes(options.audienceClaim)
    ) {
      throw new TypeError("audienceClaim must be 'aud' or 'client_id'")
    }
    const tolerance = options.clockToleranceSeconds ?? 30
    if (!(tolerance >= 0 && tolerance <= 60)) {
      throw new TypeError('clockToleranceSeconds must be between 0 and 60')
    }
    const maxTokenBytes = options.maxTokenBytes ?? 16_384
    if (!Number.isInteger(maxTokenBytes) || maxTokenBytes < 1) {
      throw new TypeError('maxTokenBytes must be a positive integer')
    }
    if (
      options.jwksCache !== undefined &&
      (options.fetch !== undefined ||
        options.transport !== undefined ||
        options.allowHttpLoopback !== undefined ||
        options.dangerouslyAllowPrivateNetwork !== undefined)
    ) {
      throw new TypeError('with a shared jwksCache, configure fetch options on the JWKSCache')
    }

    this.#issuers = new Set(issuers)
    this.#keyCacheName = options.keyCacheName
    this.#observer = options.observer
    this.#jws = { algorithms: new Set(algorithms), maxTokenBytes }
    this.#typ = options.typ === undefined ? undefined : normalizeMediaType(options.typ)
    this.#rules = {
      audiences: new Set(audiences),
      audienceClaim: options.audienceClaim ?? 'aud',
      requiredClaims: { ...options.requiredClaims },
      resource: options.resource,
      allowExtraAudiences: options.allowExtraAudiences === true,
      clockToleranceSeconds: tolerance,
      // Checked after the claims (in #accept), so an insufficient token is told apart.
      requiredScopes: [],
      claimsToScopes: options.claimsToScopes,
      claimsToRoles: options.claimsToRoles,
    }
    this.#requiredScopes = [...(options.requiredScopes ?? [])]
    this.#now = options.now ?? Date.now
    this.#factory = options.signatureVerifier ?? webCryptoSignatureVerifier
    this.#secret = symmetric ? secretJWK(options.sharedSecret, algorithms) : undefined
    this.#source = createSource(options, issuers)
    this.#keys =
      options.jwksCache ??
      new JWKSCache({
        now: this.#now,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        ...(options.transport === undefined ? {} : { transport: options.transport }),
        allowHttpLoopback: options.allowHttpLoopback === true,
        dangerouslyAllowPrivateNetwork: options.dangerouslyAllowPrivateNetwork === true,
        ...(options.observer ? { observer: options.observer } : {}),
      })
    const cache = options.cache ?? {}
    this.#cache =
      cache === false
        ? undefined
        : new VerifiedTokenCache(
            cache.maxEntries === undefined ? {} : { maxEntries: cache.maxEntries },
          )
    const maxTtlSeconds = cache === false ? 0 : (cache.maxTtlSeconds ?? 3600)
    if (!(maxTtlSeconds >= 0)) throw new TypeError('cache.maxTtlSeconds must not be negative')
    this.#cacheTtlMs = maxTtlSeconds * 1000
  }

  /**
   * Returns the verified token, or `undefined` for any invalid one (one lacking a required scope
   * too: `checkToken` tells that apart); rethrows `UpstreamError`.
   */
  verifyToken(token: string): Promise<AccessToken | undefined> {
    const nowMs = this.#now()
    const hit = this.#cache?.get(token, nowMs)
    if (this.#cache) this.#observer?.cacheLookup?.(hit !== undefined)
    if (hit !== undefined) return Promise.resolve(hit)
    let result: AccessToken | Promise<AccessToken>
    try {
      result = this.#check(token, nowMs)
    } catch (error) {
      return error instanceof JWTError ? Promise.resolve(undefined) : Promise.reject(toError(error))
    }
    if (!(result instanceof Promise)) return Promise.resolve(result)
    return result.catch((error: unknown) => {
      if (error instanceof JWTError) return undefined
      throw toError(error)
    })
  }

  /**
   * The token's `TokenCheck`: `valid`, `insufficient_scope` (every rule but `requiredScopes`
   * passed; `scopes` names the required scopes) or `invalid` with the rule in `reason`.
   *
   * @throws {UpstreamError} when the issuer's keys cannot be loaded and none are cached.
   */
  checkToken(token: string): Promise<TokenCheck> {
    const nowMs = this.#now()
    const hit = this.#cache?.get(token, nowMs)
    if (hit !== undefined) return Promise.resolve({ status: 'valid', token: hit })
    try {
      const result = this.#check(token, nowMs)
      if (!(result instanceof Promise)) return Promise.resolve({ status: 'valid', token: result })
      return result.then(
        (verified): TokenCheck => ({ status: 'valid', token: verified }),
        (error: unknown) => this.#refusal(error),
      )
    } catch (error) {
      return this.#refusal(error)
    }
  }

  #refusal(error: unknown): Promise<TokenCheck> {
    if (error instanceof ScopeShortfall) {
      return Promise.resolve({
        status: 'insufficient_scope',
        token: error.verified(),
        scopes: this.#requiredScopes,
      })
    }
    if (error instanceof JWTError)
      return Promise.resolve({ status: 'invalid', reason: error.reason })
    return Promise.reject(toError(error))
  }

  /**
   * Verifies a token and returns its `AccessToken`.
   *
   * @throws {OAuthError} `invalid_token` ("the access token is invalid", the rule in `reason`:
   *   `malformed`, `alg_not_allowed`, `bad_signature`, `expired`, `wrong_audience`, …), or
   *   `insufficient_scope` when a required scope is missing. The description never holds the token.
   * @throws {UpstreamError} when the issuer's keys cannot be loaded and none are cached.
   */
  verify(token: string): Promise<AccessToken> {
    const nowMs = this.#now()
    const hit = this.#cache?.get(token, nowMs)
    if (this.#cache) this.#observer?.cacheLookup?.(hit !== undefined)
    if (hit !== undefined) return Promise.resolve(hit)
    let result: AccessToken | Promise<AccessToken>
    try {
      result = this.#check(token, nowMs)
    } catch (error) {
      return Promise.reject(toError(error))
    }
    if (!(result instanceof Promise)) return Promise.resolve(result)
    return result.catch((error: unknown) => {
      throw toError(error)
    })
  }

  /**
   * The whole check, synchronous when the key is imported and the signature check is synchronous
   * (node:crypto): no async frame on that path. Throws or rejects with `JWTError` for an invalid
   * token.
   */
  #check(token: string, nowMs: number): AccessToken | Promise<AccessToken> {
    const jws = parseJWS(token, this.#jws)
    const { header, payload } = jws
    const { typ } = header
    if (this.#typ !== undefined) {
      if (typ !== this.#typ && (typ === undefined || normalizeMediaType(typ) !== this.#typ)) {
        throw new JWTError('wrong_typ')
      }
    } else if (typ !== undefined && FOREIGN_TYPES.has(normalizeMediaType(typ))) {
      throw new JWTError('wrong_typ')
    }
    const issuer = payload.iss
    if (typeof issuer !== 'string' || !this.#issuers.has(issuer)) throw new JWTError('wrong_issuer')

    const verify = this.#verifierFor(issuer, header.kid, header.alg)
    if (typeof verify === 'function') {
      const valid = verify(jws.signingInput, jws.signature)
      if (valid === true) return this.#accept(token, payload, issuer, nowMs)
      return this.#checkSlowly(token, jws, issuer, nowMs, verify, valid)
    }
    return this.#checkSlowly(token, jws, issuer, nowMs, verify, undefined)
  }

  async #checkSlowly(
    token: string,
    jws: ParsedJWS,
    issuer: string,
    nowMs: number,
    pending: VerifyFunction | Promise<VerifyFunction>,
    first: boolean | Promise<boolean> | undefined,
  ): Promise<AccessToken> {
    const verify = typeof pending === 'function' ? pending : await pending
    // Only `true` passes: a third-party verify function answering anything else has not said yes.
    const answer: unknown = await (first ?? verify(jws.signingInput, jws.signature))
    let valid = answer === true
    if (!valid && this.#source !== undefined) {
      // JWT-21: the kid may have been reused for new key material; reload once per cooldown.
      const { kid, alg } = jws.header
      const fresh = await this.#keys.reloadAfterBadSignature(
        this.#keyCacheName ?? issuer,
        this.#source,
        kid,
        alg,
        this.#factory,
        verify,
      )
      const again: unknown = fresh && (await fresh(jws.signingInput, jws.signature))
      valid = again === true
    }
    if (!valid) throw new JWTError('bad_signature')
    return this.#accept(token, jws.payload, issuer, nowMs)
  }

  #accept(
    token: string,
    payload: Record<string, unknown>,
    issuer: string,
    nowMs: number,
  ): AccessToken {
    const accessToken = checkClaims(token, payload, issuer, this.#rules, nowMs)
    for (const scope of this.#requiredScopes) {
      if (!accessToken.scopes.includes(scope)) throw new ScopeShortfall(accessToken)
    }
    if (this.#cache !== undefined && accessToken.expiresAt !== undefined) {
      // Shared from now on: frozen so that no caller can change what the next one sees.
      const until = Math.min(accessToken.expiresAt * 1000, nowMs + this.#cacheTtlMs)
      this.#cache.set(token, freezeAccessToken(accessToken), until, nowMs)
    }
    return accessToken
  }

  #verifierFor(
    issuer: string,
    kid: string | undefined,
    alg: string,
  ): VerifyFunction | Promise<VerifyFunction> {
    if (this.#source !== undefined) {
      const name = this.#keyCacheName ?? issuer
      return this.#keys.getVerifier(name, this.#source, kid, alg, this.#factory)
    }
    let verify = this.#secretVerifiers.get(alg)
    if (verify === undefined) {
      const secret = this.#secret ?? { kty: 'oct' }
      verify = this.#factory.importKey(secret, alg).then(
        (imported) => {
          this.#secretVerifiers.set(alg, imported)
          return imported
        },
        (error: unknown) => {
          this.#secretVerifiers.delete(alg)
          throw new JWTError('unusable_key', { cause: error })
        },
      )
      this.#secretVerifiers.set(alg, verify)
    }
    return verify
  }
}

/**
 * A token that passed every rule but the required scopes. It is a `JWTError` (`insufficient_scope`)
 * to every caller but `checkToken`, which reads the verified token back; the token sits in a
 * private field, so it never reaches a log that serialises the error.
 */
class ScopeShortfall extends JWTError {
  readonly #verified: AccessToken
  constructor(verified: AccessToken) {
    super('insufficient_scope')
    this.#verified = verified
  }
  verified(): AccessToken {
    return freezeAccessToken(this.#verified)
  }
}

// What `verify` rejects with: the OAuth error for an invalid token, anything else unchanged.
function toError(error: unknown): Error {
  if (error instanceof JWTError) {
    if (error.reason === 'insufficient_scope') {
      return new OAuthError('insufficient_scope', 'the access token lacks a required scope', {
        reason: error.reason,
      })
    }
    return new OAuthError('invalid_token', DESCRIPTION, { reason: error.reason, cause: error })
  }
  return error instanceof Error ? error : new Error('token verification failed')
}

function createSource(options: JWTVerifierOptions, issuers: string[]): KeySource | undefined {
  if (options.jwksUri !== undefined) return createJWKSURISource(requireURL(options.jwksUri))
  if (options.discoveryUrl !== undefined) {
    const [issuer] = issuers
    if (issuers.length !== 1 || issuer === undefined) {
      throw new TypeError('discoveryUrl needs exactly one issuer')
    }
    return createDiscoverySource(requireURL(options.discoveryUrl), issuer)
  }
  if (options.jwks !== undefined) {
    if (!Array.isArray(options.jwks.keys)) throw new TypeError('jwks must be { keys: [...] }')
    return createStaticSource(options.jwks)
  }
  if (options.keys !== undefined) return createFunctionSource(options.keys)
  return undefined
}

function secretJWK(secret: string | Uint8Array | undefined, algorithms: string[]): JWK {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  if (bytes === undefined) throw new TypeError('sharedSecret is required')
  for (const alg of algorithms) {
    const minBytes = alg === 'HS512' ? 64 : alg === 'HS384' ? 48 : 32
    if (bytes.length < minBytes) {
      throw new TypeError(`sharedSecret must be at least ${minBytes} bytes for ${alg}`)
    }
  }
  return { kty: 'oct', k: encodeBase64URL(bytes) }
}

function nonEmptyList(value: string | string[], name: string): string[] {
  const list = typeof value === 'string' ? [value] : [...value]
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${name} must be a non-empty string or list of non-empty strings`)
  }
  return list
}

function requireURL(value: string): string {
  try {
    return new URL(value).href
  } catch {
    throw new TypeError('the key URL is not a valid URL')
  }
}
