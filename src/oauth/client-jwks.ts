/**
 * The public keys of registered (RFC 7591) `private_key_jwt` clients that gave a `jwks_uri`
 * instead of inline `jwks`. Rules:
 * 1. Fetched only through the guarded fetch (no redirects, size cap, deadline, resolved addresses
 *    checked and pinned by the transport); only a 200 JSON JWK Set of 1 to 20 public keys counts.
 * 2. A usable set is cached in the store (instances share it) for its `Cache-Control` max-age
 *    clamped to [`MIN_CACHE_SECONDS`, `MAX_CACHE_SECONDS`]; concurrent misses share one fetch.
 * 3. When an assertion names a key the cached set lacks (the client rotated), the set is fetched
 *    again, at most once per `MIN_CACHE_SECONDS` per URL.
 * 4. At most `FETCHES_PER_HOST_PER_MINUTE` fetches per target host per instance.
 * 5. Failures are never cached and become `invalid_client`; nothing the remote sent reaches the
 *    error text.
 */
import { OAuthError, UpstreamError } from '../errors.js'
import type { GuardedFetch, GuardedResponse } from '../http/guarded-fetch.js'
import { sha256 } from '../http/random.js'
import { RateLimiter } from '../http/rate-limit.js'
import { storageKey } from '../storage/keys.js'
import type { Store } from '../storage/store.js'
import { cacheSeconds } from './client-metadata-resolver.js'
import { parseJWKS } from './client-metadata-document.js'

/** Shortest time a fetched key set is kept, and the least time between two fetches of one URL. */
export const MIN_CACHE_SECONDS = 60
/** Longest time a fetched key set is kept. */
export const MAX_CACHE_SECONDS = 3600
/** Key set fetches per target host per minute, per instance. */
export const FETCHES_PER_HOST_PER_MINUTE = 60
/** Largest key set document accepted. */
export const MAX_JWKS_BYTES = 64 * 1024

export interface ClientJWKSSourceOptions {
  store: Store
  /** The guarded fetch for `jwks_uri` (a transport that checks resolved addresses). */
  fetch: GuardedFetch
  now: () => number
}

interface CachedKeys {
  jwks: { keys: unknown[] }
  /** Milliseconds since the epoch. */
  fetchedAt: number
}

/** Keys of clients registered with a `jwks_uri`. */
export interface ClientJWKSSource {
  /**
   * The client's key set. With `refresh`, a set fetched more than `MIN_CACHE_SECONDS` ago is
   * fetched again (key rotation). Throws `invalid_client` (reason `jwks_uri_*`).
   */
  keys(jwksUri: string, options?: { refresh?: boolean }): Promise<{ keys: unknown[] }>
}

export function createClientJWKSSource(options: ClientJWKSSourceOptions): ClientJWKSSource {
  const inflight = new Map<string, Promise<CachedKeys>>()
  const perHost = new RateLimiter({
    limit: FETCHES_PER_HOST_PER_MINUTE,
    windowSeconds: 60,
    now: options.now,
  })

  async function load(uri: string, key: string): Promise<CachedKeys> {
    perHost.hit(new URL(uri).host)
    let response: GuardedResponse
    try {
      response = await options.fetch(uri, { headers: { accept: 'application/json' } })
    } catch (error) {
      const code = error instanceof UpstreamError ? error.code : 'fetch_failed'
      throw unusable(`jwks_uri_${code}`, error)
    }
    if (response.status !== 200) throw unusable('jwks_uri_status')
    let jwks: { keys: unknown[] }
    try {
      jwks = parseJWKS(response.json())
    } catch (error) {
      throw unusable('jwks_uri_bad_jwks', error)
    }
    if (jwks.keys.some((k) => 'd' in (k as object) || 'k' in (k as object))) {
      throw unusable('jwks_uri_private_key')
    }
    const entry: CachedKeys = { jwks, fetchedAt: options.now() }
    const ttl = cacheSeconds(response.headers, MIN_CACHE_SECONDS, MAX_CACHE_SECONDS)
    await options.store.set(key, entry, { ttlSeconds: ttl })
    return entry
  }

  return {
    async keys(uri, { refresh = false } = {}) {
      const key = storageKey.clientJwks(await sha256(uri))
      const cached = await options.store.get<CachedKeys>(key)
      const stale = (c: CachedKeys) => options.now() - c.fetchedAt >= MIN_CACHE_SECONDS * 1000
      if (cached && !(refresh && stale(cached))) return cached.jwks
      let pending = inflight.get(uri)
      if (!pending) {
        pending = load(uri, key).finally(() => inflight.delete(uri))
        inflight.set(uri, pending)
      }
      return (await pending).jwks
    },
  }
}

function unusable(reason: string, cause?: unknown): OAuthError {
  return new OAuthError('invalid_client', 'client authentication failed', {
    reason,
    ...(cause === undefined ? {} : { cause }),
  })
}
