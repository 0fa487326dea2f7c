import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/errors.js'
import type { Store } from '../../src/storage/store.js'

/** A fresh, empty store for one test, with what is needed to restart it and clean up after it. */
export interface StoreFixture {
  store: Store
  /** Opens a new store over the same data, as a restarted process would. */
  reopen?: () => Promise<Store>
  /** Removes what the fixture created (files, keys); runs after the store is closed. */
  cleanup?: () => Promise<void>
}

/** Builds a {@link StoreFixture}; called once per test so tests never share state. */
export type StoreFactory = () => Promise<StoreFixture>

// TTL tests wait on the real clock: real backends expire on their own clocks.
const TTL_SECONDS = 1
const PAST_TTL_MS = 1200

const wait = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms)
  })

/** Runs `body` with a fresh fixture, then closes the store and cleans up even when it fails. */
async function withStore(
  factory: StoreFactory,
  body: (fixture: StoreFixture) => Promise<void>,
): Promise<void> {
  const fixture = await factory()
  try {
    await body(fixture)
  } finally {
    await fixture.store.close()
    await fixture.cleanup?.()
  }
}

async function expectClosed(operation: Promise<unknown>): Promise<void> {
  const error: unknown = await operation.then(
    () => new Error('resolved'),
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(StoreError)
  expect((error as StoreError).code).toBe('ERR_STORE_CLOSED')
}

/**
 * Registers the storage contract (the behaviour every `Store` backend must share) as one `describe`
 * block named after the backend.
 *
 * The restart test exists only for persistent backends (`options.persistent`), whose fixtures
 * must then provide `reopen`. The suite takes about two seconds
 * per backend because TTL tests wait on the real clock (they run concurrently with one another).
 */
export function storageContract(
  name: string,
  factory: StoreFactory,
  options: { persistent?: boolean } = {},
): void {
  const withFresh = (body: (fixture: StoreFixture) => Promise<void>) => withStore(factory, body)

  describe(`storage contract: ${name}`, () => {
    it('returns undefined for a key that was never set', () =>
      withFresh(async ({ store }) => {
        expect(await store.get('missing')).toBeUndefined()
      }))

    it.each([
      ['an object', { sub: 'user-1', scopes: ['read', 'write'], nested: { n: 1, ok: true } }],
      ['a string', 'hello'],
      ['a number', 42.5],
      ['an array', [1, 'two', { three: 3 }]],
      ['a boolean', false],
      ['null', null],
    ])('round-trips %s', (_label, value) =>
      withFresh(async ({ store }) => {
        await store.set('value', value)
        expect(await store.get('value')).toEqual(value)
      }),
    )

    it('deletes a key', () =>
      withFresh(async ({ store }) => {
        await store.set('doomed', 'x')
        await store.delete('doomed')
        expect(await store.get('doomed')).toBeUndefined()
      }))

    it('deletes a missing key without error', () =>
      withFresh(async ({ store }) => {
        await expect(store.delete('never-set')).resolves.toBeUndefined()
      }))

    it('overwrites an existing value', () =>
      withFresh(async ({ store }) => {
        await store.set('key', { version: 1 })
        await store.set('key', { version: 2 })
        expect(await store.get('key')).toEqual({ version: 2 })
      }))

    it('rejects a TTL that is not positive with a TypeError', () =>
      withFresh(async ({ store }) => {
        await expect(store.set('key', 'x', { ttlSeconds: 0 })).rejects.toThrow(TypeError)
      }))

    // These wait past a TTL; running them together keeps the suite short. Concurrent tests must
    // use the `expect` of their own context.
    it.concurrent('forgets a value once its TTL has passed', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('short', 'x', { ttlSeconds: TTL_SECONDS })
        expect(await store.get('short')).toBe('x')
        await wait(PAST_TTL_MS)
        expect(await store.get('short')).toBeUndefined()
      }),
    )

    it.concurrent('keeps a value without a TTL', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('forever', 'x')
        await wait(PAST_TTL_MS)
        expect(await store.get('forever')).toBe('x')
      }),
    )

    it.concurrent('drops the earlier TTL when a value is overwritten without one', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('key', 'first', { ttlSeconds: TTL_SECONDS })
        await store.set('key', 'second')
        await wait(PAST_TTL_MS)
        expect(await store.get('key')).toBe('second')
      }),
    )

    it.concurrent('takes nothing once the TTL has passed', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('code', 'x', { ttlSeconds: TTL_SECONDS })
        await wait(PAST_TTL_MS)
        expect(await store.take('code')).toBeUndefined()
      }),
    )

    it.concurrent('lets setIfAbsent write again after the previous value expired', ({ expect }) =>
      withFresh(async ({ store }) => {
        expect(await store.setIfAbsent('once', 'first', { ttlSeconds: TTL_SECONDS })).toBe(true)
        await wait(PAST_TTL_MS)
        expect(await store.setIfAbsent('once', 'second')).toBe(true)
        expect(await store.get('once')).toBe('second')
      }),
    )

    it('returns a taken value once, then undefined', () =>
      withFresh(async ({ store }) => {
        await store.set('code', { grant: 'g1' })
        expect(await store.take('code')).toEqual({ grant: 'g1' })
        expect(await store.take('code')).toBeUndefined()
        expect(await store.get('code')).toBeUndefined()
      }))

    it('takes nothing for a missing key', () =>
      withFresh(async ({ store }) => {
        expect(await store.take('missing')).toBeUndefined()
      }))

    it('gives the value to exactly one of 100 concurrent takes', () =>
      withFresh(async ({ store }) => {
        await store.set('code', 'one-time')
        const results = await Promise.all(Array.from({ length: 100 }, () => store.take('code')))
        expect(results.filter((result) => result !== undefined)).toEqual(['one-time'])
      }))

    it('lets exactly one of 100 concurrent setIfAbsent calls write', () =>
      withFresh(async ({ store }) => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.setIfAbsent('lock', i, { ttlSeconds: 60 })),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        expect(await store.get('lock')).toBe(results.indexOf(true))
      }))

    it('keeps the existing value when setIfAbsent finds the key', () =>
      withFresh(async ({ store }) => {
        await store.set('key', 'existing')
        expect(await store.setIfAbsent('key', 'other')).toBe(false)
        expect(await store.get('key')).toBe('existing')
      }))

    it('commits a step whole when its conditions hold', () =>
      withFresh(async ({ store }) => {
        await store.set('rt:old', { n: 1 })
        await store.set('grant', { g: 1 }, { ttlSeconds: 60 })
        const applied = await store.commit({
          require: ['rt:old', 'grant'],
          absent: ['rt-used:old'],
          delete: ['rt:old'],
          set: [
            { key: 'rt-used:old', value: { by: 'me' }, ttlSeconds: 60 },
            { key: 'rt:new', value: { n: 2 } },
          ],
          expire: [{ key: 'grant', ttlSeconds: 120 }],
        })
        expect(applied).toBe(true)
        expect(await store.get('rt:old')).toBeUndefined()
        expect(await store.get('rt-used:old')).toEqual({ by: 'me' })
        expect(await store.get('rt:new')).toEqual({ n: 2 })
        expect(await store.get('grant')).toEqual({ g: 1 })
      }))

    it('commits nothing when a required key is missing', () =>
      withFresh(async ({ store }) => {
        await store.set('keep', 'x')
        const applied = await store.commit({
          require: ['missing'],
          delete: ['keep'],
          set: [{ key: 'written', value: 1 }],
        })
        expect(applied).toBe(false)
        expect(await store.get('keep')).toBe('x')
        expect(await store.get('written')).toBeUndefined()
      }))

    it('commits nothing when a key that must be absent is present', () =>
      withFresh(async ({ store }) => {
        await store.set('keep', 'x')
        await store.set('marker', 'taken')
        const applied = await store.commit({
          require: ['keep'],
          absent: ['marker'],
          delete: ['keep'],
          set: [{ key: 'marker', value: 'mine' }],
        })
        expect(applied).toBe(false)
        expect(await store.get('keep')).toBe('x')
        expect(await store.get('marker')).toBe('taken')
      }))

    it('commits an empty step', () =>
      withFresh(async ({ store }) => {
        expect(await store.commit({})).toBe(true)
      }))

    it('commits nothing when one value of the step cannot be stored', () =>
      withFresh(async ({ store }) => {
        await store.set('keep', 'x')
        const step = {
          delete: ['keep'],
          set: [
            { key: 'first', value: 1 },
            { key: 'second', value: () => 1 },
          ],
        }
        await expect(store.commit(step)).rejects.toThrow()
        expect(await store.get('keep')).toBe('x')
        expect(await store.get('first')).toBeUndefined()
      }))

    it('rejects a step with a TTL that is not positive with a TypeError', () =>
      withFresh(async ({ store }) => {
        await expect(
          store.commit({ set: [{ key: 'k', value: 1, ttlSeconds: 0 }] }),
        ).rejects.toThrow(TypeError)
        await expect(store.commit({ expire: [{ key: 'k', ttlSeconds: -1 }] })).rejects.toThrow(
          TypeError,
        )
        expect(await store.get('k')).toBeUndefined()
      }))

    it('applies exactly one of 100 concurrent steps that claim one key', () =>
      withFresh(async ({ store }) => {
        await store.set('rt:old', 'live')
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            store.commit({
              require: ['rt:old'],
              absent: ['rt-used:old'],
              delete: ['rt:old'],
              set: [
                { key: 'rt-used:old', value: i, ttlSeconds: 60 },
                { key: `rt:new:${i}`, value: i, ttlSeconds: 60 },
              ],
            }),
          ),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        const winner = results.indexOf(true)
        expect(await store.get('rt-used:old')).toBe(winner)
        for (let i = 0; i < 100; i++) {
          expect(await store.get(`rt:new:${i}`)).toBe(i === winner ? i : undefined)
        }
      }))

    it.concurrent('expires a value written by a step once its TTL has passed', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.commit({ set: [{ key: 'short', value: 'x', ttlSeconds: TTL_SECONDS }] })
        expect(await store.get('short')).toBe('x')
        await wait(PAST_TTL_MS)
        expect(await store.get('short')).toBeUndefined()
      }),
    )

    it.concurrent('renews a lifetime in a step, keeping the value', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('grant', { g: 1 }, { ttlSeconds: TTL_SECONDS })
        expect(await store.commit({ expire: [{ key: 'grant', ttlSeconds: 60 }] })).toBe(true)
        // A renewal of an absent key is skipped: it does not create the key.
        expect(await store.commit({ expire: [{ key: 'missing', ttlSeconds: 60 }] })).toBe(true)
        await wait(PAST_TTL_MS)
        expect(await store.get('grant')).toEqual({ g: 1 })
        expect(await store.get('missing')).toBeUndefined()
      }),
    )

    it.concurrent('treats an expired key as absent in a step', ({ expect }) =>
      withFresh(async ({ store }) => {
        await store.set('gone', 'x', { ttlSeconds: TTL_SECONDS })
        await wait(PAST_TTL_MS)
        expect(await store.commit({ require: ['gone'] })).toBe(false)
        expect(
          await store.commit({ absent: ['gone'], set: [{ key: 'gone', value: 'again' }] }),
        ).toBe(true)
        expect(await store.get('gone')).toBe('again')
      }),
    )

    it('gives a lock to exactly one of 100 concurrent owners', () =>
      withFresh(async ({ store }) => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            store.acquireLock('lock', `owner-${i}`, { ttlSeconds: 60 }),
          ),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        const owner = `owner-${results.indexOf(true)}`
        expect(await store.releaseLock('lock', owner)).toBe(true)
        expect(await store.acquireLock('lock', 'next', { ttlSeconds: 60 })).toBe(true)
      }))

    it('releases a lock only for its owner', () =>
      withFresh(async ({ store }) => {
        expect(await store.acquireLock('lock', 'alice', { ttlSeconds: 60 })).toBe(true)
        expect(await store.releaseLock('lock', 'mallory')).toBe(false)
        expect(await store.acquireLock('lock', 'bob', { ttlSeconds: 60 })).toBe(false)
        expect(await store.releaseLock('lock', 'alice')).toBe(true)
        expect(await store.releaseLock('lock', 'alice')).toBe(false)
        expect(await store.acquireLock('lock', 'bob', { ttlSeconds: 60 })).toBe(true)
      }))

    it('refuses an empty lock owner and a TTL that is not positive with a TypeError', () =>
      withFresh(async ({ store }) => {
        await expect(store.acquireLock('lock', '', { ttlSeconds: 60 })).rejects.toThrow(TypeError)
        await expect(store.acquireLock('lock', 'a', { ttlSeconds: 0 })).rejects.toThrow(TypeError)
        await expect(store.releaseLock('lock', '')).rejects.toThrow(TypeError)
      }))

    it.concurrent(
      'never lets an expired holder release the lock its successor holds (fenced release)',
      ({ expect }) =>
        withFresh(async ({ store }) => {
          expect(await store.acquireLock('lock', 'slow', { ttlSeconds: TTL_SECONDS })).toBe(true)
          await wait(PAST_TTL_MS)
          expect(await store.acquireLock('lock', 'next', { ttlSeconds: 60 })).toBe(true)
          // The first holder outlived its TTL; its late release must leave `next` holding.
          expect(await store.releaseLock('lock', 'slow')).toBe(false)
          expect(await store.acquireLock('lock', 'third', { ttlSeconds: 60 })).toBe(false)
          expect(await store.releaseLock('lock', 'next')).toBe(true)
        }),
    )

    if (options.persistent === true)
      it('keeps values across a restart', async () => {
        await withFresh(async ({ store, reopen }) => {
          if (reopen === undefined) throw new Error('a persistent fixture must provide reopen()')
          await store.set('persisted', { kept: true })
          await store.set('expiring', 'x', { ttlSeconds: 60 })
          await store.close()
          const reopened = await reopen()
          try {
            expect(await reopened.get('persisted')).toEqual({ kept: true })
            expect(await reopened.get('expiring')).toBe('x')
          } finally {
            await reopened.close()
          }
        })
      })

    it('rejects every method with ERR_STORE_CLOSED after close', () =>
      withFresh(async ({ store }) => {
        await store.set('key', 'x')
        await store.close()
        await expectClosed(store.get('key'))
        await expectClosed(store.set('key', 'y'))
        await expectClosed(store.setIfAbsent('other', 'y'))
        await expectClosed(store.take('key'))
        await expectClosed(store.delete('key'))
        await expectClosed(store.commit({ set: [{ key: 'key', value: 'z' }] }))
        await expectClosed(store.acquireLock('lock', 'owner', { ttlSeconds: 60 }))
        await expectClosed(store.releaseLock('lock', 'owner'))
      }))

    it('closes a second time without error', () =>
      withFresh(async ({ store }) => {
        await store.close()
        await expect(store.close()).resolves.toBeUndefined()
      }))

    it.each([
      ['colons', 'client:abc:def::'],
      ['unicode', 'clé-🔑-ключ-鍵'],
      ['500 characters', 'k'.repeat(500)],
      ['spaces, quotes and glob characters', ` it's "a" *key* [with] ?odd\\ chars\n`],
    ])('handles keys with %s', (_label, key) =>
      withFresh(async ({ store }) => {
        await store.set(key, 'value')
        expect(await store.get(key)).toBe('value')
        expect(await store.get(`${key}x`)).toBeUndefined()
        expect(await store.take(key)).toBe('value')
      }),
    )

    it('is not changed by mutating an object after it was set', () =>
      withFresh(async ({ store }) => {
        const value = { scopes: ['read'], meta: { n: 1 } }
        await store.set('key', value)
        value.scopes.push('admin')
        value.meta.n = 2
        expect(await store.get('key')).toEqual({ scopes: ['read'], meta: { n: 1 } })
      }))

    it('is not changed by mutating a value it returned', () =>
      withFresh(async ({ store }) => {
        await store.set('key', { scopes: ['read'] })
        const first = await store.get<{ scopes: string[] }>('key')
        first?.scopes.push('admin')
        expect(await store.get('key')).toEqual({ scopes: ['read'] })
      }))
  })
}
