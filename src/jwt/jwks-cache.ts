/**
 * The multi-issuer key cache behind `JWTVerifier`. Keys are cached per configured issuer and key
 * source, never per anything a token names; an unknown `kid` can trigger a refetch only once per
 * cooldown, so a flood of made-up kids costs the identity provider one request.
 */

import { UpstreamError } from '../errors.js'
import { createGuardedFetch } from '../http/guarded-fetch.js'
import type { GuardedFetch, GuardedTransport } from '../http/guarded-fetch.js'
import { selectJWKForAlgorithm } from './jwk.js'
import type { JWK } from './jwk.js'
import { JWTError } from './jwt-error.js'
import { parseJWKSet } from './key-source.js'
import type { KeySource } from './key-source.js'
import type { VerifierObserver } from './observer.js'
import type { SignatureVerifierFactory, VerifyFunction } from './signature.js'

/** Options of `JWKSCache`. */
export interface JWKSCacheOptions {
  /** How long a loaded key set is used before it is loaded again, in ms. Default 1 h. */
  ttlMs?: number
  /** Least time between two loads of one issuer's keys caused by an unknown kid. Default 5 min. */
  cooldownMs?: number
  /** Issuers kept; the least recently used is dropped beyond it. Default 32. */
  maxIssuers?: number
  /** How long the last good keys keep serving while the source fails, in ms. Default 24 h. */
  maxStaleMs?: number
  /** Clock in ms; default `Date.now`. */
  now?: () => number
  /** Underlying fetch for the guarded fetch; default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** Connection layer that checks resolved addresses and pins them (see `createGuardedFetch`). */
  transport?: GuardedTransport
  /** Guarded-fetch deadline in ms (default 5000) and size cap in bytes (default 512 KiB). */
  timeoutMs?: number
  maxBytes?: number
  /** Allow http and loopback JWKS URLs (development and tests). Default false. */
  allowHttpLoopback?: boolean
  /** Allow literal private-network JWKS hosts. Default false. */
  dangerouslyAllowPrivateNetwork?: boolean
  /** Told about every key-set load and its outcome (metrics). */
  observer?: Pick<VerifierObserver, 'keysLoaded'>
}

const FAILED = Symbol('import failed')
type ImportState = VerifyFunction | Promise<VerifyFunction> | typeof FAILED

interface KeyRecord {
  readonly jwk: JWK
  readonly fingerprint: string
  /** Per algorithm: the usable public JWK, or null when this key must not serve that algorithm. */
  readonly fits: Map<string, JWK | null>
  readonly imports: Map<SignatureVerifierFactory, Map<string, ImportState>>
}

interface IssuerEntry {
  readonly sourceId: string
  readonly issuer: string
  records: KeyRecord[]
  byKid: Map<string, KeyRecord[]>
  loaded: boolean
  /** When the keys are next loaded on use. */
  expiresAt: number
  /** Start of the last load attempt: the cooldown counts from here. */
  lastLoadAt: number
  /** End of the last successful load. */
  goodAt: number
  /** End of the last failed load, while it is the latest outcome. */
  failedAt: number | undefined
  inflight: Promise<void> | undefined
}

/**
 * Caches verification keys for many issuers, shared across verifiers.
 *
 * Rules: keys are held per (issuer, key source) — the issuer is one the verifier was configured
 * with and matched exactly, so no token can point the cache at a URL; a key set is reused for
 * `ttlMs`; at most `maxIssuers` sets are held (LRU); loads are coalesced (one in flight per
 * issuer); a `kid` not in the set forces a reload only when `cooldownMs` has passed since the last
 * load, and a new kid is usable right after it; a reload replaces every key, so a kid reused with
 * new key material gets the new key (JWT-21); if a load fails, the last good keys keep serving
 * for up to `maxStaleMs` (stale-if-error) and the next attempt waits min(cooldown, 10 s).
 * Imported verify functions are cached per (issuer, kid, alg) and survive a reload when the key
 * material is unchanged.
 */
export class JWKSCache {
  // Entries by source id, then issuer; `#recency` holds the same entries in LRU order.
  readonly #entries = new Map<string, Map<string, IssuerEntry>>()
  readonly #recency = new Map<IssuerEntry, true>()
  #latest: IssuerEntry | undefined
  readonly #fetch: GuardedFetch
  readonly #observer: Pick<VerifierObserver, 'keysLoaded'> | undefined
  readonly #now: () => number
  readonly #ttlMs: number
  readonly #cooldownMs: number
  readonly #maxIssuers: number
  readonly #maxStaleMs: number
  readonly #retryMs: number

  constructor(options: JWKSCacheOptions = {}) {
    this.#ttlMs = positive(options.ttlMs ?? 3_600_000, 'ttlMs')
    this.#cooldownMs = nonNegative(options.cooldownMs ?? 300_000, 'cooldownMs')
    this.#maxIssuers = positive(options.maxIssuers ?? 32, 'maxIssuers')
    this.#maxStaleMs = nonNegative(options.maxStaleMs ?? 86_400_000, 'maxStaleMs')
    this.#retryMs = Math.min(this.#cooldownMs, 10_000)
    this.#now = options.now ?? Date.now
    this.#observer = options.observer
    this.#fetch = createGuardedFetch({
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      allowHttpLoopback: options.allowHttpLoopback === true,
      dangerouslyAllowPrivateNetwork: options.dangerouslyAllowPrivateNetwork === true,
    })
  }

  /** Number of issuers currently held. */
  get size(): number {
    return this.#recency.size
  }

  /** Drops every cached key set and import. */
  clear(): void {
    this.#entries.clear()
    this.#recency.clear()
    this.#latest = undefined
  }

  /**
   * The verify function for the key `kid` (or the single fitting key when the token has no kid) of
   * `issuer` and `alg`, loading keys when needed. Synchronous when keys and import are cached.
   *
   * @throws {JWTError} `unknown_kid` (no fitting key, also when several fit without a kid),
   *   `unusable_key` (the import failed).
   * @throws {UpstreamError} when no keys were ever loaded and the source fails.
   */
  getVerifier(
    issuer: string,
    source: KeySource,
    kid: string | undefined,
    alg: string,
    factory: SignatureVerifierFactory,
  ): VerifyFunction | Promise<VerifyFunction> {
    const entry = this.#entry(issuer, source)
    if (entry.loaded && this.#now() < entry.expiresAt) {
      const found = this.#lookup(entry, kid, alg, factory)
      if (found !== undefined) return found
    }
    return this.#resolveSlowly(entry, source, kid, alg, factory)
  }

  /**
   * After a signature failed with a known `kid`: reloads the keys if the cooldown allows it and
   * returns the new verify function when the kid now names different key material, else
   * `undefined` (the failure stands). Rate-limited like an unknown kid.
   */
  async reloadAfterBadSignature(
    issuer: string,
    source: KeySource,
    kid: string | undefined,
    alg: string,
    factory: SignatureVerifierFactory,
    failed: VerifyFunction,
  ): Promise<VerifyFunction | undefined> {
    const entry = this.#entries.get(source.id)?.get(issuer)
    if (kid === undefined || entry === undefined) return undefined
    if (this.#now() - entry.lastLoadAt < this.#cooldownMs) return undefined
    await this.#load(entry, source)
    const found = this.#lookup(entry, kid, alg, factory)
    const verify = found === undefined ? undefined : await found
    return verify === failed ? undefined : verify
  }

  async #resolveSlowly(
    entry: IssuerEntry,
    source: KeySource,
    kid: string | undefined,
    alg: string,
    factory: SignatureVerifierFactory,
  ): Promise<VerifyFunction> {
    if (!entry.loaded || this.#now() >= entry.expiresAt) await this.#load(entry, source)
    let found = this.#lookup(entry, kid, alg, factory)
    if (found === undefined && this.#now() - entry.lastLoadAt >= this.#cooldownMs) {
      await this.#load(entry, source)
      found = this.#lookup(entry, kid, alg, factory)
    }
    if (found === undefined) throw new JWTError('unknown_kid')
    return found
  }

  #entry(issuer: string, source: KeySource): IssuerEntry {
    let issuers = this.#entries.get(source.id)
    let entry = issuers?.get(issuer)
    if (entry !== undefined) {
      if (entry !== this.#latest) {
        this.#recency.delete(entry) // re-insert: Map order is the LRU order
        this.#recency.set(entry, true)
        this.#latest = entry
      }
      return entry
    }
    if (this.#recency.size >= this.#maxIssuers) {
      const oldest = this.#recency.keys().next()
      if (oldest.done !== true) this.#evict(oldest.value)
    }
    entry = {
      sourceId: source.id,
      issuer,
      records: [],
      byKid: new Map(),
      loaded: false,
      expiresAt: 0,
      lastLoadAt: -Infinity,
      goodAt: -Infinity,
      failedAt: undefined,
      inflight: undefined,
    }
    if (issuers === undefined) {
      issuers = new Map()
      this.#entries.set(source.id, issuers)
    }
    issuers.set(issuer, entry)
    this.#recency.set(entry, true)
    this.#latest = entry
    return entry
  }

  #evict(entry: IssuerEntry): void {
    this.#recency.delete(entry)
    const issuers = this.#entries.get(entry.sourceId)
    issuers?.delete(entry.issuer)
    if (issuers?.size === 0) this.#entries.delete(entry.sourceId)
    if (this.#latest === entry) this.#latest = undefined
  }

  #load(entry: IssuerEntry, source: KeySource): Promise<void> {
    if (entry.inflight !== undefined) return entry.inflight
    const started = this.#now()
    if (entry.failedAt !== undefined && started - entry.failedAt < this.#retryMs) {
      if (entry.loaded) return Promise.resolve()
      return Promise.reject(unavailable())
    }
    entry.lastLoadAt = started
    const run = async (): Promise<void> => {
      try {
        const set = parseJWKSet(await source.load(this.#fetch))
        replaceKeys(entry, set.keys)
        const now = this.#now()
        entry.loaded = true
        entry.goodAt = now
        entry.failedAt = undefined
        entry.expiresAt = now + this.#ttlMs
        this.#observer?.keysLoaded?.('ok')
      } catch (error) {
        this.#observer?.keysLoaded?.('error')
        const now = this.#now()
        entry.failedAt = now
        if (entry.loaded && now - entry.goodAt <= this.#maxStaleMs) {
          entry.expiresAt = now + this.#retryMs // stale-if-error: keep serving the last good keys
          return
        }
        entry.loaded = false
        entry.records = []
        entry.byKid = new Map()
        throw error instanceof UpstreamError ? error : unavailable(error)
      } finally {
        entry.inflight = undefined
      }
    }
    entry.inflight = run()
    return entry.inflight
  }

  #lookup(
    entry: IssuerEntry,
    kid: string | undefined,
    alg: string,
    factory: SignatureVerifierFactory,
  ): VerifyFunction | Promise<VerifyFunction> | undefined {
    const candidates = kid === undefined ? entry.records : entry.byKid.get(kid)
    if (candidates === undefined) return undefined
    let chosen: KeyRecord | undefined
    let jwk: JWK | undefined
    for (const record of candidates) {
      let fit = record.fits.get(alg)
      if (fit === undefined) {
        fit = selectJWKForAlgorithm(record.jwk, alg) ?? null
        record.fits.set(alg, fit)
      }
      if (fit === null) continue
      if (chosen !== undefined) return undefined // ambiguous: never guess between keys
      chosen = record
      jwk = fit
    }
    if (chosen === undefined || jwk === undefined) return undefined
    let imports = chosen.imports.get(factory)
    if (imports === undefined) {
      imports = new Map()
      chosen.imports.set(factory, imports)
    }
    const state = imports.get(alg)
    if (state === FAILED) throw new JWTError('unusable_key')
    if (state !== undefined) return state
    const table = imports
    const pending = factory.importKey(jwk, alg).then(
      (verify) => {
        table.set(alg, verify)
        return verify
      },
      (error: unknown) => {
        table.set(alg, FAILED)
        throw new JWTError('unusable_key', { cause: error })
      },
    )
    table.set(alg, pending)
    return pending
  }
}

function replaceKeys(entry: IssuerEntry, keys: readonly JWK[]): void {
  // Unchanged key material keeps its record, and with it the imported verify functions.
  const previous = new Map(entry.records.map((record) => [record.fingerprint, record]))
  const records: KeyRecord[] = []
  const byKid = new Map<string, KeyRecord[]>()
  for (const jwk of keys) {
    const fingerprint = fingerprintOf(jwk)
    const record = previous.get(fingerprint) ?? {
      jwk,
      fingerprint,
      fits: new Map(),
      imports: new Map(),
    }
    records.push(record)
    if (typeof jwk.kid === 'string') {
      const list = byKid.get(jwk.kid)
      if (list === undefined) byKid.set(jwk.kid, [record])
      else list.push(record)
    }
  }
  entry.records = records
  entry.byKid = byKid
}

function fingerprintOf(jwk: JWK): string {
  const { kty, kid, alg, use, key_ops: keyOps, crv, n, e, x, y, k } = jwk
  return JSON.stringify([kty, kid, alg, use, keyOps, crv, n, e, x, y, k])
}

function unavailable(cause?: unknown): UpstreamError {
  return new UpstreamError('ERR_UPSTREAM', 'the signing keys of the issuer are unavailable', {
    cause,
  })
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new TypeError(`${name} must be positive`)
  return value
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new TypeError(`${name} must not be negative`)
  return value
}
