/**
 * The storage contract every backend implements. Callers namespace keys (`client:`, `code:`,
 * `grant:` ...); values are JSON-serialisable. See docs/storage-schema.md for the key layout.
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
   * Releases the backend; calling it again is harmless. Every other method then rejects with
   * `StoreError` `ERR_STORE_CLOSED`.
   */
  close(): Promise<void>
}

export interface SetOptions {
  /** Lifetime in seconds (whole seconds, at least 1). Omitted: no expiry. */
  ttlSeconds?: number
}

/** Throws a `TypeError` for a TTL that no backend can honour (programmer error). */
export function assertTtl(options: SetOptions | undefined): void {
  const ttl = options?.ttlSeconds
  if (ttl === undefined) return
  if (!Number.isFinite(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive number')
}
