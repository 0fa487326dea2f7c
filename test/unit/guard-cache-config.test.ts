/**
 * `guardCache` through `createGatehouse`: the verified-token cache's size (0: off) and the grant
 * liveness cache's size reach the guard, revocation is still honoured within
 * `revocationCheckSeconds` with any size, and invalid sizes fail at start-up. A cache hit is
 * observable as the same (frozen) token object coming back.
 */
import { describe, expect, it } from 'vitest'
import { resolveConfigWithEnv } from '../../src/config/env.js'
import { ConfigError } from '../../src/errors.js'
import {
  ISSUER,
  RESOURCE,
  SECRET,
  bearer,
  createTestGatehouse,
  form,
  getTokens,
  register,
} from '../helpers/gatehouse.js'

async function twoTokens(t: Awaited<ReturnType<typeof createTestGatehouse>>) {
  const client = await register(t)
  const a = (await getTokens(t, client)).tokens.access_token
  const b = (await getTokens(t, client)).tokens
  return { a, b: b.access_token, refreshB: b.refresh_token ?? '', client }
}

describe('guardCache through createGatehouse', () => {
  it('keeps verified tokens by default: the second verify is a hit', async () => {
    const t = await createTestGatehouse()
    const { a, b } = await twoTokens(t)
    const first = await t.gh.verifier.verifyToken(a)
    await t.gh.verifier.verifyToken(b)
    expect(first).toBeDefined()
    expect(await t.gh.verifier.verifyToken(a)).toBe(first)
  })

  it('holds at most guardCache.tokens tokens, dropping the least recently used', async () => {
    const t = await createTestGatehouse({ config: { guardCache: { tokens: 1 } } })
    const { a, b } = await twoTokens(t)
    const firstA = await t.gh.verifier.verifyToken(a)
    expect(await t.gh.verifier.verifyToken(a)).toBe(firstA)
    const firstB = await t.gh.verifier.verifyToken(b)
    // B took the only slot: A is verified again (a new object), and then B is gone.
    const againA = await t.gh.verifier.verifyToken(a)
    expect(againA).toBeDefined()
    expect(againA).not.toBe(firstA)
    expect(await t.gh.verifier.verifyToken(b)).not.toBe(firstB)
  })

  it('verifies every time with guardCache.tokens 0', async () => {
    const t = await createTestGatehouse({ config: { guardCache: { tokens: 0 } } })
    const { a } = await twoTokens(t)
    const first = await t.gh.verifier.verifyToken(a)
    expect(first).toBeDefined()
    expect(await t.gh.verifier.verifyToken(a)).not.toBe(first)
    expect((await t.mcp(bearer(a))).status).toBe(200)
  })

  it('honours a revocation within revocationCheckSeconds whatever the sizes', async () => {
    const t = await createTestGatehouse({ config: { guardCache: { tokens: 1, grants: 1 } } })
    const { a, b, refreshB, client } = await twoTokens(t)
    expect((await t.mcp(bearer(a))).status).toBe(200)
    expect((await t.mcp(bearer(b))).status).toBe(200)
    await t.call('/revoke', form({ token: refreshB, client_id: client.client_id }))
    // The cached liveness may be trusted for revocationCheckSeconds (5 s), never longer.
    t.clock.advance(6)
    expect((await t.mcp(bearer(b))).status).toBe(401)
    expect((await t.mcp(bearer(a))).status).toBe(200)
  })

  it('refuses sizes out of range at start-up', async () => {
    await expect(createTestGatehouse({ config: { guardCache: { tokens: -1 } } })).rejects.toThrow(
      ConfigError,
    )
    await expect(createTestGatehouse({ config: { guardCache: { grants: 0 } } })).rejects.toThrow(
      ConfigError,
    )
    await expect(
      createTestGatehouse({ config: { guardCache: { tokens: 10, extra: 1 } } }),
    ).rejects.toThrow(ConfigError)
  })

  it('reads GATEHOUSE_GUARD_CACHE__TOKENS and __GRANTS from the environment', () => {
    const file = { issuer: ISSUER, secret: SECRET, resources: [{ url: RESOURCE }] }
    const config = resolveConfigWithEnv(file, {
      GATEHOUSE_GUARD_CACHE__TOKENS: '500',
      GATEHOUSE_GUARD_CACHE__GRANTS: '2000',
    })
    expect(config.guardCache).toEqual({ tokens: 500, grants: 2000 })
    expect(resolveConfigWithEnv(file, {}).guardCache).toEqual({ tokens: 10_000, grants: 100_000 })
  })
})
