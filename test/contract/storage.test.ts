import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/errors.js'
import { createEncryptedStore } from '../../src/storage/encrypted.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'
import { storageContract } from './storage.contract.js'
import type { StoreFixture } from './storage.contract.js'

const REDIS_URL = process.env.REDIS_URL
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'
// Nothing listens on port 1: connections are refused at once.
const DEAD_REDIS_URL = 'redis://127.0.0.1:1'
// Every run writes under its own prefix, so parallel runs and leftovers never collide.
const RUN_PREFIX = `gatehouse-test:${randomUUID()}:`
const SECRET_A = crypto.getRandomValues(new Uint8Array(32))
const SECRET_B = 'another secret that is long enough: 32+ bytes'

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-store-'))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

async function sqliteFixture(): Promise<StoreFixture> {
  const { dir, remove } = await tempDir()
  const open = () => createSqliteStore({ dataDir: dir })
  return { store: open(), reopen: () => Promise.resolve(open()), cleanup: remove }
}

let redisFixtures = 0
function redisFixture(url: string): Promise<StoreFixture> {
  redisFixtures += 1
  const keyPrefix = `${RUN_PREFIX}${redisFixtures}:`
  return Promise.resolve({
    store: createRedisStore({ url, keyPrefix }),
    reopen: () => Promise.resolve(createRedisStore({ url, keyPrefix })),
    cleanup: () => deleteRedisKeys(url, keyPrefix),
  })
}

async function deleteRedisKeys(url: string, keyPrefix: string): Promise<void> {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await admin.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    await admin.quit()
  }
}

async function encrypted(inner: Store): Promise<Store> {
  return createEncryptedStore(inner, { secret: SECRET_A })
}

async function rejection(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => new Error('expected a rejection, got a value'),
    (reason: unknown) => reason,
  )
}

storageContract('memory', () => Promise.resolve({ store: createMemoryStore() }))

storageContract('sqlite', sqliteFixture, { persistent: true })

if (REDIS_URL !== undefined && REDIS_URL !== '') {
  storageContract('redis', () => redisFixture(REDIS_URL), { persistent: true })
} else if (IN_CI) {
  describe('storage contract: redis', () => {
    it('has a Redis server to run against', () => {
      throw new Error('REDIS_URL is not set: CI must run the storage contract against Redis')
    })
  })
} else {
  console.warn(
    '\n*** storage contract: redis SKIPPED: REDIS_URL is not set. ' +
      'Run with REDIS_URL=redis://127.0.0.1:6379 to test the Redis backend. ***\n',
  )
  describe.skip('storage contract: redis (REDIS_URL is not set)', () => {
    it('runs the contract against Redis', () => undefined)
  })
}

storageContract('encrypted memory', async () => ({ store: await encrypted(createMemoryStore()) }))

storageContract(
  'encrypted sqlite',
  async () => {
    const { dir, remove } = await tempDir()
    const open = () => encrypted(createSqliteStore({ dataDir: dir }))
    return { store: await open(), reopen: open, cleanup: remove }
  },
  { persistent: true },
)

describe('redis store failures', () => {
  it.each([
    'get',
    'set',
    'setIfAbsent',
    'take',
    'delete',
    'commit',
    'acquireLock',
    'releaseLock',
  ] as const)(
    'rejects %s with ERR_STORE_UNAVAILABLE within 5 s when the server is down',
    async (operation) => {
      const store = createRedisStore({ url: DEAD_REDIS_URL })
      const started = Date.now()
      const calls = {
        get: () => store.get('secret-key'),
        set: () => store.set('secret-key', 'secret-value'),
        setIfAbsent: () => store.setIfAbsent('secret-key', 'secret-value'),
        take: () => store.take('secret-key'),
        delete: () => store.delete('secret-key'),
        commit: () =>
          store.commit({
            require: ['secret-key'],
            set: [{ key: 'secret-key', value: 'secret-value' }],
          }),
        acquireLock: () => store.acquireLock('secret-key', 'secret-owner', { ttlSeconds: 5 }),
        releaseLock: () => store.releaseLock('secret-key', 'secret-owner'),
      }
      const error = await rejection(calls[operation]())
      await store.close()
      expect(Date.now() - started).toBeLessThan(5000)
      expect(error).toBeInstanceOf(StoreError)
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect((error as Error).message).toMatch(/^redis: /)
      expect((error as Error).message).not.toContain('secret-')
    },
  )

  it('times out a caller-supplied client that cannot connect', async () => {
    // Left to itself this client would retry 20 times over several seconds.
    const client = new Redis(DEAD_REDIS_URL, { lazyConnect: true })
    client.on('error', () => undefined)
    const store = createRedisStore({ client, commandTimeoutMs: 300 })
    try {
      const started = Date.now()
      const error = await rejection(store.get('key'))
      expect(Date.now() - started).toBeLessThan(2000)
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    } finally {
      await store.close()
      client.disconnect()
    }
  })

  it.skipIf(REDIS_URL === undefined || REDIS_URL === '')(
    'leaves a caller-supplied client open when closed (skipped when REDIS_URL is not set)',
    async () => {
      const client = new Redis(REDIS_URL ?? '')
      try {
        const store = createRedisStore({ client, keyPrefix: `${RUN_PREFIX}client:` })
        await store.get('key')
        await store.close()
        expect(await client.ping()).toBe('PONG')
      } finally {
        await client.quit()
      }
    },
  )
})

// Skipped, with the warning above, where REDIS_URL is not set; in CI it is set (or the test above fails).
describe.skipIf(REDIS_URL === undefined || REDIS_URL === '')(
  'redis store scripts (skipped when REDIS_URL is not set)',
  () => {
    /** How many times the server has run `command` (INFO commandstats), across all clients. */
    async function calls(admin: Redis, command: string): Promise<number> {
      const stats = await admin.info('commandstats')
      return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0)
    }

    it('calls the commit and release scripts by their SHA, and reloads them after SCRIPT FLUSH', async () => {
      const admin = new Redis(REDIS_URL ?? '')
      const store = createRedisStore({ url: REDIS_URL ?? '', keyPrefix: `${RUN_PREFIX}scripts:` })
      try {
        const step = { absent: ['marker'], set: [{ key: 'marker', value: 1, ttlSeconds: 60 }] }
        expect(await store.commit(step)).toBe(true)
        const before = await calls(admin, 'evalsha')
        expect(await store.commit(step)).toBe(false)
        expect(await store.commit({ require: ['marker'], delete: ['marker'] })).toBe(true)
        expect(await calls(admin, 'evalsha')).toBeGreaterThanOrEqual(before + 2)

        // A server without the script (restart, failover, flush) answers NOSCRIPT: the store
        // sends the source once and the step applies exactly once.
        await admin.script('FLUSH')
        expect(await store.commit(step)).toBe(true)
        expect(await store.get('marker')).toBe(1)
        await admin.script('FLUSH')
        expect(await store.acquireLock('lock', 'owner-1', { ttlSeconds: 60 })).toBe(true)
        expect(await store.releaseLock('lock', 'owner-2')).toBe(false)
        expect(await store.releaseLock('lock', 'owner-1')).toBe(true)
      } finally {
        await store.delete('marker')
        await store.close()
        await admin.quit()
      }
    })
  },
)

describe('sqlite store failures', () => {
  it('throws StoreError when the data directory cannot be created', async () => {
    const { dir, remove } = await tempDir()
    try {
      const file = join(dir, 'a-file')
      await writeFile(file, 'not a directory')
      // A directory under a regular file cannot exist, whatever the permissions (root included).
      const error: unknown = await rejection(
        Promise.resolve().then(async () => {
          const store = createSqliteStore({ dataDir: join(file, 'data') })
          await store.get('key')
        }),
      )
      expect(error).toBeInstanceOf(StoreError)
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    } finally {
      await remove()
    }
  })

  it('refuses options with both path and dataDir', () => {
    expect(() => createSqliteStore({ path: 'a.sqlite', dataDir: 'b' })).toThrow(TypeError)
  })

  it('writes to the file given as path', async () => {
    const { dir, remove } = await tempDir()
    try {
      const path = join(dir, 'custom.sqlite')
      const first = createSqliteStore({ path })
      await first.set('key', 'value')
      await first.close()
      const second = createSqliteStore({ path })
      expect(await second.get('key')).toBe('value')
      await second.close()
    } finally {
      await remove()
    }
  })
})

describe('encrypted store', () => {
  it('rejects with ERR_STORE_DECRYPT a value written with another secret', async () => {
    const inner = createMemoryStore()
    const writer = await createEncryptedStore(inner, { secret: SECRET_A })
    const reader = await createEncryptedStore(inner, { secret: SECRET_B })
    await writer.set('key', { token: 'x' })
    const error = await rejection(reader.get('key'))
    expect(error).toBeInstanceOf(StoreError)
    expect(error).toMatchObject({ code: 'ERR_STORE_DECRYPT' })
  })

  it('does not store the plaintext in the inner store', async () => {
    const inner = createMemoryStore()
    const store = await encrypted(inner)
    await store.set('key', { refreshToken: 'correct horse battery staple' })
    const raw = await inner.get('key')
    expect(raw).toEqual({ v: 1, iv: expect.any(String), ct: expect.any(String) })
    expect(JSON.stringify(raw)).not.toContain('correct horse')
  })

  it('refuses a ciphertext moved to another key', async () => {
    const inner = createMemoryStore()
    const store = await encrypted(inner)
    await store.set('grant:alice', { role: 'admin' })
    await inner.set('grant:mallory', await inner.get('grant:alice'))
    expect(await rejection(store.get('grant:mallory'))).toMatchObject({ code: 'ERR_STORE_DECRYPT' })
  })

  it('refuses a tampered ciphertext', async () => {
    const inner = createMemoryStore()
    const store = await encrypted(inner)
    await store.set('key', 'value')
    const raw = (await inner.get<{ v: 1; iv: string; ct: string }>('key'))!
    const flipped = raw.ct.startsWith('A') ? `B${raw.ct.slice(1)}` : `A${raw.ct.slice(1)}`
    await inner.set('key', { ...raw, ct: flipped })
    expect(await rejection(store.get('key'))).toMatchObject({ code: 'ERR_STORE_DECRYPT' })
  })

  it('refuses a 31-byte string secret', async () => {
    await expect(
      createEncryptedStore(createMemoryStore(), { secret: 'x'.repeat(31) }),
    ).rejects.toThrow(new TypeError('secret must be at least 32 bytes'))
  })

  it('refuses a 31-byte binary secret', async () => {
    await expect(
      createEncryptedStore(createMemoryStore(), { secret: new Uint8Array(31) }),
    ).rejects.toThrow(TypeError)
  })
})
