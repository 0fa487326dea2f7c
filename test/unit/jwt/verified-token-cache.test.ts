import { describe, expect, it } from 'vitest'
import type { AccessToken } from '../../../src/jwt/access-token.js'
import { VerifiedTokenCache } from '../../../src/jwt/verified-token-cache.js'
import { JWTVerifier } from '../../../src/jwt/verifier.js'
import { AUDIENCE, ISSUER, craftToken, createClock } from '../../helpers/jwt-fixtures.js'

function accessToken(token: string): AccessToken {
  return { token, clientId: 'c', scopes: [], claims: {} }
}

describe('VerifiedTokenCache', () => {
  it('returns a held token until its deadline, never at or after it', () => {
    const cache = new VerifiedTokenCache()
    cache.set('t', accessToken('t'), 2000, 1000)
    expect(cache.get('t', 1999)?.token).toBe('t')
    expect(cache.get('t', 2000)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('does not store a token whose deadline has passed', () => {
    const cache = new VerifiedTokenCache()
    cache.set('t', accessToken('t'), 1000, 1000)
    expect(cache.size).toBe(0)
  })

  it('stays bounded under 100k distinct tokens and always holds the newest', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 1000 })
    let max = 0
    for (let i = 0; i < 100_000; i++) {
      cache.set(`token-${i}`, accessToken(`token-${i}`), 10_000, 0)
      max = Math.max(max, cache.size)
      expect(cache.get(`token-${i}`, 1)?.token).toBe(`token-${i}`)
    }
    expect(max).toBe(1000)
    expect(cache.size).toBe(1000)
  })

  it('answers a hit in well under 5 µs', () => {
    const cache = new VerifiedTokenCache()
    const token = 'x'.repeat(800)
    cache.set(token, accessToken(token), Number.MAX_SAFE_INTEGER, 0)
    for (let i = 0; i < 10_000; i++) cache.get(token, 1)
    const rounds = 100_000
    const started = performance.now()
    for (let i = 0; i < rounds; i++) cache.get(token, 1)
    const microseconds = ((performance.now() - started) * 1000) / rounds
    expect(microseconds).toBeLessThan(5)
  })

  /** Looks each token up and, on a miss, stores it, as a verifier does; the share of hits. */
  function hitRate(cache: VerifiedTokenCache, tokens: readonly string[], passes: number): number {
    let hits = 0
    for (let pass = 0; pass < passes; pass++) {
      for (const token of tokens) {
        if (cache.get(token, 1) !== undefined) hits++
        else cache.set(token, accessToken(token), 10_000, 1)
      }
    }
    return hits / (passes * tokens.length)
  }

  it('keeps most hits when more tokens than it holds come in turn (least recently used keeps none)', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 1000 })
    const tokens = Array.from({ length: 1200 }, (_, i) => `token-${i}`)
    hitRate(cache, tokens, 3) // settle
    // Simulated: 0.56 for two random choices; least recently used drops each token just before
    // it comes back, so every lookup would miss.
    expect(hitRate(cache, tokens, 10)).toBeGreaterThan(0.4)
    expect(cache.size).toBe(1000)
  })

  it('keeps a token in use while new ones keep arriving', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 100 })
    const hot = 'token-in-use'
    let hotHits = 0
    for (let i = 0; i < 10_000; i++) {
      if (hitRate(cache, [hot], 1) === 1) hotHits++
      cache.set(`new-${i}`, accessToken(`new-${i}`), 10_000, 1)
    }
    // It is dropped only when both draws fall on it (1 in 10,000 per new token here).
    expect(hotHits / 10_000).toBeGreaterThan(0.99)
  })

  it('replaces the value and deadline of a token set again, without growing', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2 })
    const first = accessToken('t')
    const second = accessToken('t')
    cache.set('t', first, 1000, 0)
    cache.set('t', second, 5000, 0)
    expect(cache.size).toBe(1)
    expect(cache.get('t', 2000)).toBe(second)
  })

  it('drops an expired entry when met and reuses its slot before evicting', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2 })
    cache.set('short', accessToken('short'), 100, 0)
    cache.set('long', accessToken('long'), 10_000, 0)
    expect(cache.get('short', 100)).toBeUndefined()
    expect(cache.size).toBe(1)
    cache.set('new', accessToken('new'), 10_000, 100)
    // The freed slot was used: nothing live was evicted.
    expect(cache.get('long', 101)?.token).toBe('long')
    expect(cache.get('new', 101)?.token).toBe('new')
    expect(cache.size).toBe(2)
  })

  it('forgets one token on delete and all on clear, and works as before afterwards', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2 })
    cache.set('a', accessToken('a'), 10_000, 0)
    cache.set('b', accessToken('b'), 10_000, 0)
    cache.delete('a')
    cache.delete('absent')
    expect(cache.get('a', 1)).toBeUndefined()
    expect(cache.size).toBe(1)
    cache.set('c', accessToken('c'), 10_000, 0)
    expect(cache.get('b', 1)?.token).toBe('b')
    cache.clear()
    expect(cache.size).toBe(0)
    expect(cache.get('b', 1)).toBeUndefined()
    for (const name of ['x', 'y', 'z']) cache.set(name, accessToken(name), 10_000, 0)
    expect(cache.size).toBe(2)
    expect(cache.get('z', 1)?.token).toBe('z')
  })

  it('never answers for a token that differs from a held one, even in one character', () => {
    const cache = new VerifiedTokenCache()
    const token = `${'h'.repeat(40)}.${'p'.repeat(400)}.${'s'.repeat(342)}`
    cache.set(token, accessToken(token), 10_000, 0)
    const changed = `${token.slice(0, -1)}t`
    expect(cache.get(changed, 1)).toBeUndefined()
    expect(cache.get(token.slice(0, -1), 1)).toBeUndefined()
    expect(cache.get(`${token}x`, 1)).toBeUndefined()
    // An equal string built separately is the same token.
    expect(cache.get(token.slice(0, 200) + token.slice(200), 1)?.token).toBe(token)
  })

  it('tells apart tokens that end alike: a hit needs the whole token, a set takes over the slot', () => {
    const cache = new VerifiedTokenCache()
    const signature = 's'.repeat(342)
    const held = `header.payload-a.${signature}`
    const forged = `header.payload-b.${signature}`
    cache.set(held, accessToken(held), 10_000, 0)
    expect(cache.get(forged, 1)).toBeUndefined()
    cache.delete(forged)
    expect(cache.get(held, 1)?.token).toBe(held)
    // A second verified token with the same end replaces the first (which then misses).
    cache.set(forged, accessToken(forged), 10_000, 1)
    expect(cache.size).toBe(1)
    expect(cache.get(held, 2)).toBeUndefined()
    expect(cache.get(forged, 2)?.token).toBe(forged)
    cache.delete(forged)
    expect(cache.size).toBe(0)
  })

  it('refuses a non-positive size', () => {
    expect(() => new VerifiedTokenCache({ maxEntries: 0 })).toThrow(TypeError)
    expect(() => new VerifiedTokenCache({ maxEntries: 1.5 })).toThrow(TypeError)
  })
})

describe('JWTVerifier verified-token cache', () => {
  const secret = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!')
  const clock = createClock()
  const make = (cache: { maxEntries?: number; maxTtlSeconds?: number } | false) =>
    new JWTVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      sharedSecret: secret,
      algorithms: ['HS256'],
      now: clock.now,
      cache,
    })
  const hs = (claims: Record<string, unknown>) =>
    craftToken(
      { alg: 'HS256' },
      { iss: ISSUER, aud: AUDIENCE, ...claims },
      { secret, alg: 'HS256' },
    )

  it('serves a repeated token from the cache, the same frozen object', async () => {
    const verifier = make({})
    const token = await hs({ exp: Math.floor(clock.now() / 1000) + 600, scope: 'a' })
    const first = await verifier.verify(token)
    expect(await verifier.verify(token)).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.scopes)).toBe(true)
    expect(Object.isFrozen(first.claims)).toBe(true)
  })

  it('never serves a cached token past its exp', async () => {
    const verifier = make({})
    const exp = Math.floor(clock.now() / 1000) + 10
    const token = await hs({ exp })
    await verifier.verify(token)
    clock.advance(10_000)
    // The cache entry is gone at exp; the fresh check still allows the 30 s skew.
    const again = await verifier.verify(token)
    expect(again.expiresAt).toBe(exp)
    clock.advance(31_000)
    expect(await verifier.verifyToken(token)).toBeUndefined()
  })

  it('stays bounded with many distinct verified tokens', async () => {
    const verifier = make({ maxEntries: 50 })
    const exp = Math.floor(clock.now() / 1000) + 600
    const tokens = await Promise.all(
      Array.from({ length: 500 }, (_, i) => hs({ exp, jti: `${i}` })),
    )
    for (const token of tokens) expect(await verifier.verifyToken(token)).toBeDefined()
    // The first token was evicted: a second check must parse it again (new object).
    const first = tokens[0]!
    const a = await verifier.verify(first)
    expect(await verifier.verify(first)).toBe(a)
  })

  it('refuses the signature of a cached token on another payload', async () => {
    const verifier = make({})
    const exp = Math.floor(clock.now() / 1000) + 600
    const token = await hs({ exp, scope: 'read' })
    expect(await verifier.verifyToken(token)).toBeDefined()
    const other = await hs({ exp, scope: 'admin' })
    const spliced = `${other.split('.').slice(0, 2).join('.')}.${token.split('.')[2]}`
    expect(await verifier.verifyToken(spliced)).toBeUndefined()
    expect((await verifier.verifyToken(token))?.scopes).toEqual(['read'])
  })

  it('can be switched off', async () => {
    const verifier = make(false)
    const token = await hs({ exp: Math.floor(clock.now() / 1000) + 600 })
    expect(await verifier.verify(token)).not.toBe(await verifier.verify(token))
  })
})
