import { StoreError } from '../errors.js'
import { assertOwner, assertStep, assertTTL } from './store.js'
import type { AtomicStep, SetOptions, Store } from './store.js'

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock in milliseconds since the epoch; tests inject one to expire values without waiting. */
  now?: () => number
}

interface Entry {
  value: unknown
  /** Milliseconds since the epoch; `undefined` never expires. */
  expiresAt: number | undefined
}

// A full sweep walks every entry, so it runs at most this often (by the injected clock) or after
// this many writes, whichever comes first: memory stays bounded without a timer.
const SWEEP_INTERVAL_MS = 60_000
const SWEEP_EVERY_WRITES = 1_000

/**
 * Creates an in-process store backed by a `Map`, for development and tests.
 *
 * Values are copied with `structuredClone` on the way in and out, so callers never share objects
 * with the store; a value `structuredClone` cannot copy throws its `DataCloneError`. Expired values
 * are dropped when read and by a sweep that runs on writes (no timer keeps the process alive).
 * Nothing survives a restart and nothing is shared between processes. After `close()` every method
 * rejects with `StoreError` `ERR_STORE_CLOSED`; `close()` itself may be called again.
 *
 * Defaults: `now` is `Date.now`.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()
  let closed = false
  let lastSweep = now()
  let writesSinceSweep = 0

  function assertOpen(): void {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'memory store: the store is closed')
  }

  function isExpired(entry: Entry, at: number): boolean {
    return entry.expiresAt !== undefined && entry.expiresAt <= at
  }

  /** The live entry for `key`, dropping it first when it has expired. */
  function live(key: string): Entry | undefined {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (isExpired(entry, now())) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  function write(key: string, value: unknown, setOptions: SetOptions | undefined): void {
    // Clone before touching the map: a value that cannot be cloned leaves the old one in place.
    put(key, prepare(value, setOptions))
  }

  function prepare(value: unknown, setOptions: SetOptions | undefined): Entry {
    const ttl = setOptions?.ttlSeconds
    return {
      value: structuredClone(value),
      expiresAt: ttl === undefined ? undefined : now() + ttl * 1000,
    }
  }

  function put(key: string, entry: Entry): void {
    const at = now()
    entries.set(key, entry)
    writesSinceSweep += 1
    if (writesSinceSweep >= SWEEP_EVERY_WRITES || at - lastSweep >= SWEEP_INTERVAL_MS) sweep(at)
  }

  function sweep(at: number): void {
    for (const [key, entry] of entries) {
      if (isExpired(entry, at)) entries.delete(key)
    }
    lastSweep = at
    writesSinceSweep = 0
  }

  // The Promise constructor turns a synchronous throw into a rejection, so callers always get a
  // rejected promise (never a synchronous throw) and the methods need not be `async`.
  function run<T>(operation: () => T): Promise<T> {
    return new Promise((resolve) => {
      assertOpen()
      resolve(operation())
    })
  }

  return {
    get<T>(key: string) {
      return run(() => {
        const entry = live(key)
        return entry === undefined ? undefined : (structuredClone(entry.value) as T)
      })
    },
    set(key, value, setOptions) {
      return run(() => {
        assertTTL(setOptions)
        write(key, value, setOptions)
      })
    },
    setIfAbsent(key, value, setOptions) {
      return run(() => {
        assertTTL(setOptions)
        if (live(key) !== undefined) return false
        write(key, value, setOptions)
        return true
      })
    },
    take<T>(key: string) {
      // Read and delete happen in one synchronous step: no other call can interleave.
      return run(() => {
        const entry = live(key)
        if (entry === undefined) return undefined
        entries.delete(key)
        // The entry has left the map, so nobody else holds it: no copy needed.
        return entry.value as T
      })
    },
    delete(key) {
      return run(() => {
        entries.delete(key)
      })
    },
    scan(prefix) {
      return run(() => {
        const at = now()
        const keys: string[] = []
        for (const [key, entry] of entries) {
          if (key.startsWith(prefix) && !isExpired(entry, at)) keys.push(key)
        }
        return keys
      })
    },
    commit(step: AtomicStep) {
      // Checks and writes run in one synchronous section: nothing can interleave.
      return run(() => {
        assertStep(step)
        if (!(step.require ?? []).every((key) => live(key) !== undefined)) return false
        if (!(step.absent ?? []).every((key) => live(key) === undefined)) return false
        // Every value is cloned before the first change, so one that cannot be cloned aborts the
        // step with nothing applied.
        const writes = (step.set ?? []).map((w) => [w.key, prepare(w.value, w)] as const)
        for (const key of step.delete ?? []) entries.delete(key)
        for (const [key, entry] of writes) put(key, entry)
        for (const renewal of step.expire ?? []) {
          const entry = live(renewal.key)
          if (entry) entry.expiresAt = now() + renewal.ttlSeconds * 1000
        }
        return true
      })
    },
    acquireLock(key, owner, lockOptions) {
      return run(() => {
        assertOwner(owner)
        assertTTL(lockOptions)
        if (live(key) !== undefined) return false
        write(key, owner, lockOptions)
        return true
      })
    },
    releaseLock(key, owner) {
      return run(() => {
        assertOwner(owner)
        const entry = live(key)
        if (entry?.value !== owner) return false
        entries.delete(key)
        return true
      })
    },
    close() {
      closed = true
      entries.clear()
      return Promise.resolve()
    },
  }
}
