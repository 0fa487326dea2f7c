/**
 * A bounded memory of tokens that already passed verification. MCP clients resend one access
 * token for its whole life, so after the first request the check is a Map lookup and a clock
 * comparison instead of a signature verification.
 */

import type { AccessToken } from './access-token.js'

/** Default number of verified tokens kept. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000

interface Entry {
  readonly value: AccessToken
  readonly expiresAtMs: number
}

/**
 * Verified tokens keyed by the whole token string, each kept until the deadline it was stored with
 * (callers pass the token's `exp`, never later), at most `maxEntries` of them: when full the
 * oldest insertion is dropped in O(1). `get` re-checks the deadline against the given clock.
 * Not done: no revocation check, no per-entry LRU promotion (a hit is kept cheap: one lookup).
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer')
    }
    this.#maxEntries = maxEntries
  }

  /** Number of tokens held (expired ones are dropped when met or evicted). */
  get size(): number {
    return this.#entries.size
  }

  /** The verified token if it is held and `nowMs` is before its deadline, else `undefined`. */
  get(token: string, nowMs: number): AccessToken | undefined {
    const entry = this.#entries.get(token)
    if (entry === undefined) return undefined
    if (nowMs < entry.expiresAtMs) return entry.value
    this.#entries.delete(token)
    return undefined
  }

  /** Remembers a verified token until `expiresAtMs`; ignored when that is not after `nowMs`. */
  set(token: string, value: AccessToken, expiresAtMs: number, nowMs: number): void {
    if (!(expiresAtMs > nowMs)) return
    if (this.#entries.has(token)) {
      this.#entries.delete(token)
    } else if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(token, { value, expiresAtMs })
  }

  /** Forgets one token (e.g. after revocation). */
  delete(token: string): void {
    this.#entries.delete(token)
  }

  /** Forgets every token. */
  clear(): void {
    this.#entries.clear()
  }
}
