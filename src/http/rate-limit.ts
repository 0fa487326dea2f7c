/**
 * Fixed-window rate limits (OAuth 2.1 §7.7: brute force and floods): `RateLimiter` in memory, per
 * instance; `StoreRateLimiter` in the store, across instances (the gateway's per-caller limits).
 * Both bounded: at most `maxKeys` keys in memory, the oldest window dropped first.
 */
import { OAuthError } from '../errors.js'
import { sha256 } from './random.js'

export interface RateLimitOptions {
  /** Requests allowed per key per window. */
  limit: number
  windowSeconds: number
  now: () => number
  maxKeys?: number
}

interface Window {
  start: number
  count: number
}

export class RateLimiter {
  readonly #options: RateLimitOptions
  readonly #windows = new Map<string, Window>()

  constructor(options: RateLimitOptions) {
    this.#options = options
  }

  /**
   * Throws 429 with `Retry-After` when `key`'s window is already spent, counting nothing: for
   * limits on failures, consulted before the attempt so that a right guess after the limit is
   * refused too.
   */
  check(key: string): void {
    const { limit, windowSeconds, now } = this.#options
    const t = now()
    const windowMs = windowSeconds * 1000
    const w = this.#windows.get(key)
    if (w && t - w.start < windowMs && w.count >= limit) throw limited(w, windowMs, t)
  }

  /** Counts one event for `key`; throws 429 with `Retry-After` once the window's limit is spent. */
  hit(key: string): void {
    const { limit, windowSeconds, now } = this.#options
    const t = now()
    const windowMs = windowSeconds * 1000
    let w = this.#windows.get(key)
    if (!w || t - w.start >= windowMs) {
      this.#windows.delete(key)
      if (this.#windows.size >= (this.#options.maxKeys ?? 10_000)) {
        const oldest = this.#windows.keys().next()
        if (!oldest.done) this.#windows.delete(oldest.value)
      }
      w = { start: t, count: 0 }
      this.#windows.set(key, w)
    }
    w.count++
    if (w.count > limit) throw limited(w, windowMs, t)
  }
}

function limited(w: Window, windowMs: number, t: number): OAuthError {
  return rateLimited(w.start + windowMs - t)
}

/** The 429 `OAuthError` with `Retry-After` for a window that ends in `msLeft`. */
function rateLimited(msLeft: number): OAuthError {
  const retryAfter = Math.max(1, Math.ceil(msLeft / 1000))
  return new OAuthError('temporarily_unavailable', 'too many requests, try again later', {
    reason: 'rate_limited',
    status: 429,
    headers: { 'retry-after': String(retryAfter) },
  })
}

/**
 * The one store operation `StoreRateLimiter` needs: the `Store` contract's atomic `setIfAbsent`
 * (storage/store.ts; every backend is one). A port, so that http/ stays below storage/.
 */
export interface RateLimitStore {
  setIfAbsent(key: string, value: unknown, options: { ttlSeconds: number }): Promise<boolean>
}

export interface StoreRateLimitOptions extends RateLimitOptions {
  store: RateLimitStore
  /** Namespace of the store keys, e.g. `gw-rate:`. Keys given to `hit` are hashed under it. */
  prefix: string
  /** Parts the window's budget is claimed in (default 10; at most `limit`). */
  chunks?: number
}

interface Budget {
  window: number
  left: number
  next: number
}

/**
 * A fixed-window limit kept in the store, so that it holds across every instance sharing the
 * store. The window's budget is split into chunks, each claimed once with `setIfAbsent` (a store
 * write per chunk, not per request); an instance spends its claimed chunk locally. Across instances
 * no more than `limit` events pass per window; when one key's events spread over several instances
 * a few may be refused early (at most a chunk per other instance). Windows are aligned on the clock
 * (`floor(now / window)`), so every instance counts in the same window. A store that fails makes
 * `hit` reject: the caller answers an error, never an unlimited pass.
 */
export class StoreRateLimiter {
  readonly #options: StoreRateLimitOptions
  readonly #size: number
  readonly #chunks: number
  readonly #budgets = new Map<string, Budget>()

  constructor(options: StoreRateLimitOptions) {
    this.#options = options
    const chunks = Math.max(1, Math.min(options.chunks ?? 10, options.limit))
    this.#size = Math.ceil(options.limit / chunks)
    this.#chunks = Math.ceil(options.limit / this.#size)
  }

  /** Counts one event for `key`; rejects with 429 (`Retry-After`) once the window is spent. */
  async hit(key: string): Promise<void> {
    const { now, windowSeconds, limit, store, prefix } = this.#options
    const t = now()
    const windowMs = windowSeconds * 1000
    const window = Math.floor(t / windowMs)
    let b = this.#budgets.get(key)
    if (!b || b.window !== window) {
      this.#budgets.delete(key)
      if (this.#budgets.size >= (this.#options.maxKeys ?? 10_000)) {
        const oldest = this.#budgets.keys().next()
        if (!oldest.done) this.#budgets.delete(oldest.value)
      }
      b = { window, left: 0, next: 0 }
      this.#budgets.set(key, b)
    }
    if (b.left > 0) {
      b.left--
      return
    }
    const hashed = await sha256(key)
    while (b.next < this.#chunks) {
      const i = b.next++
      const claimed = await store.setIfAbsent(
        `${prefix}${hashed}:${String(window)}:${String(i)}`,
        1,
        {
          ttlSeconds: windowSeconds + 1,
        },
      )
      if (claimed) {
        const size = i === this.#chunks - 1 ? limit - this.#size * i : this.#size
        b.left += size - 1
        return
      }
    }
    throw rateLimited((window + 1) * windowMs - t)
  }
}

/**
 * Where an adapter puts a request's peer address: a property under a symbol only this module
 * holds, not a `WeakMap` entry, which is an ephemeron the garbage collector traces for every
 * request (issue 17).
 */
const PEER_ADDRESS: unique symbol = Symbol('gatehouse.peerAddress')

type Addressed = Request & { [PEER_ADDRESS]?: string }

/** Adapters record the peer address of a request here (the core cannot see sockets). */
export function setClientAddress(request: Request, address: string | undefined): void {
  if (address !== undefined) (request as Addressed)[PEER_ADDRESS] = address
}

/** The peer address an adapter recorded, or `'unknown'`. Never read from a forwarding header. */
export function clientAddressOf(request: Request): string {
  return (request as Addressed)[PEER_ADDRESS] ?? 'unknown'
}
