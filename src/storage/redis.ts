import { Redis } from 'ioredis'
import { StoreError } from '../errors.js'
import { assertTtl } from './store.js'
import type { SetOptions, Store } from './store.js'

/** Options for {@link createRedisStore}: give `url` or `client`, not both. */
export interface RedisStoreOptions {
  /** Connection URL (`redis://`, `rediss://`); the store creates, owns and closes the client. */
  url?: string
  /** A client you configured and will close yourself; `close()` leaves it open. */
  client?: Redis
  /** Prepended to every key, so several deployments can share one database. */
  keyPrefix?: string
  /** How long one command may take before it rejects, connecting included. */
  commandTimeoutMs?: number
}

const DEFAULT_URL = 'redis://127.0.0.1:6379'
const DEFAULT_PREFIX = 'gatehouse:'
const DEFAULT_TIMEOUT_MS = 2000

/**
 * Creates a store in Redis through ioredis, for deployments with several hosts.
 *
 * Atomicity is the server's: `take` is one `GETDEL`, `setIfAbsent` one `SET NX EX`, and Redis
 * expires keys itself (TTLs are rounded up to whole seconds). Values are stored as JSON: what JSON
 * cannot represent (a `Date`, a `Map`) does not round-trip, and a value with no JSON form throws
 * `TypeError`. A client the store creates connects on first use and fails fast: one reconnect
 * attempt per command, then a rejection, so a server that is down never looks like a missing key.
 *
 * Errors: every failure (down, timed out, refused, a stored value that is not JSON) rejects with
 * `StoreError` `ERR_STORE_UNAVAILABLE`, whose message never holds the key or the value; after
 * `close()` every method rejects with `ERR_STORE_CLOSED` (`close()` itself may be called again).
 * `TypeError` when both `url` and `client` are given or the timeout is not a positive number.
 *
 * Defaults: `url` `redis://127.0.0.1:6379`, `keyPrefix` `gatehouse:`, `commandTimeoutMs` 2000.
 * With your own `client` the timeout is enforced around each call; its other options are yours.
 */
export function createRedisStore(options: RedisStoreOptions = {}): Store {
  if (options.url !== undefined && options.client !== undefined) {
    throw new TypeError('createRedisStore: give url or client, not both')
  }
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('createRedisStore: commandTimeoutMs must be a positive number')
  }
  const prefix = options.keyPrefix ?? DEFAULT_PREFIX
  const owned = options.client === undefined
  const client = options.client ?? createClient(options.url ?? DEFAULT_URL, timeoutMs)
  let closed = false

  /** Runs one command, turning every failure into a `StoreError` that names neither key nor value. */
  async function call<T>(
    operation: string,
    secrets: readonly string[],
    command: () => Promise<T>,
  ): Promise<T> {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'redis: the store is closed')
    try {
      // Our own client enforces `commandTimeout` itself; a caller's client may not.
      return await (owned ? command() : withTimeout(command(), timeoutMs))
    } catch (error) {
      throw new StoreError(
        'ERR_STORE_UNAVAILABLE',
        `redis: ${operation} failed: ${describe(error, secrets)}`,
        { cause: error },
      )
    }
  }

  return {
    async get<T>(key: string) {
      const full = prefix + key
      const raw = await call('get', [key], () => client.get(full))
      return raw === null ? undefined : (parse(raw) as T)
    },
    async set(key, value, setOptions) {
      assertTtl(setOptions)
      const full = prefix + key
      const payload = serialise(value)
      const seconds = ttlSeconds(setOptions)
      await call('set', [key, payload], () =>
        seconds === undefined
          ? client.set(full, payload)
          : client.set(full, payload, 'EX', seconds),
      )
    },
    async setIfAbsent(key, value, setOptions) {
      assertTtl(setOptions)
      const full = prefix + key
      const payload = serialise(value)
      const seconds = ttlSeconds(setOptions)
      // SET NX is one command, so only one of many concurrent callers can write; Redis has already
      // dropped an expired key, so "absent or expired" needs no extra check.
      const reply = await call('setIfAbsent', [key, payload], () =>
        seconds === undefined
          ? client.set(full, payload, 'NX')
          : client.set(full, payload, 'EX', seconds, 'NX'),
      )
      return reply === 'OK'
    },
    async take<T>(key: string) {
      const full = prefix + key
      // GETDEL (Redis 6.2+) reads and deletes in one command; GET then DEL would let two callers
      // both read the value.
      const raw = await call('take', [key], () => client.getdel(full))
      return raw === null ? undefined : (parse(raw) as T)
    },
    async delete(key) {
      const full = prefix + key
      await call('delete', [key], () => client.del(full))
    },
    async close() {
      if (closed) return
      closed = true
      if (!owned) return
      // QUIT on a client that never connected would open a connection just to close it.
      if (client.status !== 'ready') {
        client.disconnect()
        return
      }
      try {
        await client.quit()
      } catch {
        // The server went away mid-QUIT: the socket is what we must release, and disconnect does.
        client.disconnect()
      }
    },
  }
}

function createClient(url: string, timeoutMs: number): Redis {
  const client = new Redis(url, {
    // Connect on first command: creating a store has no side effects and cannot fail.
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // Every command, queued ones included, rejects after this long instead of waiting for a
    // reconnect that may never come.
    commandTimeout: timeoutMs,
    // One reconnect attempt per command: a refused connection rejects in milliseconds.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  })
  // Without a listener ioredis prints every connection error; callers see them as StoreError.
  client.on('error', () => undefined)
  return client
}

function ttlSeconds(options: SetOptions | undefined): number | undefined {
  const ttl = options?.ttlSeconds
  // EX takes whole seconds; rounding up never expires a value early.
  return ttl === undefined ? undefined : Math.ceil(ttl)
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`command timed out after ${ms} ms`))
    }, ms)
  })
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer)
  })
}

function serialise(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined) throw new TypeError('redis store: value has no JSON representation')
  return text
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new StoreError('ERR_STORE_UNAVAILABLE', 'redis: a stored value is not valid JSON', {
      cause: error,
    })
  }
}

/**
 * The error's message for the `StoreError`, unless it mentions the key or the value: ioredis and
 * Redis do not echo arguments today, and this keeps it so if one ever does.
 */
function describe(error: unknown, secrets: readonly string[]): string {
  if (!(error instanceof Error)) return 'unknown error'
  const leaks = secrets.some((secret) => secret !== '' && error.message.includes(secret))
  return leaks ? error.name : error.message
}
