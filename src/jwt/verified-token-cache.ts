/**
 * A bounded memory of tokens that already passed verification. MCP clients resend one access
 * token for its whole life, so after the first request the check is a Map lookup and a clock
 * comparison instead of a signature verification.
 *
 * Hand-written for speed (issue 17). Entries are fixed-size records in preallocated parallel
 * arrays (token, verified value, deadline in a Float64Array, LRU links in Int32Arrays) indexed by a
 * `Map<string, number>` from the whole token to its slot: no object is allocated per entry or per
 * access, eviction takes the LRU tail in O(1) (the previous version walked a Map iterator from its
 * oldest, often deleted, slot). Measured with `bench/token-cache.bench.mjs` (RS256, 12,000 tokens
 * round-robin through a 10,000-entry cache, so each verify inserts and evicts; same run, loaded
 * 2-core machine): cold verify with the cache on went from 1.79x raw node:crypto to the figure in
 * docs/benchmarks.md ("Verified-token cache").
 */

import type { AccessToken } from './access-token.js'

/** Default number of verified tokens kept. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000

const NONE = -1

/**
 * Verified tokens keyed by the whole token string (so a hit is only ever the same token: the Map
 * compares full strings), each kept until the deadline it was stored with (callers pass the
 * token's `exp`, never later), at most `maxEntries` of them: when full, the least recently used
 * entry is dropped. `get` re-checks the deadline against the given clock.
 * Not done: no revocation check (callers check the grant on every hit).
 */
export class VerifiedTokenCache {
  readonly #index = new Map<string, number>()
  readonly #maxEntries: number
  readonly #tokens: (string | undefined)[]
  readonly #values: (AccessToken | undefined)[]
  readonly #deadlines: Float64Array
  /** Slot used just before this one (toward the tail), NONE at the tail. */
  readonly #older: Int32Array
  /** Slot used just after this one (toward the head), NONE at the head. */
  readonly #newer: Int32Array
  #head = NONE
  #tail = NONE
  /** Slots ever handed out; below maxEntries a new entry takes slot `#used`. */
  #used = 0
  /** Slots freed by `delete` or an expired `get`, reused before evicting. */
  readonly #free: Int32Array
  #freeCount = 0

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer')
    }
    this.#maxEntries = maxEntries
    // Filled with `undefined` up front: the arrays keep one elements kind and never grow.
    this.#tokens = new Array<string | undefined>(maxEntries).fill(undefined)
    this.#values = new Array<AccessToken | undefined>(maxEntries).fill(undefined)
    this.#deadlines = new Float64Array(maxEntries)
    this.#older = new Int32Array(maxEntries)
    this.#newer = new Int32Array(maxEntries)
    this.#free = new Int32Array(maxEntries)
  }

  /** Number of tokens held (expired ones are dropped when met or evicted). */
  get size(): number {
    return this.#index.size
  }

  /** The most entries held at once. */
  get maxEntries(): number {
    return this.#maxEntries
  }

  /** The verified token if it is held and `nowMs` is before its deadline, else `undefined`. */
  get(token: string, nowMs: number): AccessToken | undefined {
    const slot = this.#index.get(token)
    if (slot === undefined) return undefined
    if (!(nowMs < (this.#deadlines[slot] ?? 0))) {
      this.#remove(token, slot)
      return undefined
    }
    if (slot !== this.#head) {
      this.#unlink(slot)
      this.#pushHead(slot)
    }
    return this.#values[slot]
  }

  /** Remembers a verified token until `expiresAtMs`; ignored when that is not after `nowMs`. */
  set(token: string, value: AccessToken, expiresAtMs: number, nowMs: number): void {
    if (!(expiresAtMs > nowMs)) return
    let slot = this.#index.get(token)
    if (slot !== undefined) {
      this.#unlink(slot)
    } else {
      slot = this.#freeSlot()
      this.#tokens[slot] = token
      this.#index.set(token, slot)
    }
    this.#values[slot] = value
    this.#deadlines[slot] = expiresAtMs
    this.#pushHead(slot)
  }

  /** Forgets one token (e.g. after revocation). */
  delete(token: string): void {
    const slot = this.#index.get(token)
    if (slot !== undefined) this.#remove(token, slot)
  }

  /** Forgets every token. */
  clear(): void {
    this.#index.clear()
    this.#tokens.fill(undefined)
    this.#values.fill(undefined)
    this.#head = NONE
    this.#tail = NONE
    this.#used = 0
    this.#freeCount = 0
  }

  /** A slot for a new entry: a freed one, a never-used one, or the least recently used one. */
  #freeSlot(): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount] ?? NONE
    if (this.#used < this.#maxEntries) return this.#used++
    const slot = this.#tail
    const victim = this.#tokens[slot]
    if (victim !== undefined) this.#index.delete(victim)
    this.#unlink(slot)
    return slot
  }

  #remove(token: string, slot: number): void {
    this.#index.delete(token)
    this.#unlink(slot)
    this.#tokens[slot] = undefined
    this.#values[slot] = undefined
    this.#free[this.#freeCount++] = slot
  }

  #unlink(slot: number): void {
    const older = this.#older[slot] ?? NONE
    const newer = this.#newer[slot] ?? NONE
    if (older === NONE) this.#tail = newer
    else this.#newer[older] = newer
    if (newer === NONE) this.#head = older
    else this.#older[newer] = older
  }

  #pushHead(slot: number): void {
    this.#older[slot] = this.#head
    this.#newer[slot] = NONE
    if (this.#head === NONE) this.#tail = slot
    else this.#newer[this.#head] = slot
    this.#head = slot
  }
}
