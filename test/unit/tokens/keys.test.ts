import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'

import { StoreError } from '../../../src/errors.js'
import { createMemoryStore } from '../../../src/storage/memory.js'
import type { Store } from '../../../src/storage/store.js'
import { signAccessToken } from '../../../src/tokens/access-token.js'
import { SigningKeys } from '../../../src/tokens/keys.js'
import type { SigningAlgorithm } from '../../../src/tokens/keys.js'

const TTL = 3600
const T0 = Date.UTC(2026, 0, 1)

interface StoredSet {
  keys: { kid: string; alg: string; use: string; createdAt: number; retiredAt?: number }[]
}

function clock(start = T0): { now: () => number; advance: (seconds: number) => void } {
  let t = start
  return { now: () => t, advance: (seconds) => (t += seconds * 1000) }
}

async function issue(keys: SigningKeys, now?: () => number): Promise<string> {
  const claims = {
    issuer: 'https://as.test',
    subject: 'user-1',
    audience: 'https://mcp.test/mcp',
    clientId: 'client-1',
    scopes: ['read'],
    grantId: 'grant-1',
    ttlSeconds: TTL,
  }
  const { token } = await signAccessToken(keys, now ? { ...claims, now } : claims)
  return token
}

function verify(token: string, keys: SigningKeys, now = Date.now()) {
  return jwtVerify(token, createLocalJWKSet(keys.jwks()), {
    issuer: 'https://as.test',
    audience: 'https://mcp.test/mcp',
    typ: 'at+jwt',
    currentDate: new Date(now),
  })
}

describe('SigningKeys', () => {
  it('generates and persists a first key on first start', async () => {
    const store = createMemoryStore()
    const keys = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL })
    const stored = await store.get<StoredSet>('signing-keys')
    expect(stored?.keys).toHaveLength(1)
    expect(stored?.keys[0]).toMatchObject({ kid: keys.current().kid, alg: 'RS256', use: 'sig' })
    expect(keys.current().alg).toBe('RS256')
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([keys.current().kid])
  })

  it('uses an RFC 7638 thumbprint as kid', async () => {
    const keys = await SigningKeys.load({ store: createMemoryStore(), accessTokenTtlSeconds: TTL })
    expect(keys.current().kid).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('loads the same key on a second start', async () => {
    const store = createMemoryStore()
    const first = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL })
    const second = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL })
    expect(second.current().kid).toBe(first.current().kid)
    // A token from one instance verifies against the other's JWKS.
    await expect(verify(await issue(first), second)).resolves.toBeDefined()
  })

  it('agrees on one key when several instances start at once on a fresh store', async () => {
    const store = createMemoryStore()
    const all = await Promise.all(
      Array.from({ length: 5 }, () =>
        SigningKeys.load({ store, algorithm: 'ES256', accessTokenTtlSeconds: TTL }),
      ),
    )
    const kids = new Set(all.map((keys) => keys.current().kid))
    expect(kids.size).toBe(1)
    expect((await store.get<StoredSet>('signing-keys'))?.keys).toHaveLength(1)
  })

  it('keeps a retired key in the JWKS until accessTokenTtl has passed after rotation', async () => {
    const time = clock()
    const store = createMemoryStore({ now: time.now })
    const keys = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL, now: time.now })
    const oldKid = keys.current().kid
    const oldToken = await issue(keys, time.now)

    time.advance(100)
    await keys.rotate()
    const newKid = keys.current().kid
    expect(newKid).not.toBe(oldKid)
    expect(
      keys
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([oldKid, newKid].sort())
    await expect(verify(oldToken, keys, time.now())).resolves.toBeDefined()
    expect(decodeProtectedHeader(await issue(keys, time.now)).kid).toBe(newKid)

    time.advance(TTL - 1)
    expect(keys.jwks().keys.map((k) => k.kid)).toContain(oldKid)

    time.advance(1)
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([newKid])
  })

  it('records the retirement in the store and drops keys past their window on the next rotation', async () => {
    const time = clock()
    const store = createMemoryStore({ now: time.now })
    const keys = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL, now: time.now })
    const first = keys.current().kid
    await keys.rotate()
    let stored = await store.get<StoredSet>('signing-keys')
    expect(stored?.keys.find((k) => k.kid === first)?.retiredAt).toBe(T0 / 1000)

    time.advance(TTL)
    await keys.rotate()
    stored = await store.get<StoredSet>('signing-keys')
    expect(stored?.keys.map((k) => k.kid)).not.toContain(first)
    expect(stored?.keys).toHaveLength(2)
  })

  it('lets another instance pick up a rotation through refresh()', async () => {
    const store = createMemoryStore()
    const a = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL })
    const b = await SigningKeys.load({ store, accessTokenTtlSeconds: TTL })
    await a.rotate()
    expect(b.current().kid).not.toBe(a.current().kid)
    await b.refresh()
    expect(b.current().kid).toBe(a.current().kid)
    expect(b.jwks().keys).toHaveLength(2)
  })

  it('imports a key once and reuses it across calls and refreshes', async () => {
    const keys = await SigningKeys.load({ store: createMemoryStore(), accessTokenTtlSeconds: TTL })
    const key = keys.current().key
    await keys.refresh()
    expect(keys.current().key).toBe(key)
    expect(key.extractable).toBe(false)
  })

  it('rotates on refresh once the key is older than rotateAfterSeconds', async () => {
    const time = clock()
    const store = createMemoryStore({ now: time.now })
    const options = { store, accessTokenTtlSeconds: TTL, rotateAfterSeconds: 86_400, now: time.now }
    const keys = await SigningKeys.load(options)
    const first = keys.current().kid
    time.advance(86_399)
    await keys.refresh()
    expect(keys.current().kid).toBe(first)
    time.advance(1)
    await keys.refresh()
    expect(keys.current().kid).not.toBe(first)
  })

  it('rotates only once when several instances find the rotation due at the same time', async () => {
    const time = clock()
    const store = createMemoryStore({ now: time.now })
    const options = { store, accessTokenTtlSeconds: TTL, rotateAfterSeconds: 60, now: time.now }
    const all = await Promise.all([1, 2, 3].map(() => SigningKeys.load(options)))
    time.advance(60)
    await Promise.all(all.map((keys) => keys.refresh()))
    expect(new Set(all.map((keys) => keys.current().kid)).size).toBe(1)
    expect((await store.get<StoredSet>('signing-keys'))?.keys).toHaveLength(2)
  })

  it('rotates to the configured algorithm when the stored key uses another', async () => {
    const store = createMemoryStore()
    const rsa = await SigningKeys.load({ store, algorithm: 'RS256', accessTokenTtlSeconds: TTL })
    const ec = await SigningKeys.load({ store, algorithm: 'ES256', accessTokenTtlSeconds: TTL })
    expect(ec.current().alg).toBe('ES256')
    expect(ec.jwks().keys.map((k) => k.kid)).toContain(rsa.current().kid)
    // A refresh adopts the new key; it does not flip back to the instance's own algorithm.
    await rsa.refresh()
    expect(rsa.current().kid).toBe(ec.current().kid)
  })

  it('throws StoreError for a malformed record', async () => {
    const store: Store = createMemoryStore()
    await store.set('signing-keys', { keys: [{ kid: 'x' }] })
    await expect(SigningKeys.load({ store, accessTokenTtlSeconds: TTL })).rejects.toBeInstanceOf(
      StoreError,
    )
  })

  it('throws TypeError for a non-positive accessTokenTtlSeconds', async () => {
    await expect(
      SigningKeys.load({ store: createMemoryStore(), accessTokenTtlSeconds: 0 }),
    ).rejects.toBeInstanceOf(TypeError)
  })

  describe.each<SigningAlgorithm>(['RS256', 'ES256', 'EdDSA'])('%s', (algorithm) => {
    it('signs a token that jose verifies with the published JWKS', async () => {
      const keys = await SigningKeys.load({
        store: createMemoryStore(),
        algorithm,
        accessTokenTtlSeconds: TTL,
      })
      const token = await issue(keys)
      const { protectedHeader, payload } = await verify(token, keys)
      expect(protectedHeader).toMatchObject({ alg: algorithm, kid: keys.current().kid })
      expect(payload.sub).toBe('user-1')
    })

    it('publishes no private key members', async () => {
      const keys = await SigningKeys.load({
        store: createMemoryStore(),
        algorithm,
        accessTokenTtlSeconds: TTL,
      })
      await keys.rotate()
      const { keys: published } = keys.jwks()
      expect(published).toHaveLength(2)
      for (const jwk of published) {
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
          expect(jwk).not.toHaveProperty(member)
        }
        expect(jwk).toMatchObject({ alg: algorithm, use: 'sig' })
      }
    })
  })
})
