/**
 * Gatehouse on real stores: state survives a restart on SQLite, and two instances sharing Redis
 * behave as one authorization server (codes, rotation, replay detection, revocation).
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeValueCipher } from '../../src/adapters/node.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'
import { startEnterpriseIdP } from '../helpers/enterprise-idp.js'
import {
  basic,
  bearer,
  createTestGatehouse,
  ISSUER,
  RESOURCE,
  form,
  getCode,
  getTokens,
  postBasic,
  redeemBasic,
  register,
} from '../helpers/gatehouse.js'

const REDIS_URL = process.env.REDIS_URL
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'

describe('Gatehouse on SQLite', () => {
  it('keeps keys, clients, grants and refresh tokens across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gh-persist-'))
    const first = await createTestGatehouse({ store: createSqliteStore({ dataDir }) })
    const { client, tokens } = await getTokens(first)
    const kid = first.gh.keys.current().kid
    await first.gh.close()

    const second = await createTestGatehouse({ store: createSqliteStore({ dataDir }) })
    expect(second.gh.keys.current().kid).toBe(kid)
    expect((await second.mcp(bearer(tokens.access_token))).status).toBe(200)
    const refreshed = await second.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      }),
    )
    expect(refreshed.status).toBe(200)
    await second.gh.close()
  })

  it('keeps its state when the store switches between node:crypto and Web Crypto sealing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gh-persist-'))
    // Sealed with node:crypto (as `gatehouse serve` does): keys, client, code, grant, refresh token.
    const first = await createTestGatehouse({
      store: createSqliteStore({ dataDir }),
      options: { valueCipher: nodeValueCipher },
    })
    const { client, tokens } = await getTokens(first)
    const kid = first.gh.keys.current().kid
    await first.gh.close()

    // Opened with the Web Crypto default: the same signing key, the token and its refresh work.
    const second = await createTestGatehouse({ store: createSqliteStore({ dataDir }) })
    expect(second.gh.keys.current().kid).toBe(kid)
    expect((await second.mcp(bearer(tokens.access_token))).status).toBe(200)
    const refreshed = await second.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      }),
    )
    expect(refreshed.status).toBe(200)
    const rotated = (await refreshed.json()) as { refresh_token: string }
    // A new code flow sealed by Web Crypto, for the node:crypto instance below.
    const { tokens: later } = await getTokens(second, client)
    await second.gh.close()

    const third = await createTestGatehouse({
      store: createSqliteStore({ dataDir }),
      options: { valueCipher: nodeValueCipher },
    })
    expect((await third.mcp(bearer(later.access_token))).status).toBe(200)
    const again = await third.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: rotated.refresh_token,
        client_id: client.client_id,
      }),
    )
    expect(again.status).toBe(200)
    await third.gh.close()
  })

  it('refuses to start with another secret than the data was written with', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gh-persist-'))
    const first = await createTestGatehouse({ store: createSqliteStore({ dataDir }) })
    await first.gh.close()
    await expect(
      createTestGatehouse({
        store: createSqliteStore({ dataDir }),
        config: { secret: 'another-secret-of-at-least-32-bytes!!' },
      }),
    ).rejects.toMatchObject({ code: 'ERR_STORE_DECRYPT' })
  })
})

function sharedRedis(): { a: Store; b: Store } {
  const keyPrefix = `gatehouse-it:${randomUUID()}:`
  return {
    a: createRedisStore({ url: REDIS_URL!, keyPrefix }),
    b: createRedisStore({ url: REDIS_URL!, keyPrefix }),
  }
}

const describeRedis = REDIS_URL ? describe : IN_CI ? describe : describe.skip
describeRedis('two Gatehouse instances sharing Redis', () => {
  if (!REDIS_URL && IN_CI) {
    it('has a Redis server to run against', () => {
      throw new Error('REDIS_URL is not set: CI must run the shared-instance tests against Redis')
    })
    return
  }

  it('a code issued by one instance is redeemed once, and a replay at the other revokes the grant', async () => {
    const { a, b } = sharedRedis()
    const one = await createTestGatehouse({ store: a })
    const two = await createTestGatehouse({ store: b })
    const client = await register(one)
    const code = await getCode(one, client)
    const redeem = (t: typeof one) =>
      t.call(
        '/token',
        form({
          grant_type: 'authorization_code',
          code: code.code,
          code_verifier: code.verifier,
          redirect_uri: code.redirectUri,
          client_id: client.client_id,
        }),
      )
    const [r1, r2] = await Promise.all([redeem(two), redeem(one)])
    const statuses = [r1.status, r2.status].sort()
    expect(statuses).toEqual([200, 400])
    const winner = (await (r1.status === 200 ? r1 : r2).json()) as { access_token: string }
    // The losing redemption was a valid replay: the grant is revoked everywhere, at the latest
    // once each instance's liveness answer is older than revocationCheckSeconds (5 s).
    one.clock.advance(6)
    two.clock.advance(6)
    expect((await one.mcp(bearer(winner.access_token))).status).toBe(401)
    expect((await two.mcp(bearer(winner.access_token))).status).toBe(401)
    await one.gh.close()
    await two.gh.close()
  })

  it('a refresh token rotated at one instance and replayed at the other revokes the family', async () => {
    const { a, b } = sharedRedis()
    const one = await createTestGatehouse({ store: a })
    const two = await createTestGatehouse({ store: b })
    const { client, tokens } = await getTokens(one)
    const rotated = await two.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      }),
    )
    const next = (await rotated.json()) as { refresh_token: string }
    const replay = await one.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      }),
    )
    expect((await replay.json()).error).toBe('invalid_grant')
    const after = await two.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: next.refresh_token,
        client_id: client.client_id,
      }),
    )
    expect((await after.json()).error).toBe('invalid_grant')
    await one.gh.close()
    await two.gh.close()
  })

  it('IDJ-11 an ID-JAG accepted by one instance is refused by the other (jti replay store shared)', async () => {
    const idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'CC' })
    const secret = 'cc-secret-that-is-long-enough-for-the-schema'
    const config = {
      clients: [{ clientId: 'CC', clientSecret: secret, grantTypes: [JWT_BEARER] }],
      identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
    }
    const { a, b } = sharedRedis()
    const one = await createTestGatehouse({ store: a, config })
    const two = await createTestGatehouse({ store: b, config })
    const jag = await idp.mintIdJag()
    const exchange = (t: typeof one) =>
      t.call('/token', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('CC', secret),
        },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: jag }).toString(),
      })
    const [r1, r2] = await Promise.all([exchange(one), exchange(two)])
    expect([r1.status, r2.status].sort()).toEqual([200, 400])
    expect((await (r1.status === 400 ? r1 : r2).json()).error).toBe('invalid_grant')
    expect((await exchange(one)).status).toBe(400)
    await one.gh.close()
    await two.gh.close()
    await idp.close()
  })

  it('introspection at one instance reports a revocation made at the other at once (access and refresh token)', async () => {
    const { a, b } = sharedRedis()
    const one = await createTestGatehouse({ store: a })
    const two = await createTestGatehouse({ store: b })
    const rs = await register(one, { token_endpoint_auth_method: 'client_secret_basic' })
    const as = (t: typeof one, path: string, params: Record<string, string>) =>
      postBasic(t, path, params, rs.client_id, rs.client_secret!)
    const issue = async () =>
      (await (await redeemBasic(one, rs, await getCode(one, rs))).json()) as {
        access_token: string
        refresh_token: string
      }
    const introspect = async (t: typeof one, token: string) =>
      (await (await as(t, '/introspect', { token })).json()) as { active: boolean }

    // Revoking the access token itself (RFC 7009) at instance one.
    const first = await issue()
    expect((await introspect(two, first.access_token)).active).toBe(true)
    // Instance two's guard now holds "live" in its liveness cache for revocationCheckSeconds.
    expect((await two.mcp(bearer(first.access_token))).status).toBe(200)
    expect((await as(one, '/revoke', { token: first.access_token })).status).toBe(200)
    // No clock advance: introspection reads the store, not the cache.
    expect(await introspect(two, first.access_token)).toEqual({ active: false })
    expect(await introspect(two, first.refresh_token)).toEqual({ active: false })

    // Revoking through the refresh token at instance one ends the access token too.
    const second = await issue()
    expect((await two.mcp(bearer(second.access_token))).status).toBe(200)
    expect((await introspect(two, second.refresh_token)).active).toBe(true)
    expect((await as(one, '/revoke', { token: second.refresh_token })).status).toBe(200)
    expect(await introspect(two, second.access_token)).toEqual({ active: false })
    expect(await introspect(two, second.refresh_token)).toEqual({ active: false })
    await one.gh.close()
    await two.gh.close()
  })

  it('both instances sign with one shared key set', async () => {
    const { a, b } = sharedRedis()
    const [one, two] = await Promise.all([
      createTestGatehouse({ store: a }),
      createTestGatehouse({ store: b }),
    ])
    expect(one.gh.keys.current().kid).toBe(two.gh.keys.current().kid)
    const { tokens } = await getTokens(one)
    expect((await two.mcp(bearer(tokens.access_token))).status).toBe(200)
    await one.gh.close()
    await two.gh.close()
  })
})
