import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { StoreError } from '../errors.js'
import { assertOwner, assertStep, assertTTL } from './store.js'
import type { AtomicStep, SetOptions, Store } from './store.js'

/** Options for {@link createSqliteStore}: give exactly one of `path` and `dataDir`. */
export interface SqliteStoreOptions {
  /** The database file; its directory must exist. */
  path?: string
  /** A directory (created if missing) that holds `gatehouse.sqlite`. */
  dataDir?: string
  /** Clock in milliseconds since the epoch; tests inject one to expire values without waiting. */
  now?: () => number
}

interface Row {
  value: string
  expires_at: number | null
}

/** The file name used inside `dataDir`. */
const FILE_NAME = 'gatehouse.sqlite'
// Expired rows are deleted when read; this bounds how long unread ones linger.
const SWEEP_INTERVAL_MS = 60_000

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
`

const SQL = {
  get: 'SELECT value, expires_at FROM kv WHERE key = ?',
  set: `INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
  // One statement, so atomic even across processes sharing the file: the upsert only replaces a
  // row that has expired, and `changes` tells whether this call wrote.
  setIfAbsent: `INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
        WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?`,
  // One statement reads and deletes, so two processes can never both take the same row.
  take: 'DELETE FROM kv WHERE key = ? RETURNING value, expires_at',
  delete: 'DELETE FROM kv WHERE key = ?',
  // substr, not LIKE: a prefix holding % or _ must match literally.
  scan: `SELECT key FROM kv WHERE substr(key, 1, length(?)) = ?
         AND (expires_at IS NULL OR expires_at > ?)`,
  live: 'SELECT 1 AS live FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
  expire: 'UPDATE kv SET expires_at = ? WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
  // One statement compares and deletes: a lock that expired or changed owner is left alone.
  release: `DELETE FROM kv WHERE key = ? AND value = ?
        AND (expires_at IS NULL OR expires_at > ?)`,
  purgeOne: 'DELETE FROM kv WHERE key = ? AND expires_at IS NOT NULL AND expires_at <= ?',
  sweep: 'DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?',
} as const

/**
 * Creates a store in a SQLite file through better-sqlite3, for a single host (one or several
 * processes sharing the file).
 *
 * The database runs in WAL mode with `synchronous=NORMAL` and a 5 s busy timeout; `take` and
 * `setIfAbsent` are single statements, so they stay atomic across processes. Values are stored as
 * JSON: what JSON cannot represent (a `Date`, a `Map`) does not round-trip, and a value with no JSON
 * form throws `TypeError`. Expired rows read as absent and are purged when read and by a sweep on
 * writes.
 *
 * Errors: `TypeError` unless exactly one of `path` and `dataDir` is given. A database that cannot be
 * opened throws `StoreError` `ERR_STORE_UNAVAILABLE` here, synchronously; later driver failures
 * reject with the same code (messages never carry keys or values). After `close()` every method
 * rejects with `ERR_STORE_CLOSED`; `close()` itself may be called again.
 *
 * Defaults: `now` is `Date.now`.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if ((options.path === undefined) === (options.dataDir === undefined)) {
    throw new TypeError('createSqliteStore: give exactly one of path and dataDir')
  }
  const now = options.now ?? Date.now
  const file = options.path ?? join(options.dataDir ?? '', FILE_NAME)

  let db: Database.Database
  try {
    if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true })
    db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    db.exec(SCHEMA)
  } catch (error) {
    throw new StoreError(
      'ERR_STORE_UNAVAILABLE',
      `sqlite: cannot open the database at ${file} (${describe(error)})`,
      { cause: error },
    )
  }

  const statements = prepareAll(db)
  // BEGIN IMMEDIATE takes the write lock before the first read, so the conditions a step checks
  // cannot change under it, even from another process sharing the file; any throw rolls back.
  const applyStep = db.transaction(
    (step: AtomicStep, writes: (readonly [string, string, number | null])[]) => {
      const at = now()
      const isLive = (key: string) => statements.live.get(key, at) !== undefined
      if (!(step.require ?? []).every(isLive)) return false
      if ((step.absent ?? []).some(isLive)) return false
      for (const key of step.delete ?? []) statements.delete.run(key)
      for (const [key, value, expires] of writes) statements.set.run(key, value, expires)
      for (const renewal of step.expire ?? []) {
        statements.expire.run(at + Math.ceil(renewal.ttlSeconds * 1000), renewal.key, at)
      }
      return true
    },
  )
  let closed = false
  let lastSweep = Number.NEGATIVE_INFINITY

  function expiresAt(setOptions: SetOptions | undefined): number | null {
    const ttl = setOptions?.ttlSeconds
    return ttl === undefined ? null : now() + Math.ceil(ttl * 1000)
  }

  function maybeSweep(): void {
    const at = now()
    if (at - lastSweep < SWEEP_INTERVAL_MS) return
    lastSweep = at
    statements.sweep.run(at)
  }

  /** Runs a driver call, turning its failures into `StoreError` and sync throws into rejections. */
  function run<T>(operation: string, body: () => T): Promise<T> {
    return new Promise((resolve) => {
      if (closed) throw new StoreError('ERR_STORE_CLOSED', 'sqlite: the store is closed')
      try {
        resolve(body())
      } catch (error) {
        if (error instanceof TypeError || error instanceof StoreError) throw error
        throw new StoreError(
          'ERR_STORE_UNAVAILABLE',
          `sqlite: ${operation} failed (${describe(error)})`,
          { cause: error },
        )
      }
    })
  }

  return {
    get<T>(key: string) {
      return run('get', () => {
        const row = statements.get.get(key)
        if (row === undefined) return undefined
        const at = now()
        if (row.expires_at !== null && row.expires_at <= at) {
          statements.purgeOne.run(key, at)
          return undefined
        }
        return parse(row.value) as T
      })
    },
    set(key, value, setOptions) {
      return run('set', () => {
        assertTTL(setOptions)
        statements.set.run(key, serialise(value), expiresAt(setOptions))
        maybeSweep()
      })
    },
    setIfAbsent(key, value, setOptions) {
      return run('setIfAbsent', () => {
        assertTTL(setOptions)
        const info = statements.setIfAbsent.run(key, serialise(value), expiresAt(setOptions), now())
        maybeSweep()
        return info.changes === 1
      })
    },
    take<T>(key: string) {
      return run('take', () => {
        const row = statements.take.get(key)
        // An expired row is deleted all the same: taking it doubles as the lazy purge.
        if (row === undefined || (row.expires_at !== null && row.expires_at <= now())) {
          return undefined
        }
        return parse(row.value) as T
      })
    },
    delete(key) {
      return run('delete', () => {
        statements.delete.run(key)
      })
    },
    scan(prefix) {
      return run('scan', () => statements.scan.all(prefix, prefix, now()).map((row) => row.key))
    },
    commit(step) {
      return run('commit', () => {
        assertStep(step)
        // Serialised before the transaction: a value with no JSON form aborts with nothing written.
        const writes = (step.set ?? []).map(
          (w) => [w.key, serialise(w.value), expiresAt(w)] as const,
        )
        const applied = applyStep.immediate(step, writes)
        maybeSweep()
        return applied
      })
    },
    acquireLock(key, owner, lockOptions) {
      return run('acquireLock', () => {
        assertOwner(owner)
        assertTTL(lockOptions)
        const info = statements.setIfAbsent.run(
          key,
          serialise(owner),
          expiresAt(lockOptions),
          now(),
        )
        return info.changes === 1
      })
    },
    releaseLock(key, owner) {
      return run('releaseLock', () => {
        assertOwner(owner)
        return statements.release.run(key, serialise(owner), now()).changes === 1
      })
    },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise((resolve) => {
        try {
          db.close()
        } catch (error) {
          throw new StoreError(
            'ERR_STORE_UNAVAILABLE',
            `sqlite: close failed (${describe(error)})`,
            {
              cause: error,
            },
          )
        }
        resolve()
      })
    },
  }
}

/** Prepares every statement once; better-sqlite3 caches nothing by itself. */
function prepareAll(db: Database.Database) {
  try {
    return {
      get: db.prepare<[string], Row>(SQL.get),
      set: db.prepare<[string, string, number | null]>(SQL.set),
      setIfAbsent: db.prepare<[string, string, number | null, number]>(SQL.setIfAbsent),
      take: db.prepare<[string], Row>(SQL.take),
      delete: db.prepare<[string]>(SQL.delete),
      scan: db.prepare<[string, string, number], { key: string }>(SQL.scan),
      live: db.prepare<[string, number], { live: number }>(SQL.live),
      expire: db.prepare<[number, string, number]>(SQL.expire),
      release: db.prepare<[string, string, number]>(SQL.release),
      purgeOne: db.prepare<[string, number]>(SQL.purgeOne),
      sweep: db.prepare<[number]>(SQL.sweep),
    }
  } catch (error) {
    db.close()
    throw new StoreError(
      'ERR_STORE_UNAVAILABLE',
      `sqlite: cannot prepare statements (${describe(error)})`,
      { cause: error },
    )
  }
}

function serialise(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined) throw new TypeError('sqlite store: value has no JSON representation')
  return text
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new StoreError('ERR_STORE_UNAVAILABLE', 'sqlite: a stored value is not valid JSON', {
      cause: error,
    })
  }
}

/**
 * A description of a driver or file-system error for the `StoreError` message, led by its code
 * (`SQLITE_BUSY`, `ENOTDIR`). SQLite never echoes bound parameters in its messages, so keys and
 * values cannot leak through it; the error itself stays in `cause`.
 */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return 'unknown error'
}
