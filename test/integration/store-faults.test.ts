/**
 * A storage fault never turns a retry into an attack signal, and a request that ends in 503 leaves
 * nothing half-written. For each flow that writes (refresh, code exchange, ID-JAG exchange,
 * registration) the store fails at each of its calls in turn, once before the call reaches the
 * backend and once after (the backend applied it, the reply was lost). After each fault the request
 * either succeeded or answered 503 having changed nothing; a retry then succeeds and the grant
 * lives. Runs on memory, SQLite and Redis (REDIS_URL).
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'
import { startEnterpriseIdP, type EnterpriseIdP } from '../helpers/enterprise-idp.js'
import { faultyStore, type FaultMode, type FaultyStore } from '../helpers/faulty-store.js'
import {
  basic,
  bearer,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  ISSUER,
  register,
  RESOURCE,
  type RegisteredClient,
  type TestGatehouse,
  type Tokens,
} from '../helpers/gatehouse.js'

const REDIS_URL = process.env.REDIS_URL
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const CC_SECRET = 'cc-secret-that-is-long-enough-for-the-schema'
const MODES: FaultMode[] = ['before', 'after']
// No flow makes anywhere near this many store calls; the loop ends when the fault stops firing.
const MAX_CALLS = 40

interface Backend {
  name: string
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>
}

const backends: Backend[] = [
  {
    name: 'memory',
    open: () => Promise.resolve({ store: createMemoryStore(), cleanup: () => Promise.resolve() }),
  },
  {
    name: 'sqlite',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gh-faults-'))
      return {
        store: createSqliteStore({ dataDir: dir }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      }
    },
  },
]
if (REDIS_URL) {
  backends.push({
    name: 'redis',
    open: () =>
      Promise.resolve({
        store: createRedisStore({ url: REDIS_URL, keyPrefix: `gh-faults:${randomUUID()}:` }),
        cleanup: () => Promise.resolve(),
      }),
  })
} else if (IN_CI) {
  it('has a Redis server to run the fault tests against', () => {
    throw new Error('REDIS_URL is not set: CI must run the store fault tests against Redis')
  })
}

const refresh = (t: TestGatehouse, client: RegisteredClient, token: string) =>
  t.call(
    '/token',
    form({ grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id }),
  )

/**
 * Runs `attempt` with the store failing at call 0, 1, 2 ... in turn (each in both modes) until a
 * run makes fewer calls than the fault's index. `attempt` sets up its own fresh state, arms the
 * store through `fail`, makes the request and judges it.
 */
async function eachFault(
  store: FaultyStore,
  attempt: (fail: () => void, where: string) => Promise<void>,
): Promise<number> {
  let faults = 0
  for (const mode of MODES) {
    for (let index = 0; index < MAX_CALLS; index++) {
      let fired = false
      await attempt(() => {
        store.arm(index, mode)
      }, `fault at call ${index} (${mode})`)
      fired = store.disarm()
      if (!fired) break
      faults += 1
    }
  }
  return faults
}

/** The response of a request made under a fault, and what the store says it changed. */
async function underFault(
  store: FaultyStore,
  fail: () => void,
  request: () => Promise<Response>,
): Promise<FaultResult> {
  fail()
  const response = await request()
  const effects = [...store.effects]
  store.disarm()
  const body = (await response.json()) as Record<string, unknown>
  return { status: response.status, body, effects }
}

interface FaultResult {
  status: number
  body: Record<string, unknown>
  effects: readonly string[]
}

function expectSuccessOr503(result: FaultResult, where: string): void {
  expect([200, 201, 503], where).toContain(result.status)
  if (result.status === 503) expect(result.body.error, where).toBe('temporarily_unavailable')
}

/** A 503 invites a retry: it must not have changed anything. */
function expectNothingWritten(result: FaultResult, where: string): void {
  if (result.status === 503) expect(result.effects, where).toEqual([])
}

/** The grant behind these tokens is alive: the access token works and the refresh token rotates. */
async function expectGrantAlive(
  t: TestGatehouse,
  client: RegisteredClient,
  tokens: Tokens,
  where: string,
): Promise<void> {
  expect((await t.mcp(bearer(tokens.access_token))).status, where).toBe(200)
  const next = await refresh(t, client, tokens.refresh_token!)
  expect(next.status, where).toBe(200)
}

describe.each(backends)('store faults on $name', ({ open }) => {
  let store: FaultyStore
  let t: TestGatehouse
  let idp: EnterpriseIdP
  let cleanup: () => Promise<void>

  beforeAll(async () => {
    idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'CC' })
    const opened = await open()
    cleanup = opened.cleanup
    store = faultyStore(opened.store)
    t = await createTestGatehouse({
      store,
      config: {
        clients: [{ clientId: 'CC', clientSecret: CC_SECRET, grantTypes: [JWT_BEARER] }],
        identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
      },
    })
  })
  afterAll(async () => {
    await t.gh.close()
    await cleanup()
    await idp.close()
  })

  it('refresh: a retry after any store fault succeeds and the grant survives', async () => {
    const faults = await eachFault(store, async (fail, where) => {
      const { client, tokens } = await getTokens(t)
      const result = await underFault(store, fail, () => refresh(t, client, tokens.refresh_token!))
      expectSuccessOr503(result, where)
      let current = result.body as unknown as Tokens
      if (result.status === 503) {
        const retry = await refresh(t, client, tokens.refresh_token!)
        expect(retry.status, where).toBe(200)
        current = (await retry.json()) as Tokens
      }
      await expectGrantAlive(t, client, current, where)
      expectNothingWritten(result, where)
    })
    expect(faults).toBeGreaterThan(3)
  })

  it('refresh: true reuse after a successful rotation still revokes the grant', async () => {
    const { client, tokens } = await getTokens(t)
    const rotated = await refresh(t, client, tokens.refresh_token!)
    expect(rotated.status).toBe(200)
    const next = (await rotated.json()) as Tokens
    const reuse = await refresh(t, client, tokens.refresh_token!)
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant')
    expect(
      ((await (await refresh(t, client, next.refresh_token!)).json()) as { error: string }).error,
    ).toBe('invalid_grant')
    expect((await t.mcp(bearer(next.access_token))).status).toBe(401)
  })

  it('code exchange: a retry after any store fault succeeds and the grant survives', async () => {
    const client = await register(t)
    const faults = await eachFault(store, async (fail, where) => {
      const code = await getCode(t, client)
      const redeem = () =>
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
      const result = await underFault(store, fail, redeem)
      expectSuccessOr503(result, where)
      let tokens = result.body as unknown as Tokens
      if (result.status === 503) {
        const retry = await redeem()
        expect(retry.status, where).toBe(200)
        tokens = (await retry.json()) as Tokens
      }
      await expectGrantAlive(t, client, tokens, where)
      // The code is spent now: a replay is refused (and revokes, as a replay should).
      expect((await redeem()).status, where).toBe(400)
      expectNothingWritten(result, where)
    })
    expect(faults).toBeGreaterThan(3)
  })

  it('ID-JAG exchange: a retry with the same assertion after any store fault succeeds', async () => {
    const faults = await eachFault(store, async (fail, where) => {
      const jag = await idp.mintIdJag()
      const exchange = () =>
        t.call('/token', {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic('CC', CC_SECRET),
          },
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: jag }).toString(),
        })
      const result = await underFault(store, fail, exchange)
      expectSuccessOr503(result, where)
      let accessToken = result.body.access_token as string
      if (result.status === 503) {
        const retry = await exchange()
        expect(retry.status, where).toBe(200)
        accessToken = ((await retry.json()) as Tokens).access_token
      }
      expect((await t.mcp(bearer(accessToken))).status, where).toBe(200)
      // The jti is spent now, on success only: a replay is refused.
      const replay = await exchange()
      expect(replay.status, where).toBe(400)
      expect(((await replay.json()) as { error: string }).error, where).toBe('invalid_grant')
      expectNothingWritten(result, where)
    })
    expect(faults).toBeGreaterThan(0)
  })

  it('registration: a 503 leaves no client behind and a retry registers', async () => {
    const faults = await eachFault(store, async (fail, where) => {
      const metadata = {
        redirect_uris: ['https://app.test/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }
      const registerOnce = () =>
        t.call('/register', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(metadata),
        })
      const result = await underFault(store, fail, registerOnce)
      expectSuccessOr503(result, where)
      if (result.status === 201) {
        // The backend kept the client even if its reply was lost: it must be usable.
        await getTokens(t, result.body as unknown as RegisteredClient)
        return
      }
      const retry = await registerOnce()
      expect(retry.status, where).toBe(201)
      await getTokens(t, (await retry.json()) as RegisteredClient)
      expectNothingWritten(result, where)
    })
    expect(faults).toBeGreaterThan(0)
  })
})
