import pg from 'pg'
import type { Pool, PoolClient } from 'pg'
import { StoreError } from '../errors.js'
import { migrate as applyMigrations, NewerSchemaError } from './postgres-schema.js'
import { assertOwner, assertStep, assertTTL } from './store.js'
import type { AtomicStep, SetOptions, Store } from './store.js'

export { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from './postgres-schema.js'

/** Options for {@link createPostgresStore}: give `connectionString` or `pool`, not both. */
export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/db`; the store creates, owns and closes a pool. */
  connectionString?: string
  /** A pool you configured and will end yourself; `close()` leaves it open. */
  pool?: Pool
  /**
   * The PostgreSQL schema that holds the tables (`gatehouse_kv`, `gatehouse_schema`); created when
   * missing. Several deployments can share one database with one schema each.
   */
  schema?: string
  /** How long connecting or one query may take before it rejects. */
  commandTimeoutMs?: number
  /** Most connections the store's own pool opens. */
  maxConnections?: number
  /** Expired rows are deleted at most this often (on writes); 0 leaves them to `purgeExpired()`. */
  purgeIntervalSeconds?: number
}

/** The PostgreSQL store: the {@link Store} contract plus its schema and housekeeping. */
export interface PostgresStore extends Store {
  /**
   * Applies pending migrations (once, under an advisory lock) and returns the schema version.
   * Every other method does this on first use; call it at start-up to fail early.
   */
  migrate(): Promise<number>
  /** Deletes expired rows now and returns how many went. */
  purgeExpired(): Promise<number>
}

const DEFAULT_SCHEMA = 'public'
const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_MAX_CONNECTIONS = 10
const DEFAULT_PURGE_INTERVAL_SECONDS = 60
// One purge statement deletes at most this many rows, so it never holds locks on a huge set.
const PURGE_BATCH = 5000
const PURGE_MAX_BATCHES = 20
// A plain, unquoted identifier: what operators type in psql without quotes.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Creates a store in PostgreSQL through `pg`, for deployments with several hosts that already run
 * PostgreSQL (long-lived records, backups, point-in-time recovery).
 *
 * One table, `gatehouse_kv (key, value, expires_at)`, in `schema`; a `gatehouse_schema` table records
 * the applied migrations (see docs/storage-schema.md). Atomicity is the server's: `take` is one
 * `DELETE … RETURNING`, `setIfAbsent` one `INSERT … ON CONFLICT DO UPDATE … WHERE expired`, so of
 * N concurrent callers on any number of hosts exactly one wins. Expiry uses the database clock, so
 * hosts with skewed clocks agree; expired rows read as absent, `take` deletes them, and a purge
 * runs on writes at most every `purgeIntervalSeconds`. Values are stored as JSON text: what JSON
 * cannot represent (a `Date`, a `Map`) does not round-trip, and a value with no JSON form throws
 * `TypeError`. The store connects and migrates on first use (creating it has no side effects).
 *
 * Errors: every failure (down, timed out, refused, a schema newer than this release) rejects with
 * `StoreError` `ERR_STORE_UNAVAILABLE`, whose message never holds a key or a value; a failed
 * migration is retried by the next call. After `close()` every method rejects with
 * `ERR_STORE_CLOSED` (`close()` itself may be called again). `TypeError` when both or neither of
 * `connectionString` and `pool` are given, or for a schema name that is not a plain lower-case
 * identifier.
 *
 * Defaults: `schema` `public`, `commandTimeoutMs` 5000, `maxConnections` 10,
 * `purgeIntervalSeconds` 60. With your own `pool` its timeouts are yours.
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  if ((options.connectionString === undefined) === (options.pool === undefined)) {
    throw new TypeError('createPostgresStore: give exactly one of connectionString and pool')
  }
  const schema = options.schema ?? DEFAULT_SCHEMA
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError('createPostgresStore: schema must match /^[a-z_][a-z0-9_]{0,62}$/')
  }
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('createPostgresStore: commandTimeoutMs must be a positive number')
  }
  const purgeIntervalMs = (options.purgeIntervalSeconds ?? DEFAULT_PURGE_INTERVAL_SECONDS) * 1000
  const owned = options.pool === undefined
  const pool = options.pool ?? createPool(options.connectionString ?? '', timeoutMs, options)
  const quoted = pg.escapeIdentifier(schema)
  const sql = statements(`${quoted}.gatehouse_kv`)

  let closed = false
  let migrated: Promise<number> | undefined
  let lastPurge = Date.now()
  let purging: Promise<unknown> | undefined

  /** Runs `body` on one connection inside a transaction; rolls back on any failure. */
  async function inTransaction<T>(body: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await body(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: unknown) => {
        // A connection that cannot roll back is not given back to the pool.
        broken = rollback instanceof Error ? rollback : new Error('rollback failed')
      })
      throw error
    } finally {
      client.release(broken)
    }
  }

  /** Migrates once per store; a failure is forgotten so that the next call tries again. */
  function ready(): Promise<number> {
    migrated ??= inTransaction((client) => applyMigrations(client, schema, quoted)).catch(
      (error: unknown) => {
        migrated = undefined
        throw error
      },
    )
    return migrated
  }

  /** Runs one operation, turning every failure into a `StoreError` that names no key or value. */
  async function call<T>(
    operation: string,
    secrets: readonly string[],
    body: () => Promise<T>,
  ): Promise<T> {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'postgres: the store is closed')
    try {
      await ready()
      return await body()
    } catch (error) {
      if (error instanceof TypeError || error instanceof StoreError) throw error
      throw new StoreError(
        'ERR_STORE_UNAVAILABLE',
        `postgres: ${operation} failed: ${describe(error, secrets)}`,
        { cause: error },
      )
    }
  }

  async function purgeExpired(): Promise<number> {
    let total = 0
    for (let batch = 0; batch < PURGE_MAX_BATCHES; batch += 1) {
      const result = await pool.query(sql.purge, [PURGE_BATCH])
      total += result.rowCount ?? 0
      if ((result.rowCount ?? 0) < PURGE_BATCH) break
    }
    return total
  }

  /** Starts a purge in the background when the last one is old enough; `close()` waits for it. */
  function maybePurge(): void {
    if (purgeIntervalMs <= 0 || purging !== undefined) return
    const at = Date.now()
    if (at - lastPurge < purgeIntervalMs) return
    lastPurge = at
    // A failed purge is harmless (expired rows already read as absent); the next one retries.
    purging = purgeExpired()
      .catch(() => undefined)
      .finally(() => {
        purging = undefined
      })
  }

  return {
    async get<T>(key: string) {
      if (!storable(key)) return undefined
      const result = await call('get', [key], () => pool.query<{ value: string }>(sql.get, [key]))
      const row = result.rows[0]
      return row === undefined ? undefined : (parse(row.value) as T)
    },
    async set(key, value, setOptions) {
      assertTTL(setOptions)
      assertStorable(key)
      const payload = serialise(value)
      await call('set', [key, payload], () =>
        pool.query(sql.set, [key, payload, ttlSeconds(setOptions)]),
      )
      maybePurge()
    },
    async setIfAbsent(key, value, setOptions) {
      assertTTL(setOptions)
      assertStorable(key)
      const payload = serialise(value)
      const result = await call('setIfAbsent', [key, payload], () =>
        pool.query(sql.setIfAbsent, [key, payload, ttlSeconds(setOptions)]),
      )
      maybePurge()
      return result.rowCount === 1
    },
    async take<T>(key: string) {
      if (!storable(key)) return undefined
      const result = await call('take', [key], () =>
        pool.query<{ value: string; live: boolean }>(sql.take, [key]),
      )
      const row = result.rows[0]
      // An expired row is deleted all the same: taking it doubles as the lazy purge.
      return row === undefined || !row.live ? undefined : (parse(row.value) as T)
    },
    async delete(key) {
      if (!storable(key)) return
      await call('delete', [key], () => pool.query(sql.delete, [key]))
    },
    async scan(prefix) {
      if (!storable(prefix)) return []
      const result = await call('scan', [], () => pool.query<{ key: string }>(sql.scan, [prefix]))
      return result.rows.map((row) => row.key)
    },
    async commit(step) {
      assertStep(step)
      const writes = (step.set ?? []).map(
        (write) => [write.key, serialise(write.value), ttlSeconds(write)] as const,
      )
      const keys = stepKeys(step)
      keys.forEach(assertStorable)
      const applied = await call('commit', keys, () =>
        inTransaction(async (client) => {
          // One transaction-scoped advisory lock per key, taken in sorted order: steps over the
          // same keys queue behind each other and never deadlock. The rows read are locked too,
          // so a plain take or delete cannot change a checked key before the step commits.
          for (const key of keys) await client.query(sql.lockKey, [`${schema}:${key}`])
          const checked = [...(step.require ?? []), ...(step.absent ?? [])]
          const live = new Set(
            checked.length === 0
              ? []
              : (await client.query<{ key: string }>(sql.liveKeys, [checked])).rows.map(
                  (row) => row.key,
                ),
          )
          if (!(step.require ?? []).every((key) => live.has(key))) return false
          if ((step.absent ?? []).some((key) => live.has(key))) return false
          if ((step.delete ?? []).length > 0) await client.query(sql.deleteMany, [step.delete])
          for (const [key, payload, ttl] of writes) await client.query(sql.set, [key, payload, ttl])
          for (const renewal of step.expire ?? []) {
            await client.query(sql.expire, [renewal.key, renewal.ttlSeconds])
          }
          return true
        }),
      )
      maybePurge()
      return applied
    },
    async acquireLock(key, owner, lockOptions) {
      assertOwner(owner)
      assertTTL(lockOptions)
      assertStorable(key)
      const result = await call('acquireLock', [key, owner], () =>
        pool.query(sql.setIfAbsent, [key, serialise(owner), ttlSeconds(lockOptions)]),
      )
      return result.rowCount === 1
    },
    async releaseLock(key, owner) {
      assertOwner(owner)
      if (!storable(key)) return false
      // One compare-and-delete: only the owner's token frees the lock, never a later holder's.
      const result = await call('releaseLock', [key, owner], () =>
        pool.query(sql.release, [key, serialise(owner)]),
      )
      return result.rowCount === 1
    },
    migrate() {
      return call('migrate', [], ready)
    },
    purgeExpired() {
      return call('purge', [], purgeExpired)
    },
    async close() {
      if (closed) return
      closed = true
      await purging
      // A migration still running must finish (or fail) before its connection goes away.
      await migrated?.catch(() => undefined)
      if (owned) await pool.end().catch(() => undefined)
    },
  }
}

function createPool(
  connectionString: string,
  timeoutMs: number,
  options: PostgresStoreOptions,
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    // Fail fast: a server that is down rejects the call instead of queueing it.
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    // The server gives up too, so a query the client abandoned does not keep holding locks.
    statement_timeout: timeoutMs,
    idleTimeoutMillis: 30_000,
    // Idle connections do not keep the process alive after the last request.
    allowExitOnIdle: true,
  })
  // An idle connection that drops emits here; without a listener the process would crash. The next
  // call opens a new connection or fails as StoreError.
  pool.on('error', () => undefined)
  return pool
}

/** The store's queries over one table; the table name is a quoted identifier, never input. */
function statements(table: string) {
  const expiry = 'now() + make_interval(secs => $3::double precision)'
  return {
    get: `SELECT value FROM ${table}
          WHERE key = $1 AND (expires_at IS NULL OR expires_at > now())`,
    set: `INSERT INTO ${table} AS kv (key, value, expires_at) VALUES ($1, $2, ${expiry})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    // One statement: the upsert replaces only a row that has expired, and the row count says
    // whether this call wrote. PostgreSQL serialises concurrent upserts on the key.
    setIfAbsent: `INSERT INTO ${table} AS kv (key, value, expires_at) VALUES ($1, $2, ${expiry})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
          WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= now()`,
    // One statement reads and deletes: a concurrent DELETE waits on the row lock, then finds the
    // row gone, so exactly one caller gets the value.
    take: `DELETE FROM ${table} WHERE key = $1
           RETURNING value, (expires_at IS NULL OR expires_at > now()) AS live`,
    delete: `DELETE FROM ${table} WHERE key = $1`,
    // starts_with, not LIKE: a prefix holding % or _ must match literally.
    scan: `SELECT key FROM ${table}
           WHERE starts_with(key, $1) AND (expires_at IS NULL OR expires_at > now())`,
    deleteMany: `DELETE FROM ${table} WHERE key = ANY($1::text[])`,
    lockKey: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
    liveKeys: `SELECT key FROM ${table}
               WHERE key = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > now())
               FOR UPDATE`,
    expire: `UPDATE ${table} SET expires_at = now() + make_interval(secs => $2::double precision)
             WHERE key = $1 AND (expires_at IS NULL OR expires_at > now())`,
    release: `DELETE FROM ${table}
              WHERE key = $1 AND value = $2 AND (expires_at IS NULL OR expires_at > now())`,
    purge: `DELETE FROM ${table} WHERE key IN (
              SELECT key FROM ${table} WHERE expires_at <= now() LIMIT $1
              FOR UPDATE SKIP LOCKED)`,
  } as const
}

/** Every key a step names, once each, sorted (the order its advisory locks are taken in). */
function stepKeys(step: AtomicStep): string[] {
  const keys = new Set([
    ...(step.require ?? []),
    ...(step.absent ?? []),
    ...(step.delete ?? []),
    ...(step.set ?? []).map((write) => write.key),
    ...(step.expire ?? []).map((renewal) => renewal.key),
  ])
  return [...keys].sort()
}

function ttlSeconds(options: SetOptions | undefined): number | null {
  return options?.ttlSeconds ?? null
}

/** PostgreSQL text cannot hold U+0000, so no such key can exist: reads find nothing. */
function storable(key: string): boolean {
  return !key.includes('\u0000')
}

function assertStorable(key: string): void {
  if (!storable(key)) throw new TypeError('postgres store: a key cannot contain U+0000')
}

function serialise(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined) throw new TypeError('postgres store: value has no JSON representation')
  return text
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new StoreError('ERR_STORE_UNAVAILABLE', 'postgres: a stored value is not valid JSON', {
      cause: error,
    })
  }
}

/**
 * The error's message for the `StoreError`, led by its code (`ECONNREFUSED`, SQLSTATE `57014`),
 * unless it mentions a key or a value: PostgreSQL puts offending values in `detail`, not in the
 * message, and this keeps it so if a message ever does.
 */
function describe(error: unknown, secrets: readonly string[]): string {
  if (error instanceof NewerSchemaError) return error.message
  if (!(error instanceof Error)) return 'unknown error'
  const leaks = secrets.some((secret) => secret !== '' && error.message.includes(secret))
  const code = (error as { code?: unknown }).code
  const message = leaks ? error.name : error.message
  return typeof code === 'string' ? `${code}: ${message}` : message
}
