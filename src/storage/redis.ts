import { createHash } from 'node:crypto'
import { Cluster, Redis, ReplyError } from 'ioredis'
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
  /**
   * How long one command may take before it rejects, connecting included. It is also the deadline
   * of every single-use step (`commit`, `take`, `setIfAbsent`): the server refuses one that
   * reaches it later, so a step whose call failed can never apply afterwards.
   */
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
/**
 * How long past a step's deadline a failed call still waits before it rejects: the deadline is
 * this host's clock, checked against the server's, so the two may differ by this much (NTP keeps
 * them within a few milliseconds).
 */
const CLOCK_SKEW_ALLOWANCE_MS = 250
/** The error a script answers with when its step arrives after its deadline; nothing applied. */
const LATE = 'GATEHOUSE_LATE'

/** A Lua script and its SHA-1, under which Redis caches it once loaded. */
interface Script {
  source: string
  sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// Every single-use step carries a deadline (ms since the epoch, this host's clock) and refuses,
// applying nothing, once the server's clock is past it. A command that timed out on this side may
// still be queued or in flight and reach Redis after the caller answered 503; refused there, it
// cannot turn the client's retry into reuse. (TIME before a write needs effects replication: the
// default since Redis 5, the only mode since 7; GETDEL already needs 6.2.)
const PAST_DEADLINE = `
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[1]) then
  return redis.error_reply('${LATE} the step arrived after its deadline')
end
`

// One script applies a whole `commit` step: Redis runs a script with nothing interleaved, so the
// conditions cannot change between the checks and the writes. Every condition is checked before
// the first write. KEYS: require, absent, delete, set, expire (in that order); ARGV: the deadline,
// the five counts, then value and TTL ('' for none) per write, then TTL per renewal.
const COMMIT_SCRIPT = script(`${PAST_DEADLINE}
local counts = {}
for i = 1, 5 do counts[i] = tonumber(ARGV[i + 1]) end
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
local a = 6
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

// `take`: GETDEL within the deadline. ARGV: deadline.
const TAKE_SCRIPT = script(`${PAST_DEADLINE}
return redis.call('GETDEL', KEYS[1])
`)

// `setIfAbsent`: SET NX within the deadline; 1 when written. ARGV: deadline, value, TTL ('' none).
const SET_IF_ABSENT_SCRIPT = script(`${PAST_DEADLINE}
local reply
if ARGV[3] == '' then
  reply = redis.call('SET', KEYS[1], ARGV[2], 'NX')
else
  reply = redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX')
end
if reply then return 1 end
return 0
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
 * Atomicity is the server's: `take` (`GETDEL`), `setIfAbsent` (`SET NX EX`), `commit` and
 * `releaseLock` are one Lua script each (called by its SHA with `EVALSHA`, sent whole with `EVAL` only
 * when the server answers `NOSCRIPT`: first use, restart, failover), and Redis expires keys itself (TTLs are rounded up to
 * whole seconds). A `commit` step touches several keys in one script, so on Redis Cluster the keys
 * of one step must share a hash slot. Values are stored as JSON: what JSON
 * cannot represent (a `Date`, a `Map`) does not round-trip, and a value with no JSON form throws
 * `TypeError`. A client the store creates connects on first use and fails fast: a command waits
 * for a connection at most the timeout and is never queued, and one whose connection closes
 * rejects at once and is never sent again (a step run twice would look like a replay), so a
 * server that is down never looks like a missing key.
 *
 * Single-use operations (`commit`, `take`, `setIfAbsent`) carry a deadline, this host's clock
 * plus the timeout, which the script checks against the server's `TIME`: one that reaches Redis
 * late (a stall) applies nothing. When such a call fails with its outcome open (a timeout, a lost
 * connection) it rejects only once the deadline plus 250 ms has passed, so nothing of it can apply
 * afterwards. Needs Redis 6.2+ and host clocks in step with the server's (NTP).
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

  // Connections made ready so far: a command issued while the client was not ready sat in the
  // offline queue, and reached the server only if a connection became ready since.
  let readyCount = 0
  const countReady = () => {
    readyCount++
  }
  client.on('ready', countReady)

  /**
   * Runs one command, turning every failure into a `StoreError` that names neither key nor value.
   * `command` gets the deadline of a single-use step (ms since the epoch: now, as the command is
   * issued, plus the timeout). For a `singleUse` command, which the server refuses after that
   * deadline, a failure that leaves the outcome open (the command may have reached the server: a
   * timeout, a lost connection) rejects only once the deadline has passed: when the caller hears
   * of the failure nothing of the step can still apply, so what it reads next (its marker) is
   * final.
   */
  async function call<T>(
    operation: string,
    secrets: readonly string[],
    command: (deadline: number) => Promise<T>,
    { singleUse = false }: { singleUse?: boolean } = {},
  ): Promise<T> {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'redis: the store is closed')
    let maybeSent = client.status === 'ready'
    const readyBefore = readyCount
    let deadline = Date.now() + timeoutMs
    try {
      // Our own single-node client enforces `commandTimeout` itself, and issues commands only on a
      // ready connection (it has no offline queue). A caller's client may not, and a cluster's
      // node timeout never runs while no node answers. Our own cluster client has no offline
      // queue either: it too waits for its connection here.
      if (!selfTimed) {
        if (owned) {
          await connected()
          maybeSent = true
          deadline = Date.now() + timeoutMs
        }
        return await withTimeout(command(deadline), timeoutMs)
      }
      await connected()
      maybeSent = true
      deadline = Date.now() + timeoutMs
      return await command(deadline)
    } catch (error) {
      if (selfTimed && isTimeout(error) && client.status === 'ready') {
        // The connection stalls: drop it, and with it every command still queued or unanswered
        // (they reject now instead of reaching the server late); the next command reconnects.
        client.disconnect(true)
      }
      // A command issued while the client was not ready waited in its offline queue: it reached
      // the server only if a connection became ready since. A reply is an answer: nothing is open.
      maybeSent ||= readyCount !== readyBefore
      if (singleUse && maybeSent && !(error instanceof ReplyError)) {
        await sleep(deadline + CLOCK_SKEW_ALLOWANCE_MS - Date.now())
      }
      throw new StoreError(
        'ERR_STORE_UNAVAILABLE',
        `redis: ${operation} failed: ${describe(error, secrets)}`,
        { cause: error },
      )
    }
  }

  /**
   * Resolves once our own client's connection is ready, connecting it when it never was; rejects
   * when the attempt fails or takes longer than the timeout. Commands therefore never wait in a
   * queue, to be sent whenever a connection comes back: they fail, as `StoreError`, instead.
   */
  let connecting: Promise<void> | undefined
  function connected(): Promise<void> {
    if (client.status === 'ready') return Promise.resolve()
    // Concurrent callers share one wait (and one pair of listeners).
    connecting ??= waitForReady().finally(() => {
      connecting = undefined
    })
    return connecting
  }
  function waitForReady(): Promise<void> {
    if (client.status === 'wait') client.connect().catch(() => undefined)
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer)
        client.off('ready', onReady)
        client.off('close', onClose)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onReady = () => {
        settle()
      }
      const onClose = () => {
        settle(new Error('Connection is closed.'))
      }
      const timer = setTimeout(() => {
        settle(new Error(`not connected: timed out after ${String(timeoutMs)} ms`))
      }, timeoutMs)
      client.once('ready', onReady)
      client.once('close', onClose)
    })
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
      // SET NX runs in one script, so only one of many concurrent callers can write; Redis has
      // already dropped an expired key, so "absent or expired" needs no extra check.
      const reply = await call(
        'setIfAbsent',
        [key, payload],
        (deadline) =>
          evalScript(client, SET_IF_ABSENT_SCRIPT, 1, [
            full,
            String(deadline),
            payload,
            String(seconds ?? ''),
          ]),
        { singleUse: true },
      )
      return reply === 1
    },
    async take<T>(key: string) {
      const full = prefix + key
      // GETDEL (Redis 6.2+) reads and deletes in one command; GET then DEL would let two callers
      // both read the value.
      const raw = await call(
        'take',
        [key],
        (deadline) => evalScript(client, TAKE_SCRIPT, 1, [full, String(deadline)]),
        { singleUse: true },
      )
      return typeof raw === 'string' ? (parse(raw) as T) : undefined
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
      const reply = await call(
        'commit',
        [...keys, ...args.slice(5)],
        (deadline) =>
          evalScript(client, COMMIT_SCRIPT, keys.length, [
            ...keys.map((k) => prefix + k),
            String(deadline),
            ...args,
          ]),
        { singleUse: true },
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
      client.off('ready', countReady)
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
    // A command never outlives its connection: when the connection closes, every command queued or
    // awaiting its reply rejects at once (a refused connection rejects in milliseconds) ...
    maxRetriesPerRequest: 0,
    // ... and is not sent again after the reconnect. Sent again, a step whose reply was lost would
    // run twice: the second run finds its conditions spent and answers "not applied", which the
    // caller would take for someone else's use of the code or token.
    autoResendUnfulfilledCommands: false,
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
      // A command whose connection closed is not sent again (a step run twice reads as a replay):
      // it fails as `StoreError`, and the client retries. None is issued while the cluster is
      // unreachable (`connected` waits for it), so none is parked to run after its caller was told
      // it failed. (The cluster's queue stays on: a node's connection still opening once the
      // cluster is ready holds a command for the moment it takes.)
      retryDelayOnFailover: 0,
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
      // The store waits for the connection itself (`connected`): no command is parked to be sent
      // whenever the connection returns, after its caller was told it failed.
      enableOfflineQueue: false,
    })
  } else {
    client = new Redis(options.url ?? DEFAULT_URL, {
      ...common,
      retryStrategy,
      enableOfflineQueue: false,
    })
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

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.message.includes('timed out')
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()
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
