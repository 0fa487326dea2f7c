/**
 * A bounded memory of tokens that already passed verification. MCP clients resend one access
 * token for its whole life, so after the first request the check is a Map lookup and a clock
 * comparison instead of a signature verification.
 *
 * Hand-written for speed (issue 17). Entries are fixed-size records in parallel arrays (token,
 * verified value, deadline and last use in `Float64Array`s; grown by doubling up to `maxEntries`,
 * so an idle verifier holds little), indexed by a `Map<string, number>` to the slot: no object is
 * allocated per entry or per access, and a hit writes one number.
 *
 * When full, a new entry replaces the least recently used of three slots drawn at random (an
 * expired one first). Not least-recently-used: with more live tokens than entries, each used in
 * turn (many clients, and issue 17's 12,000 tokens through 10,000 entries), LRU evicts every token
 * just before it comes back and never hits, while a few random draws keep much of a stable subset.
 * Fewer draws keep more of it but let a new working set settle more slowly. Simulated (2026-12-06,
 * 10,000 entries; LRU in brackets): 12,000 tokens in turn hit 47% (0%); Zipf-distributed traffic
 * over 20,000 and 50,000 tokens 72% and 69% (74%, 70%); 9,000 tokens in turn, once the cache is
 * full of others, 74%, 94%, 98% of their second, third, fourth passes (100% from the second).
 * Two draws: 57% in turn, and 65%, 85%, 93% to settle. The draws come from a xorshift generator
 * per cache (a miss only costs a verification, so predictable eviction gives nothing away).
 * Measured with `bench/token-cache.bench.mjs` (12,000 tokens, CPU time, three runs, Node 20): a
 * cold verify with the cache on costs 0.70–0.71x a raw `node:crypto` RS256 verify, against
 * 1.29–1.37x under LRU the same afternoon.
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
/** Slots drawn at random when full; the least recently used of them (an expired one first) goes. */
const DRAWS = 3

/** The index key of a token: its end, which is signature material (see the file header). */
function keyOf(token: string): string {
  return token.length <= KEY_CHARS ? token : token.slice(-KEY_CHARS)
}

/**
 * Verified tokens, found by the end of the token and matched in full (a hit is only ever the same
 * token), each kept until the deadline it was stored with (callers pass the
 * token's `exp`, never later), at most `maxEntries` of them: when full, an expired entry or the
 * less recently used of two drawn at random is dropped. `get` re-checks the deadline against the
 * given clock.
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
  /** When each slot was last set or hit (the value of `#clock` then). */
  #lastUsed: Float64Array
  #clock = 0
  /** Slots freed by `delete` or an expired `get`, reused before evicting. */
  #free: Int32Array
  #freeCount = 0
  /** Slots ever handed out; below maxEntries a new entry takes slot `#used`. */
  #used = 0
  /** xorshift32 state for the eviction draws. */
  #seed = 0x9e3779b9

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer')
    }
    this.#maxEntries = maxEntries
    const capacity = Math.min(maxEntries, INITIAL_CAPACITY)
    this.#deadlines = new Float64Array(capacity)
    this.#lastUsed = new Float64Array(capacity)
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
    this.#lastUsed[slot] = ++this.#clock
    return this.#values[slot]
  }

  /** Remembers a verified token until `expiresAtMs`; ignored when that is not after `nowMs`. */
  set(token: string, value: AccessToken, expiresAtMs: number, nowMs: number): void {
    if (!(expiresAtMs > nowMs)) return
    const key = keyOf(token)
    let slot = this.#index.get(key)
    if (slot !== undefined) {
      // The same token again, or another with the same key: it takes over the slot.
      this.#tokens[slot] = token
    } else {
      slot = this.#freeSlot(nowMs)
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
    this.#lastUsed[slot] = ++this.#clock
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
    this.#used = 0
    this.#freeCount = 0
  }

  /**
   * A slot for a new entry: a freed one, a never-used one, or (full) of {@link DRAWS} drawn at
   * random an expired one, else the least recently used.
   */
  #freeSlot(nowMs: number): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount] ?? NONE
    if (this.#used < this.#maxEntries) {
      if (this.#used === this.#deadlines.length) this.#grow()
      return this.#used++
    }
    let slot = this.#draw()
    for (let i = 1; i < DRAWS && nowMs < (this.#deadlines[slot] ?? 0); i++) {
      const other = this.#draw()
      const expired = !(nowMs < (this.#deadlines[other] ?? 0))
      if (expired || (this.#lastUsed[other] ?? 0) < (this.#lastUsed[slot] ?? 0)) slot = other
    }
    const victim = this.#tokens[slot]
    if (victim !== undefined) this.#index.delete(keyOf(victim))
    return slot
  }

  /** A slot drawn at random (xorshift32), among those handed out. */
  #draw(): number {
    let x = this.#seed
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#seed = x >>> 0
    return this.#seed % this.#used
  }

  /** Doubles the typed arrays (at most to maxEntries), keeping their contents. */
  #grow(): void {
    const capacity = Math.min(this.#maxEntries, this.#deadlines.length * 2)
    this.#deadlines = grownFloat(this.#deadlines, capacity)
    this.#lastUsed = grownFloat(this.#lastUsed, capacity)
    this.#free = grown(this.#free, capacity)
  }

  #remove(slot: number): void {
    const token = this.#tokens[slot]
    if (token !== undefined) this.#index.delete(keyOf(token))
    this.#tokens[slot] = undefined
    this.#values[slot] = undefined
    this.#free[this.#freeCount++] = slot
  }
}

function grown(array: Int32Array, capacity: number): Int32Array {
  const copy = new Int32Array(capacity)
  copy.set(array)
  return copy
}

function grownFloat(array: Float64Array, capacity: number): Float64Array {
  const copy = new Float64Array(capacity)
  copy.set(array)
  return copy
}
