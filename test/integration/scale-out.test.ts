/**
 * Three Gatehouse instances on one shared store behave as one authorization server: they agree on
 * clients, signing keys, revocation and single-use codes, under concurrent load. Runs on
 * PostgreSQL (`DATABASE_URL`), on Redis (`REDIS_URL`) and on a Redis Cluster started here; each
 * run uses its own schema or prefix.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../../src/storage/postgres.js'
import { createRedisStore } from '../../src/storage/redis.js'
import type { Store } from '../../src/storage/store.js'
import {
  bearer,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  register,
  type CodeResult,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import {
  hasRedisServer,
  startRedisCluster,
  type RedisDeployment,
} from '../helpers/redis-servers.js'

const DATABASE_URL = process.env.DATABASE_URL
const REDIS_URL = process.env.REDIS_URL
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'
const CODES = 50
// Past `revocationCheckSeconds` (5 s): every guard asks the store again.
const PAST_REVOCATION_CHECK = 6

/** Three stores over the same data, as three hosts would open them, and a cleanup. */
interface SharedStores {
  stores: Store[]
  cleanup: () => Promise<void>
}

interface Backend {
  name: string
  env: string
  url: string | undefined
  open(url: string): SharedStores
}

const BACKENDS: Backend[] = [
  {
    name: 'PostgreSQL',
    env: 'DATABASE_URL',
    url: DATABASE_URL,
    open(url) {
      const schema = `gh_scale_${randomUUID().replaceAll('-', '').slice(0, 16)}`
      return {
        stores: [0, 1, 2].map(() => createPostgresStore({ connectionString: url, schema })),
        cleanup: async () => {
          const admin = new pg.Client({ connectionString: url })
          await admin.connect()
          await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
          await admin.end()
        },
      }
    },
  },
  {
    name: 'Redis',
    env: 'REDIS_URL',
    url: REDIS_URL,
    open(url) {
      const keyPrefix = `gatehouse-scale:${randomUUID()}:`
      return {
        stores: [0, 1, 2].map(() => createRedisStore({ url, keyPrefix })),
        cleanup: async () => {
          const { Redis } = await import('ioredis')
          const admin = new Redis(url, { maxRetriesPerRequest: 1 })
          let cursor = '0'
          do {
            const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
            if (keys.length > 0) await admin.del(...keys)
            cursor = next
          } while (cursor !== '0')
          await admin.quit()
        },
      }
    },
  },
]

/** Starts three instances together on one store, runs `body`, then closes them and cleans up. */
async function withInstances(
  open: () => SharedStores,
  body: (instances: TestGatehouse[]) => Promise<void>,
): Promise<void> {
  const { stores, cleanup } = open()
  const instances = await Promise.all(stores.map((store) => createTestGatehouse({ store })))
  try {
    await body(instances)
  } finally {
    await Promise.all(instances.map((instance) => instance.gh.close()))
    await cleanup()
  }
}

function redeem(t: TestGatehouse, client: RegisteredClient, code: CodeResult): Promise<Response> {
  return t.call(
    '/token',
    form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
      client_id: client.client_id,
    }),
  )
}

function advanceAll(instances: TestGatehouse[], seconds: number): void {
  for (const instance of instances) instance.clock.advance(seconds)
}

function scenarios(name: string, open: () => SharedStores): void {
  // Three instances generate keys and run 150+ token requests on a machine shared with the suite.
  describe(`three Gatehouse instances on ${name}`, { timeout: 60_000 }, () => {
    it('start together on one signing key, and accept each other’s clients and tokens', () =>
      withInstances(open, async (instances) => {
        const [a, b, c] = instances as [TestGatehouse, TestGatehouse, TestGatehouse]
        const kids = instances.map((instance) => instance.gh.keys.current().kid)
        expect(new Set(kids).size).toBe(1)
        // Registered at A, authorized at B, redeemed at C, used at every instance.
        const client = await register(a)
        const { tokens } = await getTokens(c, client)
        for (const instance of instances) {
          expect((await instance.mcp(bearer(tokens.access_token))).status).toBe(200)
        }
        const code = await getCode(b, client)
        expect((await redeem(c, client, code)).status).toBe(200)
      }))

    it(`redeem each of ${CODES} codes exactly once when all three race for every code`, () =>
      withInstances(open, async (instances) => {
        const client = await register(instances[0]!)
        const codes = await Promise.all(
          Array.from({ length: CODES }, (_, i) => getCode(instances[i % 3]!, client)),
        )
        const results = await Promise.all(
          codes.map((code) =>
            Promise.all(instances.map((instance) => redeem(instance, client, code))),
          ),
        )
        const tokens: string[] = []
        for (const responses of results) {
          const statuses = responses.map((response) => response.status).sort()
          expect(statuses).toEqual([200, 400, 400])
          for (const response of responses) {
            const body = (await response.json()) as { access_token?: string; error?: string }
            if (response.status === 200) tokens.push(body.access_token!)
            else expect(body.error).toBe('invalid_grant')
          }
        }
        expect(new Set(tokens).size).toBe(CODES)
        // Every losing redemption was a replay of a valid code: each grant is revoked, and every
        // instance refuses its token once its cached liveness answer is old enough.
        advanceAll(instances, PAST_REVOCATION_CHECK)
        for (const [i, token] of tokens.entries()) {
          expect((await instances[i % 3]!.mcp(bearer(token))).status).toBe(401)
        }
      }))

    it('honour a revocation made at one instance at the other two', () =>
      withInstances(open, async (instances) => {
        const [a, b, c] = instances as [TestGatehouse, TestGatehouse, TestGatehouse]
        const { client, tokens } = await getTokens(a)
        expect((await c.mcp(bearer(tokens.access_token))).status).toBe(200)
        const revoked = await b.call(
          '/revoke',
          form({ token: tokens.refresh_token!, client_id: client.client_id }),
        )
        expect(revoked.status).toBe(200)
        const refresh = await c.call(
          '/token',
          form({
            grant_type: 'refresh_token',
            refresh_token: tokens.refresh_token!,
            client_id: client.client_id,
          }),
        )
        expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant')
        advanceAll(instances, PAST_REVOCATION_CHECK)
        for (const instance of instances) {
          expect((await instance.mcp(bearer(tokens.access_token))).status).toBe(401)
        }
      }))

    it('follow a key rotated at one instance, old tokens still verifying', () =>
      withInstances(open, async (instances) => {
        const [a, b, c] = instances as [TestGatehouse, TestGatehouse, TestGatehouse]
        const before = (await getTokens(a)).tokens.access_token
        const oldKid = a.gh.keys.current().kid
        // All three rotate at once: one generates the key, the others adopt it.
        await Promise.all(instances.map((instance) => instance.gh.keys.rotate()))
        const newKid = a.gh.keys.current().kid
        expect(newKid).not.toBe(oldKid)
        expect(b.gh.keys.current().kid).toBe(newKid)
        expect(c.gh.keys.current().kid).toBe(newKid)
        const after = (await getTokens(b)).tokens.access_token
        for (const instance of instances) {
          expect((await instance.mcp(bearer(before))).status).toBe(200)
          expect((await instance.mcp(bearer(after))).status).toBe(200)
        }
      }))
  })
}

for (const backend of BACKENDS) {
  const url = backend.url
  if (url === undefined || url === '') {
    if (IN_CI) {
      describe(`three Gatehouse instances on ${backend.name}`, () => {
        it(`has ${backend.name} to run against`, () => {
          throw new Error(`${backend.env} is not set: CI must run the scale-out test on it`)
        })
      })
    } else {
      console.warn(
        `\n*** scale-out on ${backend.name} SKIPPED: ${backend.env} is not set (see docs/deployment.md). ***\n`,
      )
      describe.skip(`three Gatehouse instances on ${backend.name} (${backend.env} is not set)`, () => {
        it('agrees on clients, keys, revocation and codes', () => undefined)
      })
    }
    continue
  }

  scenarios(backend.name, () => backend.open(url))
}

// The same on a real Redis Cluster (three primaries started here), keys under one hash tag.
if (hasRedisServer()) {
  let cluster: RedisDeployment | undefined
  beforeAll(async () => {
    cluster = await startRedisCluster()
  }, 30_000)
  afterAll(async () => {
    await cluster?.stop()
  }, 15_000)
  scenarios('Redis Cluster', () => {
    if (cluster === undefined) throw new Error('the Redis Cluster did not start')
    const nodes = cluster.nodes
    const keyPrefix = `{gatehouse-scale-${randomUUID()}}:`
    return {
      stores: [0, 1, 2].map(() => createRedisStore({ cluster: { nodes }, keyPrefix })),
      // The cluster is thrown away with its data after the file.
      cleanup: () => Promise.resolve(),
    }
  })
} else if (IN_CI) {
  describe('three Gatehouse instances on Redis Cluster', () => {
    it('has redis-server to start a cluster with', () => {
      throw new Error('redis-server is not installed: CI must run the scale-out test on a cluster')
    })
  })
} else {
  console.warn('\n*** scale-out on Redis Cluster SKIPPED: redis-server is not on the PATH. ***\n')
}
