/**
 * Fixed-window rate limits kept in memory, per instance (OAuth 2.1 §7.7: brute force and floods).
 * Bounded: at most `maxKeys` keys, the oldest window dropped first. Several instances each apply
 * their own limit; put a shared limiter in front for a global one.
 */
import { OAuthError } from '../errors.js'

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
  const retryAfter = Math.max(1, Math.ceil((w.start + windowMs - t) / 1000))
  return new OAuthError('temporarily_unavailable', 'too many requests, try again later', {
    reason: 'rate_limited',
    status: 429,
    headers: { 'retry-after': String(retryAfter) },
  })
}

const addresses = new WeakMap<Request, string>()

/** Adapters record the peer address of a request here (the core cannot see sockets). */
export function setClientAddress(request: Request, address: string | undefined): void {
  if (address !== undefined) addresses.set(request, address)
}

/** The peer address an adapter recorded, or `'unknown'`. Never read from a forwarding header. */
export function clientAddressOf(request: Request): string {
  return addresses.get(request) ?? 'unknown'
}
