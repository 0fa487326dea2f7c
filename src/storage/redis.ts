import { createHash } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { StoreError } from '../errors.js'
import { assertOwner, assertStep, assertTTL } from './store.js'
import type { AtomicStep, SetOptions, Store } from './store.js'

/** Options for {@link createRedisStore}: give at most one of `url`, `cluster`, `sentinel`, `client`. */
export interface RedisStoreOptions {
  /** Connection URL (`redis://`, `rediss://`); the store creates, owns and closes the client. */
  url?: string
  /** A Redis Cluster: the store creates, owns and closes a cluster client. */
  cluster?: RedisClusterOptions
  /** A primary found through Redis Sentinel, followed across failovers. */
  sentinel?: RedisSentinelOptions
  /** A client (or cluster client) you configured and will close yourself; `close()` leaves it open. */
  client?: Redis | Cluster
  /**
   * Prepended to every key, so several deployments can share one database. On a cluster it must
   * start with a hash tag (`{gatehouse}:`): every key of the deployment then lives in one slot, so
   * operations over several keys (MULTI, Lua) never fail with CROSSSLOT.
   */
  keyPrefix?: string
  /** How long one command may take before it rejects, connecting included. */
  commandTimeoutMs?: number
}

/** A Redis Cluster to connect to: any reachable nodes; the client discovers the others. */
export interface RedisClusterOptions {
  /** Seed nodes, e.g. `[{ host: '10.0.0.1', port: 6379 }]` or `['redis://10.0.0.1:6379']`. */
  nodes: readonly (string | { host: string; port: number })[]
  /** Credentials and TLS for every node (`username`, `password`, `tls`). */
  redisOptions?: NodeConnectionOptions
}

/** A primary named `name`, looked up through the given sentinels. */
export interface RedisSentinelOptions {
  sentinels: readonly { host: string; port: number }[]
  /** The master name the sentinels monitor (`sentinel monitor <name> …`). */
  name: string
  /** Credentials and TLS for the primary (`username`, `password`, `tls`). */
  redisOptions?: NodeConnectionOptions
  /** Password for the sentinels themselves, when they have one. */
  sentinelPassword?: string
}

/** Connection settings passed to every Redis node: credentials and TLS. */
export interface NodeConnectionOptions {
  username?: string
  password?: string
  tls?: Record<string, unknown>
  db?: number
}

const DEFAULT_URL = 'redis://127.0.0.1:6379'
const DEFAULT_PREFIX = 'gatehouse:'
const DEFAULT_CLUSTER_PREFIX = '{gatehouse}:'
const DEFAULT_TIMEOUT_MS = 2000

/** A Lua script and its SHA-1, under which Redis caches it once loaded. */
interface Script {
  source: string
  sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// One script applies a whole `commit` step: Redis runs a script with nothing interleaved, so the
// conditions cannot change between the checks and the writes. Every condition is checked before
// the first write. KEYS: require, absent, delete, set, expire (in that order); ARGV: the five
// counts, then value and TTL ('' for none) per write, then TTL per renewal.
const COMMIT_SCRIPT = script(`
local counts = {}
for i = 1, 5 do counts[i] = tonumber(ARGV[i]) end
local k = 0
for i = 1, counts[1] do
  k = k + 1
  if redis.call('EXISTS', KEYS[k]) == 0 then return 0 end
end
for i = 1, counts[2] do
  k = k + 1
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
end
for i = 1, counts[3] do
  k = k + 1
  redis.call('DEL', KEYS[k])
end
local a = 5
for i = 1, counts[4] do
  k = k + 1
  local value, ttl = ARGV[a + 1], ARGV[a + 2]
  a = a + 2
  if ttl == '' then
    redis.call('SET', KEYS[k], value)
  else
    redis.call('SET', KEYS[k], value, 'EX', ttl)
  end
end
for i = 1, counts[5] do
  k = k + 1
  a = a + 1
  redis.call('EXPIRE', KEYS[k], ARGV[a])
end
return 1
`)

// Compare-and-delete in one script: GET then DEL from the client could delete a lock that
// changed owner in between.
const RELEASE_SCRIPT = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

/**
 * Creates a store in Redis through ioredis, for deployments with several hosts: one server
 * (`url`), a Redis Cluster (`cluster`) or a primary watched by Redis Sentinel (`sentinel`).
 *
 * Atomicity is the server's: `take` is one `GETDEL`, `setIfAbsent` one `SET NX EX`, `commit` and
 * `releaseLock` one Lua script each (called by its SHA with `EVALSHA`, sent whole with `EVAL` only
 * when the server answers `NOSCRIPT`: first use, restart, failover), and Redis expires keys itself (TTLs are rounded up to
 * whole seconds). A `commit` step touches several keys in one script, so on Redis Cluster the keys
 * of one step must share a hash slot. Values are stored as JSON: what JSON
 * cannot represent (a `Date`, a `Map`) does not round-trip, and a value with no JSON form throws
 * `TypeError`. A client the store creates connects on first use and fails fast: one reconnect
 * attempt per command, then a rejection, so a server that is down never looks like a missing key.
 *
 * Errors: every failure (down, timed out, refused, a stored value that is not JSON) rejects with
 * `StoreError` `ERR_STORE_UNAVAILABLE`, whose message never holds the key or the value; after
 * `close()` every method rejects with `ERR_STORE_CLOSED` (`close()` itself may be called again).
 * `TypeError` when more than one of `url`, `cluster`, `sentinel` and `client` is given, the timeout
 * is not a positive number, or a cluster's `keyPrefix` does not start with a hash tag.
 *
 * Cluster: every key of one store shares the prefix's hash tag, so it lives in one slot (one
 * primary and its replicas). Gatehouse's state is small and its operations are single commands;
 * the cluster brings failover, and deployments with different tags spread over the shards.
 * Sentinel: the client asks the sentinels for the primary and follows it across failovers.
 *
 * Defaults: `url` `redis://127.0.0.1:6379`, `keyPrefix` `gatehouse:` (`{gatehouse}:` on a
 * cluster), `commandTimeoutMs` 2000.
 * With your own `client` the timeout is enforced around each call; its other options are yours.
 */
export function createRedisStore(options: RedisStoreOptions = {}): Store {
  const given = [options.url, options.cluster, options.sentinel, options.client].filter(
    (option) => option !== undefined,
  )
  if (given.length > 1) {
    throw new TypeError('createRedisStore: give at most one of url, cluster, sentinel and client')
  }
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('createRedisStore: commandTimeoutMs must be a positive number')
  }
  const isCluster = options.cluster !== undefined || options.client instanceof Cluster
  const prefix = options.keyPrefix ?? (isCluster ? DEFAULT_CLUSTER_PREFIX : DEFAULT_PREFIX)
  if (isCluster && hashTag(prefix) === undefined) {
    throw new TypeError(
      'createRedisStore: on a cluster, keyPrefix must start with a hash tag such as {gatehouse}:',
    )
  }
  const owned = options.client === undefined
  const selfTimed = owned && !isCluster
  const client = options.client ?? createOwnClient(options, timeoutMs)
  let closed = false

  /** Runs one command, turning every failure into a `StoreError` that names neither key nor value. */
  async function call<T>(
    operation: string,
    secrets: readonly string[],
    command: () => Promise<T>,
  ): Promise<T> {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'redis: the store is closed')
    try {
      // Our own single-node client enforces `commandTimeout` itself. A caller's client may not,
      // and a cluster client queues commands while no node answers (the node timeout never runs).
      return await (selfTimed ? command() : withTimeout(command(), timeoutMs))
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
      assertTTL(setOptions)
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
      assertTTL(setOptions)
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
    async scan(keyPrefix) {
      const pattern = escapeGlob(prefix + keyPrefix) + '*'
      // On a cluster every key of this store sits in one slot, but which primary holds it can
      // change: asking every primary stays right across resharding and failover.
      const nodes = client instanceof Cluster ? client.nodes('master') : [client]
      const found = new Set<string>()
      for (const node of nodes) {
        let cursor = '0'
        do {
          const [next, keys] = await call('scan', [], () =>
            node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000),
          )
          for (const full of keys) found.add(full.slice(prefix.length))
          cursor = next
        } while (cursor !== '0')
      }
      return [...found]
    },
    async commit(step: AtomicStep) {
      assertStep(step)
      const writes = step.set ?? []
      const renewals = step.expire ?? []
      const keys = [
        ...(step.require ?? []),
        ...(step.absent ?? []),
        ...(step.delete ?? []),
        ...writes.map((w) => w.key),
        ...renewals.map((r) => r.key),
      ]
      const args: string[] = [
        String(step.require?.length ?? 0),
        String(step.absent?.length ?? 0),
        String(step.delete?.length ?? 0),
        String(writes.length),
        String(renewals.length),
      ]
      for (const w of writes) args.push(serialise(w.value), String(ttlSeconds(w) ?? ''))
      for (const r of renewals) args.push(String(Math.ceil(r.ttlSeconds)))
      const reply = await call('commit', [...keys, ...args.slice(5)], () =>
        evalScript(client, COMMIT_SCRIPT, keys.length, [...keys.map((k) => prefix + k), ...args]),
      )
      return reply === 1
    },
    async acquireLock(key, owner, lockOptions) {
      assertOwner(owner)
      assertTTL(lockOptions)
      const full = prefix + key
      const payload = serialise(owner)
      const seconds = Math.ceil(lockOptions.ttlSeconds)
      const reply = await call('acquireLock', [key, owner], () =>
        client.set(full, payload, 'EX', seconds, 'NX'),
      )
      return reply === 'OK'
    },
    async releaseLock(key, owner) {
      assertOwner(owner)
      const full = prefix + key
      const reply = await call('releaseLock', [key, owner], () =>
        evalScript(client, RELEASE_SCRIPT, 1, [full, serialise(owner)]),
      )
      return reply === 1
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

function createOwnClient(options: RedisStoreOptions, timeoutMs: number): Redis | Cluster {
  const common = {
    // Connect on first command: creating a store has no side effects and cannot fail.
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // Every command, queued ones included, rejects after this long instead of waiting for a
    // reconnect that may never come.
    commandTimeout: timeoutMs,
    // One reconnect attempt per command: a refused connection rejects in milliseconds.
    maxRetriesPerRequest: 1,
  }
  const retryStrategy = (times: number) => Math.min(times * 100, 2000)
  let client: Redis | Cluster
  if (options.cluster !== undefined) {
    client = new Cluster([...options.cluster.nodes], {
      lazyConnect: true,
      redisOptions: { ...options.cluster.redisOptions, ...common },
      clusterRetryStrategy: retryStrategy,
      // Slot moves during resharding or failover are followed, within the command timeout.
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      slotsRefreshTimeout: timeoutMs,
    })
  } else if (options.sentinel !== undefined) {
    const sentinel = options.sentinel
    client = new Redis({
      ...sentinel.redisOptions,
      ...common,
      sentinels: sentinel.sentinels.map(({ host, port }) => ({ host, port })),
      name: sentinel.name,
      ...(sentinel.sentinelPassword === undefined
        ? {}
        : { sentinelPassword: sentinel.sentinelPassword }),
      sentinelRetryStrategy: retryStrategy,
      // A failover is followed: a READONLY reply (the old primary demoted) reconnects to the new one.
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      retryStrategy,
    })
  } else {
    client = new Redis(options.url ?? DEFAULT_URL, { ...common, retryStrategy })
  }
  // Without a listener ioredis prints every connection error; callers see them as StoreError.
  client.on('error', () => undefined)
  return client
}

/**
 * The hash tag a key prefix starts with (`{gatehouse}:` → `gatehouse`), or `undefined`. Redis
 * Cluster hashes only the text between the first `{` and the next `}` when it is not empty, so a
 * prefix that starts with a tag decides the slot of every key, whatever braces the key holds.
 */
function hashTag(prefix: string): string | undefined {
  if (!prefix.startsWith('{')) return undefined
  const end = prefix.indexOf('}')
  return end > 1 ? prefix.slice(1, end) : undefined
}

function ttlSeconds(options: SetOptions | undefined): number | undefined {
  const ttl = options?.ttlSeconds
  // EX takes whole seconds; rounding up never expires a value early.
  return ttl === undefined ? undefined : Math.ceil(ttl)
}

/**
 * Runs a script by its SHA (`EVALSHA`): Redis then neither receives nor hashes the source, which
 * for `commit` is most of the request. A server that does not have it cached (first call, restart,
 * `SCRIPT FLUSH`, a new primary after failover, another cluster node) answers `NOSCRIPT` without
 * running anything; `EVAL` then runs the source once and caches it. On a cluster both go to the
 * node owning the first key's slot.
 */
async function evalScript(
  client: Redis | Cluster,
  { source, sha }: Script,
  keyCount: number,
  keysAndArgs: readonly string[],
): Promise<unknown> {
  try {
    return await client.evalsha(sha, keyCount, ...keysAndArgs)
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
    return client.eval(source, keyCount, ...keysAndArgs)
  }
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

/** Escapes Redis glob characters so a key prefix matches literally in `SCAN MATCH`. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`)
}
