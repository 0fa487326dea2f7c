/**
 * The Redis store's single-use operations under real network faults (a TCP proxy in front of the
 * Redis at REDIS_URL): a command whose reply was lost is never sent again by the store's own
 * client, and one that timed out never applies afterwards, however late it reaches the server.
 * `claimOnce` recognises its own claim whatever the client does.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { StoreError } from '../../src/errors.js'
import { claimOnce } from '../../src/storage/claim-once.js'
import { createRedisStore, type RedisStoreOptions } from '../../src/storage/redis.js'
import type { Store } from '../../src/storage/store.js'
import { lossyProxy, type LossyProxy } from '../helpers/lossy-proxy.js'

const REDIS_URL = process.env.REDIS_URL
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (!REDIS_URL) {
  if (IN_CI) {
    it('has a Redis server to run the network fault tests against', () => {
      throw new Error('REDIS_URL is not set: CI must run the network fault tests against Redis')
    })
  } else {
    it.skip('network fault tests need REDIS_URL (skipped: no Redis)', () => undefined)
  }
} else {
  const redisUrl = REDIS_URL
  const target = new URL(redisUrl)
  const targetPort = Number(target.port || 6379)
  let proxy: LossyProxy
  let store: Store
  let direct: Store
  const clients: Redis[] = []

  /** A store through a fresh proxy, and one straight to Redis with the same prefix. */
  async function open(options: Omit<RedisStoreOptions, 'keyPrefix'> = {}): Promise<void> {
    proxy = await lossyProxy(targetPort, target.hostname)
    const keyPrefix = `net-faults-store:${randomUUID()}:`
    store = createRedisStore({
      ...(options.client === undefined ? { url: `redis://127.0.0.1:${String(proxy.port)}` } : {}),
      ...options,
      keyPrefix,
    })
    direct = createRedisStore({ url: redisUrl, keyPrefix })
  }

  afterEach(async () => {
    await store.close()
    await direct.close()
    for (const client of clients.splice(0)) client.disconnect()
    await proxy.close()
  })

  describe('redis store: a lost reply', () => {
    it('take rejects with StoreError instead of answering "absent" after sending GETDEL again', async () => {
      await open({ commandTimeoutMs: 500 })
      await store.set('txn', { state: 1 }, { ttlSeconds: 60 })
      await store.take('warm-up') // the script is loaded: the next take goes by EVALSHA
      proxy.loseNextReplyTo('evalsha')
      const taken = store.take('txn')
      await expect(taken).rejects.toBeInstanceOf(StoreError)
      await expect(taken).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect(proxy.fired()).toBe(true)
    })

    it('commit rejects with StoreError instead of answering "not applied" after running again', async () => {
      await open({ commandTimeoutMs: 500 })
      await store.set('live', 1)
      await store.commit({})
      proxy.loseNextReplyTo('evalsha')
      const step = store.commit({
        require: ['live'],
        delete: ['live'],
        set: [{ key: 'spent', value: 1 }],
      })
      await expect(step).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect(proxy.fired()).toBe(true)
      expect(await direct.get('spent')).toBe(1) // it did apply, once: the caller's marker says so
    })

    it('claimOnce recognises its own claim when the reply is lost', async () => {
      await open({ commandTimeoutMs: 500 })
      await store.setIfAbsent('warm-up', 1)
      proxy.loseNextReplyTo('evalsha')
      expect(await claimOnce(store, 'jti:a', 60)).toBe(true)
      expect(proxy.fired()).toBe(true)
      expect(await claimOnce(store, 'jti:a', 60)).toBe(false)
    })

    it('claimOnce recognises its own claim when a caller-supplied client sends it again', async () => {
      // ioredis's defaults resend a command whose reply was lost: SET NX then answers "taken".
      proxy = await lossyProxy(targetPort, target.hostname)
      const resending = new Redis(proxy.port, '127.0.0.1', { lazyConnect: true })
      clients.push(resending)
      const keyPrefix = `net-faults-store:${randomUUID()}:`
      store = createRedisStore({ client: resending, keyPrefix })
      direct = createRedisStore({ url: redisUrl, keyPrefix })
      await store.setIfAbsent('warm-up', 1)
      proxy.loseNextReplyTo('evalsha')
      expect(await claimOnce(store, 'jti:b', 60)).toBe(true)
      expect(proxy.fired()).toBe(true)
      expect(await claimOnce(store, 'jti:b', 60)).toBe(false)
    })
  })

  describe('redis store: a stall longer than the command timeout', () => {
    it('setIfAbsent rejects, and its write never lands when the command arrives late', async () => {
      await open({ commandTimeoutMs: 300 })
      await store.setIfAbsent('warm-up', 1)
      proxy.stallOnNext('evalsha', 1000)
      await expect(store.setIfAbsent('jti:c', 1, { ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      expect(proxy.fired()).toBe(true)
      await sleep(1200) // the stalled command has reached Redis by now
      expect(await direct.get('jti:c')).toBeUndefined()
      expect(await store.setIfAbsent('jti:c', 1, { ttlSeconds: 60 })).toBe(true)
    })

    it('take rejects, and the value is still there when the command arrives late', async () => {
      await open({ commandTimeoutMs: 300 })
      await store.set('txn', { state: 2 }, { ttlSeconds: 60 })
      await store.take('warm-up')
      proxy.stallOnNext('evalsha', 1000)
      await expect(store.take('txn')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      await sleep(1200)
      expect(await store.take('txn')).toEqual({ state: 2 })
    })

    it('commit rejects only once its deadline has passed, and never applies afterwards', async () => {
      await open({ commandTimeoutMs: 300 })
      await store.set('live', 1)
      await store.commit({})
      proxy.stallOnNext('evalsha', 1000)
      const started = Date.now()
      await expect(
        store.commit({ require: ['live'], delete: ['live'], set: [{ key: 'spent', value: 1 }] }),
      ).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect(Date.now() - started).toBeGreaterThanOrEqual(300)
      await sleep(1200)
      expect(await direct.get('live')).toBe(1)
      expect(await direct.get('spent')).toBeUndefined()
    })
  })
}
