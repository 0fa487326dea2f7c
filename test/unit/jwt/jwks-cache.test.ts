import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../src/errors.js'
import { JWKSCache } from '../../../src/jwt/jwks-cache.js'
import type { JWKSet } from '../../../src/jwt/jwk.js'
import { webCryptoSignatureVerifier } from '../../../src/jwt/signature.js'
import type { SignatureVerifierFactory } from '../../../src/jwt/signature.js'
import { JWTVerifier } from '../../../src/jwt/verifier.js'
import type { JWTVerifierOptions } from '../../../src/jwt/verifier.js'
import {
  AUDIENCE,
  ISSUER,
  baseClaims,
  createClock,
  createTestKey,
  expectRejected,
  joinToken,
  signToken,
  startJWKSServer,
} from '../../helpers/jwt-fixtures.js'
import type { JWKSServer, TestKey } from '../../helpers/jwt-fixtures.js'

const MINUTE = 60_000
let server: JWKSServer
let k1: TestKey
let clock: ReturnType<typeof createClock>

beforeEach(async () => {
  k1 = await createTestKey('ES256')
  server = await startJWKSServer([k1.publicJwk])
  clock = createClock()
})

afterEach(() => server.close())

function verifier(overrides: Partial<JWTVerifierOptions> = {}): JWTVerifier {
  const cache = overrides.jwksCache
  return new JWTVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: server.jwksUri,
    now: clock.now,
    cache: false,
    ...(cache === undefined ? { allowHttpLoopback: true } : {}),
    ...overrides,
  })
}

function sharedCache(options: ConstructorParameters<typeof JWKSCache>[0] = {}): JWKSCache {
  return new JWKSCache({ allowHttpLoopback: true, now: clock.now, ...options })
}

// Tokens valid at the test clock's current time, however far it was advanced.
function sign(key: TestKey, claims: Record<string, unknown> = {}, header = {}): Promise<string> {
  const now = Math.floor(clock.now() / 1000)
  return signToken(key, { iat: now, exp: now + 3600, ...claims }, header)
}

function unknownKidToken(kid: string, claims: Record<string, unknown> = {}): string {
  return joinToken({ alg: 'ES256', kid }, baseClaims(claims), new Uint8Array(64))
}

describe('JWKSCache', () => {
  it('loads the keys once and then verifies from memory', async () => {
    const v = verifier()
    for (let i = 0; i < 5; i++) expect(await v.verifyToken(await sign(k1))).toBeDefined()
    expect(server.requests).toBe(1)
  })

  it('accepts a rotated-in kid after exactly one refetch once the cooldown has passed', async () => {
    const v = verifier()
    await v.verify(await sign(k1))
    const k2 = await createTestKey('ES256')
    server.setKeys([k1.publicJwk, k2.publicJwk])
    const rotated = await sign(k2)
    await expectRejected(v, rotated, 'unknown_kid') // within the cooldown: no refetch
    expect(server.requests).toBe(1)
    clock.advance(5 * MINUTE)
    expect(await v.verifyToken(rotated)).toBeDefined()
    expect(server.requests).toBe(2)
    expect(await v.verifyToken(await sign(k1))).toBeDefined() // old kid still listed
    server.setKeys([k2.publicJwk])
    clock.advance(61 * MINUTE) // TTL: the removed kid is gone after the next load
    await expectRejected(v, await sign(k1), 'unknown_kid')
    expect(await v.verifyToken(await sign(k2))).toBeDefined()
  })

  it('refetches at most once per cooldown under a flood of 1000 unknown kids', async () => {
    const v = verifier()
    const flood = async () => {
      const tokens = Array.from({ length: 1000 }, (_, i) =>
        unknownKidToken(`kid-${i}-${clock.now()}`),
      )
      const results = await Promise.all(tokens.map((t) => v.verifyToken(t)))
      expect(results.every((r) => r === undefined)).toBe(true)
    }
    await flood()
    expect(server.requests).toBe(1) // the cold load; unknown kids right after it wait
    clock.advance(MINUTE)
    await flood()
    expect(server.requests).toBe(1)
    clock.advance(4 * MINUTE)
    await flood()
    expect(server.requests).toBe(2)
  })

  it('evicts the least recently used of 33 issuers, which then refetches', async () => {
    const cache = sharedCache({ maxIssuers: 32 })
    const issuers = Array.from({ length: 33 }, (_, i) => `https://idp${i}.test`)
    const verifiers = issuers.map((issuer) => verifier({ issuer, jwksCache: cache }))
    const tokens = await Promise.all(issuers.map((iss) => sign(k1, { iss })))
    for (let i = 0; i < 32; i++) await verifiers[i]!.verify(tokens[i]!)
    expect(server.requests).toBe(32)
    await verifiers[0]!.verify(tokens[0]!) // issuer 1 is now the least recently used
    await verifiers[32]!.verify(tokens[32]!)
    expect(server.requests).toBe(33)
    expect(cache.size).toBe(32)
    await verifiers[0]!.verify(tokens[0]!)
    expect(server.requests).toBe(33)
    await verifiers[1]!.verify(tokens[1]!)
    expect(server.requests).toBe(34)
  })

  it('keeps verifying with the cached keys when the JWKS server is stopped', async () => {
    const v = verifier()
    await v.verify(await sign(k1))
    await server.close()
    clock.advance(2 * 60 * MINUTE) // past the TTL: the reload fails, the old keys stay
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
  })

  it('stops serving stale keys after maxStaleMs', async () => {
    const cache = sharedCache({ maxStaleMs: 3 * 60 * MINUTE })
    const v = verifier({ jwksCache: cache })
    await v.verify(await sign(k1))
    server.fail(503)
    clock.advance(2 * 60 * MINUTE)
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
    clock.advance(2 * 60 * MINUTE)
    await expect(v.verifyToken(await sign(k1))).rejects.toBeInstanceOf(UpstreamError)
  })

  it('reports an unreachable key source as UpstreamError without the remote body', async () => {
    server.fail(500)
    const v = verifier()
    const error: unknown = await v.verify(await sign(k1)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as Error).message).not.toContain('secret-upstream-body')
    await expect(v.verifyToken(await sign(k1))).rejects.toBeInstanceOf(UpstreamError)
  })

  it('waits before retrying a failed cold load, then recovers', async () => {
    server.fail(500)
    const v = verifier()
    await expect(v.verifyToken(await sign(k1))).rejects.toBeInstanceOf(UpstreamError)
    await expect(v.verifyToken(await sign(k1))).rejects.toBeInstanceOf(UpstreamError)
    expect(server.requests).toBe(1)
    server.fail(false)
    clock.advance(10_000)
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
    expect(server.requests).toBe(2)
  })

  it('coalesces 10 concurrent cold verifications into one fetch', async () => {
    const v = verifier()
    const tokens = await Promise.all(Array.from({ length: 10 }, () => sign(k1)))
    const results = await Promise.all(tokens.map((t) => v.verifyToken(t)))
    expect(results.every((r) => r !== undefined)).toBe(true)
    expect(server.requests).toBe(1)
  })

  it('shares keys between verifiers of the same issuer and JWKS URL', async () => {
    const cache = sharedCache()
    const a = verifier({ jwksCache: cache })
    const b = verifier({ jwksCache: cache, requiredScopes: ['mcp:read'] })
    await a.verify(await sign(k1))
    await b.verify(await sign(k1))
    expect(server.requests).toBe(1)
  })

  it('replaces a reused kid with its new key on refetch (JWT-21)', async () => {
    const v = verifier()
    await v.verify(await sign(k1))
    const replacement = await createTestKey('ES256', k1.kid)
    server.setKeys([replacement.publicJwk])
    const token = await sign(replacement)
    await expectRejected(v, token, 'bad_signature')
    expect(server.requests).toBe(1)
    clock.advance(5 * MINUTE)
    expect(await v.verifyToken(token)).toBeDefined()
    expect(server.requests).toBe(2)
    await expectRejected(v, await sign(k1), 'bad_signature')
  })

  it('imports a key once per (issuer, kid, alg) and keeps it across unchanged reloads', async () => {
    let imports = 0
    const counting: SignatureVerifierFactory = {
      importKey(jwk, alg) {
        imports++
        return webCryptoSignatureVerifier.importKey(jwk, alg)
      },
    }
    const v = verifier({ signatureVerifier: counting })
    await Promise.all([sign(k1), sign(k1), sign(k1)].map(async (t) => v.verify(await t)))
    expect(imports).toBe(1)
    clock.advance(61 * MINUTE)
    await v.verify(await sign(k1))
    expect(server.requests).toBe(2)
    expect(imports).toBe(1)
  })

  it('finds keys through OpenID discovery and checks the issuer it names', async () => {
    const v = verifier({ jwksUri: undefined, discoveryUrl: server.url })
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
    expect(server.paths).toEqual(['/.well-known/openid-configuration', '/jwks'])

    server.setIssuer('https://evil.test')
    const w = verifier({ jwksUri: undefined, discoveryUrl: server.discoveryUrl })
    await expect(w.verifyToken(await sign(k1))).rejects.toBeInstanceOf(UpstreamError)
  })

  it('calls a local key function like a JWKS fetch: once, then per cooldown', async () => {
    let calls = 0
    const keys = (): Promise<JWKSet> => {
      calls++
      return Promise.resolve({ keys: [k1.publicJwk] })
    }
    const v = verifier({ jwksUri: undefined, keys })
    await v.verify(await sign(k1))
    await v.verify(await sign(k1))
    await v.verifyToken(unknownKidToken('nope'))
    expect(calls).toBe(1)
    clock.advance(5 * MINUTE)
    await v.verifyToken(unknownKidToken('nope'))
    expect(calls).toBe(2)
  })

  it('uses a static key set without any fetch', async () => {
    const v = verifier({ jwksUri: undefined, jwks: { keys: [k1.publicJwk] } })
    expect(await v.verifyToken(await sign(k1))).toBeDefined()
    expect(server.requests).toBe(0)
  })

  it('verifies a token without kid only when exactly one key fits', async () => {
    const k2 = await createTestKey('ES256')
    const noKid = (key: TestKey) => ({ ...key.publicJwk, kid: undefined })
    const one = verifier({ jwksUri: undefined, jwks: { keys: [noKid(k1)] } })
    const token = await sign(k1, {}, { kid: undefined })
    expect(await one.verifyToken(token)).toBeDefined()
    const two = verifier({ jwksUri: undefined, jwks: { keys: [noKid(k1), noKid(k2)] } })
    await expectRejected(two, token, 'unknown_kid')
  })
})
