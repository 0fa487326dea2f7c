/**
 * The storage contract every backend implements. Callers build keys with `storageKey` (keys.ts:
 * `client:`, `code:`, `grant:` ...); values are JSON-serialisable. See docs/storage-schema.md for
 * the key layout.
 *
 * Every method either answers or throws `StoreError`: a backend that is down never looks like a
 * missing key.
 */
export interface Store {
  /** The value, or `undefined` when absent or expired. */
  get<T>(key: string): Promise<T | undefined>
  /** Writes the value; `ttlSeconds` omitted means it never expires. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>
  /** Writes only when the key is absent (or expired); `true` when this call wrote it. Atomic. */
  setIfAbsent(key: string, value: unknown, options?: SetOptions): Promise<boolean>
  /** Atomically reads and deletes: of N concurrent calls for one key, exactly one gets the value. */
  take<T>(key: string): Promise<T | undefined>
  /** Removes the key; removing a key that is absent is not an error. */
  delete(key: string): Promise<void>
  /**
   * The keys of live (unexpired) entries that start with `prefix`, in no particular order, for
   * administration (listing clients and grants), never for a request path: backends read every
   * matching key. Optional so that stores written before it still type-check; every bundled
   * backend (memory, SQLite, Redis incl. Cluster, PostgreSQL, the encryption wrapper) has it.
   */
  scan?(prefix: string): Promise<string[]>
  /**
   * Applies `step` as one atomic unit: when every condition holds, all its deletes, writes and
   * lifetime renewals take effect and the result is `true`; otherwise nothing changes and the result
   * is `false`. No other call, from this process or another sharing the backend, can observe or
   * interleave with a half-applied step.
   *
   * This is what makes a multi-record change (rotating a refresh token, redeeming an authorization
   * code, spending an ID-JAG `jti`) safe against storage faults: a step that throws `StoreError`
   * has either been applied whole or not at all, so a client's retry finds the state exactly as it
   * was before (or exactly as after). The outcome is settled when the call throws: a step that has
   * not applied by then never applies later (Redis: the script refuses a step past its deadline,
   * and the store throws only once the deadline has passed). When the reply itself is lost (a
   * timeout after the backend applied the step) the caller cannot tell which; callers that must
   * know write a unique marker in the step and read it back. The same marker settles a `false`
   * that is the caller's own success: a client (or a Redis Cluster) that sent the step again after
   * a lost reply gets `false` from the second run.
   *
   * Order inside a step: conditions are checked first (against the state before the step), then
   * `delete`, then `set`, then `expire`. A key may appear in several lists (e.g. required and
   * deleted). Backends: memory (one synchronous section), SQLite (`BEGIN IMMEDIATE` transaction),
   * Redis (one Lua script, so on Redis Cluster every key of a step must hash to one slot),
   * encrypted wrapper (seals the values of `set`, passes the rest through). A new backend must
   * pass the storage contract suite (test/contract/), which includes concurrent steps.
   */
  commit(step: AtomicStep): Promise<boolean>
  /**
   * Takes the lock `key` for `owner` (a random token the caller keeps) when no live lock exists;
   * `true` when this call took it. The lock expires after `ttlSeconds` whatever happens to its
   * holder. Lock keys are used only through `acquireLock`/`releaseLock` (never `get`/`set`): the
   * owner token is stored as is, not encrypted, because it protects nothing but the lock.
   */
  acquireLock(key: string, owner: string, options: LockOptions): Promise<boolean>
  /**
   * Releases the lock `key` only when `owner` holds it now: one atomic compare-and-delete (a fenced
   * release). `false` when the lock expired or another owner has taken it since; that owner's lock
   * is left alone. A holder whose work outlived the TTL can therefore never free a lock someone
   * else holds.
   */
  releaseLock(key: string, owner: string): Promise<boolean>
  /**
   * Releases the backend; calling it again is harmless. Every other method then rejects with
   * `StoreError` `ERR_STORE_CLOSED`.
   */
  close(): Promise<void>
}

export interface SetOptions {
  /** Lifetime in seconds (whole seconds, at least 1). Omitted: no expiry. */
  ttlSeconds?: number
}

export interface LockOptions {
  /** How long the lock lives at most, in seconds (positive). */
  ttlSeconds: number
}

/** One write of an {@link AtomicStep}. */
export interface StepWrite extends SetOptions {
  key: string
  value: unknown
}

/** One lifetime renewal of an {@link AtomicStep}: the key's value is kept, its TTL restarts. */
export interface StepExpire {
  key: string
  ttlSeconds: number
}

/**
 * What {@link Store.commit} applies atomically. Every list is optional; an empty step succeeds and
 * changes nothing.
 */
export interface AtomicStep {
  /** Keys that must be present (and unexpired) for the step to apply. */
  require?: readonly string[]
  /** Keys that must be absent (or expired) for the step to apply. */
  absent?: readonly string[]
  /** Keys removed when the step applies (absent ones are ignored). */
  delete?: readonly string[]
  /** Values written when the step applies, each with its own lifetime (none: no expiry). */
  set?: readonly StepWrite[]
  /** Keys whose lifetime restarts when the step applies; a key that is absent is skipped. */
  expire?: readonly StepExpire[]
}

/** Throws a `TypeError` for a TTL that no backend can honour (programmer error). */
export function assertTTL(options: SetOptions | undefined): void {
  const ttl = options?.ttlSeconds
  if (ttl === undefined) return
  if (!Number.isFinite(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive number')
}

/** Throws a `TypeError` for a step whose TTLs no backend can honour (programmer error). */
export function assertStep(step: AtomicStep): void {
  for (const write of step.set ?? []) assertTTL(write)
  for (const renewal of step.expire ?? []) {
    // Unlike a write, a renewal without a lifetime means nothing.
    if (!Number.isFinite(renewal.ttlSeconds) || renewal.ttlSeconds <= 0) {
      throw new TypeError('ttlSeconds must be a positive number')
    }
  }
}

/** Throws a `TypeError` for a lock owner token that is empty or not a string. */
export function assertOwner(owner: string): void {
  if (typeof owner !== 'string' || owner === '') {
    throw new TypeError('a lock owner must be a non-empty string')
  }
}
