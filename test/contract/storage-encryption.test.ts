/**
 * The encrypted store with both value ciphers: Web Crypto (the default) and `nodeValueCipher`
 * (node:crypto, injected by the Node entry points). Both must write the same envelope: a value
 * sealed by one opens with the other, in both directions, and both refuse the same tampering with
 * the same `StoreError`.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeValueCipher } from '../../src/adapters/node.js'
import { StoreError } from '../../src/errors.js'
import { createEncryptedStore, webCryptoValueCipher } from '../../src/index.js'
import type { Envelope, ValueCipherFactory } from '../../src/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'
import { storageContract } from './storage.contract.js'

const REDIS_URL = process.env.REDIS_URL
const SECRET = 'a secret for the encryption tests, 32+ bytes long'
const BINARY_SECRET = crypto.getRandomValues(new Uint8Array(48))
const OTHER_SECRET = 'another secret that is long enough: 32+ bytes'
// Multi-byte UTF-8 (2, 3 and 4 bytes), a long string and nesting: the JSON text is sealed as bytes.
const VALUE = {
  subject: 'ünïcødé-用户-🔑',
  scopes: ['mcp:read', 'mcp:write'],
  long: 'x'.repeat(5000),
  nested: { n: 1.5, flag: true, none: null },
}
const DECRYPT_MESSAGE =
  'cannot decrypt stored value: the configured secret does not match the one it was written with, or the value was tampered with'

const CIPHERS: [string, ValueCipherFactory][] = [
  ['Web Crypto', webCryptoValueCipher],
  ['node:crypto', nodeValueCipher],
]
const PAIRS = CIPHERS.flatMap(([writer, w]) =>
  CIPHERS.map(([reader, r]) => [writer, reader, w, r] as const),
)

async function rejection(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => new Error('expected a rejection, got a value'),
    (reason: unknown) => reason,
  )
}

function expectDecryptError(error: unknown): void {
  expect(error).toBeInstanceOf(StoreError)
  expect(error).toMatchObject({ code: 'ERR_STORE_DECRYPT', message: DECRYPT_MESSAGE })
}

storageContract('encrypted memory (node:crypto)', async () => ({
  store: await createEncryptedStore(createMemoryStore(), {
    secret: SECRET,
    valueCipher: nodeValueCipher,
  }),
}))

storageContract(
  'encrypted sqlite (node:crypto)',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-enc-'))
    const open = () =>
      createEncryptedStore(createSqliteStore({ dataDir: dir }), {
        secret: SECRET,
        valueCipher: nodeValueCipher,
      })
    return {
      store: await open(),
      reopen: open,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    }
  },
  { persistent: true },
)

describe.each(PAIRS)('sealed with %s, opened with %s', (_w, _r, writeWith, readWith) => {
  it('reads back every value written, through get, take and commit', async () => {
    const inner = createMemoryStore()
    const writer = await createEncryptedStore(inner, { secret: SECRET, valueCipher: writeWith })
    const reader = await createEncryptedStore(inner, { secret: SECRET, valueCipher: readWith })
    await writer.set('a', VALUE, { ttlSeconds: 60 })
    expect(await writer.setIfAbsent('b', 'just a string')).toBe(true)
    expect(await writer.commit({ set: [{ key: 'c', value: [1, 'two', { three: 3 }] }] })).toBe(true)
    expect(await reader.get('a')).toEqual(VALUE)
    expect(await reader.take('b')).toBe('just a string')
    expect(await reader.get('c')).toEqual([1, 'two', { three: 3 }])
  })

  it('derives the same key from a binary secret and a custom info', async () => {
    const inner = createMemoryStore()
    const options = { secret: BINARY_SECRET, info: 'another-use' }
    const writer = await createEncryptedStore(inner, { ...options, valueCipher: writeWith })
    const reader = await createEncryptedStore(inner, { ...options, valueCipher: readWith })
    await writer.set('key', VALUE)
    expect(await reader.get('key')).toEqual(VALUE)
    const otherInfo = await createEncryptedStore(inner, {
      secret: BINARY_SECRET,
      valueCipher: readWith,
    })
    expectDecryptError(await rejection(otherInfo.get('key')))
  })

  it('refuses a value written with another secret', async () => {
    const inner = createMemoryStore()
    const writer = await createEncryptedStore(inner, { secret: SECRET, valueCipher: writeWith })
    const reader = await createEncryptedStore(inner, {
      secret: OTHER_SECRET,
      valueCipher: readWith,
    })
    await writer.set('key', VALUE)
    expectDecryptError(await rejection(reader.get('key')))
    expectDecryptError(await rejection(reader.take('key')))
  })

  it('refuses a ciphertext moved to another key (the key is authenticated data)', async () => {
    const inner = createMemoryStore()
    const writer = await createEncryptedStore(inner, { secret: SECRET, valueCipher: writeWith })
    const reader = await createEncryptedStore(inner, { secret: SECRET, valueCipher: readWith })
    await writer.set('grant:alice', { role: 'admin' })
    await inner.set('grant:mallory', await inner.get('grant:alice'))
    expectDecryptError(await rejection(reader.get('grant:mallory')))
  })

  it.each([
    ['a flipped ciphertext byte', (e: Envelope) => ({ ...e, ct: flipFirst(e.ct) })],
    ['a flipped tag byte', (e: Envelope) => ({ ...e, ct: flipLast(e.ct) })],
    ['another IV', (e: Envelope) => ({ ...e, iv: flipFirst(e.iv) })],
    ['a truncated ciphertext', (e: Envelope) => ({ ...e, ct: e.ct.slice(0, 16) })],
    ['an empty ciphertext', (e: Envelope) => ({ ...e, ct: '' })],
    ['an empty IV', (e: Envelope) => ({ ...e, iv: '' })],
    ['another envelope version', (e: Envelope) => ({ ...e, v: 2 })],
    ['a plaintext leftover', () => ({ token: 'plain' })],
  ])('refuses %s', async (_name, tamper) => {
    const inner = createMemoryStore()
    const writer = await createEncryptedStore(inner, { secret: SECRET, valueCipher: writeWith })
    const reader = await createEncryptedStore(inner, { secret: SECRET, valueCipher: readWith })
    await writer.set('key', VALUE)
    const envelope = (await inner.get<Envelope>('key'))!
    await inner.set('key', tamper(envelope))
    expectDecryptError(await rejection(reader.get('key')))
  })
})

describe.each(CIPHERS)('encrypted store with %s', (_name, valueCipher) => {
  it('stores an envelope of a 96-bit IV and the ciphertext with its 128-bit tag', async () => {
    const inner = createMemoryStore()
    const store = await createEncryptedStore(inner, { secret: SECRET, valueCipher })
    await store.set('key', 'abc')
    const envelope = (await inner.get<Envelope>('key'))!
    expect(envelope).toEqual({ v: 1, iv: expect.any(String), ct: expect.any(String) })
    expect(envelope.iv).toMatch(/^[A-Za-z0-9_-]{16}$/)
    // '"abc"' is 5 bytes: 5 + 16 bytes of tag = 21 bytes = 28 base64url characters unpadded.
    expect(envelope.ct).toMatch(/^[A-Za-z0-9_-]{28}$/)
  })

  it('uses a fresh IV for every value', async () => {
    const inner = createMemoryStore()
    const store = await createEncryptedStore(inner, { secret: SECRET, valueCipher })
    await store.set('a', 'same')
    await store.set('b', 'same')
    const [a, b] = [(await inner.get<Envelope>('a'))!, (await inner.get<Envelope>('b'))!]
    expect(a.iv).not.toBe(b.iv)
    expect(a.ct).not.toBe(b.ct)
  })

  it('rejects, never throws, a value with no JSON form', async () => {
    const store = await createEncryptedStore(createMemoryStore(), { secret: SECRET, valueCipher })
    let set: Promise<void> | undefined
    let commit: Promise<boolean> | undefined
    expect(() => {
      set = store.set('key', () => 1)
      commit = store.commit({
        set: [
          { key: 'a', value: 1 },
          { key: 'b', value: undefined },
        ],
      })
    }).not.toThrow()
    await expect(set).rejects.toThrow(TypeError)
    await expect(commit).rejects.toThrow(TypeError)
    expect(await store.get('a')).toBeUndefined()
  })

  it('returns undefined for a missing key and passes inner failures through', async () => {
    const inner = createMemoryStore()
    const store = await createEncryptedStore(inner, { secret: SECRET, valueCipher })
    expect(await store.get('missing')).toBeUndefined()
    expect(await store.take('missing')).toBeUndefined()
    await inner.close()
    expect(await rejection(store.get('key'))).toMatchObject({ code: 'ERR_STORE_CLOSED' })
  })

  it.skipIf(REDIS_URL === undefined || REDIS_URL === '')(
    'round-trips through Redis, commit included',
    async () => {
      const keyPrefix = `gatehouse-test:${randomUUID()}:`
      const inner: Store = createRedisStore({ url: REDIS_URL ?? '', keyPrefix })
      const store = await createEncryptedStore(inner, { secret: SECRET, valueCipher })
      try {
        await store.set('code', VALUE, { ttlSeconds: 60 })
        const step = {
          require: ['code'],
          delete: ['code'],
          set: [{ key: 'grant', value: VALUE, ttlSeconds: 60 }],
        }
        expect(await store.commit(step)).toBe(true)
        expect(await store.commit(step)).toBe(false)
        expect(await store.take('grant')).toEqual(VALUE)
      } finally {
        await store.delete('grant')
        await store.close()
      }
    },
  )
})

/** The base64url text with its first character changed (another first byte). */
function flipFirst(text: string): string {
  return (text.startsWith('A') ? 'B' : 'A') + text.slice(1)
}

/** The base64url text with a bit of its last whole byte changed (the tag's last byte). */
function flipLast(text: string): string {
  // The last character of an unpadded encoding may carry only padding bits: change the one before.
  const index = text.length - 2
  const swapped = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + swapped + text.slice(index + 1)
}
