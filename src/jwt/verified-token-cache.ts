/**
 * A bounded memory of tokens that already passed verification. MCP clients resend one access
 * token for its whole life, so after the first request the check is a Map lookup and a clock
 * comparison instead of a signature verification.
 *
 * Hand-written for speed (issue 17). Entries are fixed-size records in parallel arrays (token,
 * verified value, deadline in a Float64Array, LRU links in Int32Arrays; grown by doubling up to
 * `maxEntries`, so an idle verifier holds little), indexed by a `Map<string, number>` from the
 * whole token to its slot: no object is allocated per entry or per access, and eviction takes the
 * LRU tail in O(1) (the FIFO before walked a Map iterator from its oldest, often deleted, slot).
 * Measured with `bench/token-cache.bench.mjs` (RS256, 12,000 tokens round-robin through the
 * 10,000-entry cache, so every verify inserts and evicts; CPU time, both builds in one run on a
 * loaded 2-core machine): a cold verify with the cache on costs 1.29x raw node:crypto, against
 * 1.74x before and 1.36x with the cache off in the same run, so inserting is now within noise.
 *
 * The index is keyed by the token's last {@link KEY_CHARS} characters (the end of the signature),
 * not the whole token: a token arrives as a new string on every request, so a whole-token key
 * hashes ~760 characters per lookup (V8 caches a string's hash only on that string). Measured
 * (issue 17, `bench/throughput.bench.mjs`'s guard-only figure, CPU time, 9,000 cached tokens
 * round-robin): the whole-token key cost ~1.4 µs per lookup against ~0.3 µs for the short key and
 * the full comparison below. The short key only picks the slot: a hit still requires the stored
 * token to equal the presented one in full, so a token that shares the key (only a forgery could,
 * and a forgery is never stored) misses and is verified.
 */

import type { AccessToken } from './access-token.js'

/** Default number of verified tokens kept. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000

const NONE = -1
const INITIAL_CAPACITY = 256
/** Characters of the token's end used as the index key (RS256 signatures have 342, HS256 43). */
const KEY_CHARS = 32

/** The index key of a token: its end, which is signature material (see the file header). */
function keyOf(token: string): string {
  return token.length <= KEY_CHARS ? token : token.slice(-KEY_CHARS)
}

/**
 * Verified tokens, found by the end of the token and matched in full (a hit is only ever the same
 * token), each kept until the deadline it was stored with (callers pass the
 * token's `exp`, never later), at most `maxEntries` of them: when full, the least recently used
 * entry is dropped. `get` re-checks the deadline against the given clock.
 * Not done: no revocation check (callers check the grant on every hit).
 */
export class VerifiedTokenCache {
  /** From `keyOf(token)` to the slot holding the token. */
  readonly #index = new Map<string, number>()
  readonly #maxEntries: number
  // Records, one slot each; the arrays grow by doubling up to maxEntries, then never again.
  readonly #tokens: (string | undefined)[] = []
  readonly #values: (AccessToken | undefined)[] = []
  #deadlines: Float64Array
  /** Slot used just before this one (toward the tail), NONE at the tail. */
  #older: Int32Array
  /** Slot used just after this one (toward the head), NONE at the head. */
  #newer: Int32Array
  /** Slots freed by `delete` or an expired `get`, reused before evicting. */
  #free: Int32Array
  #freeCount = 0
  #head = NONE
  #tail = NONE
  /** Slots ever handed out; below maxEntries a new entry takes slot `#used`. */
  #used = 0

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer')
    }
    this.#maxEntries = maxEntries
    const capacity = Math.min(maxEntries, INITIAL_CAPACITY)
    this.#deadlines = new Float64Array(capacity)
    this.#older = new Int32Array(capacity)
    this.#newer = new Int32Array(capacity)
    this.#free = new Int32Array(capacity)
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
    const slot = this.#index.get(keyOf(token))
    if (slot === undefined || this.#tokens[slot] !== token) return undefined
    if (!(nowMs < (this.#deadlines[slot] ?? 0))) {
      this.#remove(slot)
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
    const key = keyOf(token)
    let slot = this.#index.get(key)
    if (slot !== undefined) {
      // The same token again, or another with the same key: it takes over the slot.
      this.#unlink(slot)
      this.#tokens[slot] = token
    } else {
      slot = this.#freeSlot()
      if (slot === this.#tokens.length) {
        this.#tokens.push(token)
        this.#values.push(undefined)
      } else {
        this.#tokens[slot] = token
      }
      this.#index.set(key, slot)
    }
    this.#values[slot] = value
    this.#deadlines[slot] = expiresAtMs
    this.#pushHead(slot)
  }

  /** Forgets one token (e.g. after revocation). */
  delete(token: string): void {
    const slot = this.#index.get(keyOf(token))
    if (slot !== undefined && this.#tokens[slot] === token) this.#remove(slot)
  }

  /** Forgets every token. */
  clear(): void {
    this.#index.clear()
    this.#tokens.length = 0
    this.#values.length = 0
    this.#head = NONE
    this.#tail = NONE
    this.#used = 0
    this.#freeCount = 0
  }

  /** A slot for a new entry: a freed one, a never-used one, or the least recently used one. */
  #freeSlot(): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount] ?? NONE
    if (this.#used < this.#maxEntries) {
      if (this.#used === this.#deadlines.length) this.#grow()
      return this.#used++
    }
    const slot = this.#tail
    const victim = this.#tokens[slot]
    if (victim !== undefined) this.#index.delete(keyOf(victim))
    this.#unlink(slot)
    return slot
  }

  /** Doubles the typed arrays (at most to maxEntries), keeping their contents. */
  #grow(): void {
    const capacity = Math.min(this.#maxEntries, this.#deadlines.length * 2)
    const deadlines = new Float64Array(capacity)
    deadlines.set(this.#deadlines)
    this.#deadlines = deadlines
    this.#older = grown(this.#older, capacity)
    this.#newer = grown(this.#newer, capacity)
    this.#free = grown(this.#free, capacity)
  }

  #remove(slot: number): void {
    const token = this.#tokens[slot]
    if (token !== undefined) this.#index.delete(keyOf(token))
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

function grown(array: Int32Array, capacity: number): Int32Array {
  const copy = new Int32Array(capacity)
  copy.set(array)
  return copy
}
