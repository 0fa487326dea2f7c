/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'cognito'`) -> the Cognito stand-in: discovery and
 * keys at the pool's issuer, sign-in at the user pool domain (another origin), no
 * `offline_access`, `cognito:groups` as Gatehouse roles; a pool of another region or one that
 * does not exist fails at start-up naming the options; the upstream refresh goes to the pool
 * domain's `/oauth2/token` as Cognito's token endpoint documents (`grant_type=refresh_token`, the
 * app client's secret in HTTP Basic).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startCognitoStandIn,
  type CognitoStandIn,
} from '../../src/dev/provider-stand-ins/cognito.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  harnessConfig,
  listen,
  startHarness,
  upstreamToken,
  whoami,
  type ProviderHarness,
} from '../helpers/provider-e2e.js'

const POOL = 'eu-west-1_AbC123xyz'
const CLIENT = '4t5m0ck1dgatehouseclient'
const CLIENT_SECRET = 'cognito-app-client-secret'

describe('MCP SDK client -> Gatehouse (Cognito) -> Cognito stand-in', () => {
  let pool: CognitoStandIn
  let h: ProviderHarness
  let upstream: Record<string, unknown>
  /** Moves Gatehouse's clock (not the stand-in's) forward. */
  let skewMs = 0
  let idTokenAsAccessToken = false

  beforeAll(async () => {
    const listening = await listen()
    pool = await startCognitoStandIn({
      userPoolId: POOL,
      clients: [
        {
          clientId: CLIENT,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${listening.base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'grace',
          password: 'grace-pw',
          sub: '7c1e-grace',
          email: 'grace@example.com',
          groups: ['reports-reader', 'admins'],
        },
      ],
    })
    upstream = {
      kind: 'cognito',
      region: 'eu-west-1',
      userPoolId: POOL,
      domain: pool.domainOrigin,
      endpoint: pool.origin,
      clientId: CLIENT,
      clientSecret: CLIENT_SECRET,
    }
    h = await startHarness(listening, upstream, {
      now: () => Date.now() + skewMs,
      // When `idTokenAsAccessToken`, the token response's access token is its ID token.
      fetch: async (input, init) => {
        const response = await fetch(input, init)
        const url = String(input instanceof Request ? input.url : input)
        if (!idTokenAsAccessToken || !url.endsWith('/oauth2/token')) return response
        const body = (await response.json()) as Record<string, unknown>
        return Response.json({ ...body, access_token: body.id_token })
      },
    })
  })
  afterAll(async () => {
    await h.close()
    await pool.close()
  })

  it('signs in at the pool domain, verifies with the pool issuer, maps cognito:groups', async () => {
    const client = await h.connect({ username: 'grace', password: 'grace-pw' })
    const me = await whoami(client)
    expect(me.subject).toBe('7c1e-grace')
    expect(me.upstream).toMatchObject({ issuer: `${pool.origin}/${POOL}` })
    expect(me.roles).toEqual(['reports-reader', 'admins'])
    expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
    await client.close()

    const authorize = pool.callsTo('/auth').at(-1)!
    expect(authorize.reached).toBe(`${pool.domainOrigin}/oauth2/authorize`)
    expect(authorize.params.scope!.split(' ').sort()).toEqual(['email', 'openid', 'profile'])
    expect(authorize.params.resource).toBeUndefined()
    const token = pool.callsTo('/token').at(-1)!
    expect(token.reached).toBe(`${pool.domainOrigin}/oauth2/token`)
    expect(token.clientAuth).toBe('basic')
    // Discovery and keys at the issuer's host.
    const discovery = pool.callsTo('/.well-known/openid-configuration')
    expect(discovery.length).toBeGreaterThan(0)
    for (const call of discovery) expect(call.reached.startsWith(pool.origin)).toBe(true)
  })

  it('refreshes at the pool domain with grant_type=refresh_token and HTTP Basic', async () => {
    const client = await h.connect({ username: 'grace', password: 'grace-pw' })
    await upstreamToken(client)
    expect(pool.callsTo('/token').filter((c) => c.params.grant_type === 'refresh_token')).toEqual(
      [],
    )
    // Cognito's access token lives 600 s at the stand-in; Gatehouse's own token an hour.
    skewMs = 900_000
    const second = await upstreamToken(client)
    // (The stand-in's JWT may equal the first one: same claims in the same second.)
    expect(second.split('.')).toHaveLength(3)
    const refreshes = pool.callsTo('/token').filter((c) => c.params.grant_type === 'refresh_token')
    expect(refreshes).toHaveLength(1)
    const refresh = refreshes[0]!
    expect(refresh.reached).toBe(`${pool.domainOrigin}/oauth2/token`)
    expect(refresh.method).toBe('POST')
    expect(refresh.clientAuth).toBe('basic')
    expect(refresh.params.client_secret).toBeUndefined()
    expect(refresh.params.refresh_token).toBeTruthy()
    // No `resource` (Cognito has none) and no `offline_access`.
    expect(refresh.params.resource).toBeUndefined()
    expect(refresh.params.scope ?? '').not.toContain('offline_access')
    // The refreshed access token is Cognito's shape again: client_id, token_use access.
    const claims = JSON.parse(Buffer.from(second.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >
    expect(claims).toMatchObject({ client_id: CLIENT, token_use: 'access' })
    expect(claims.aud).toBeUndefined()
    // Still the same user with the same groups after the refresh.
    expect((await whoami(client)).roles).toEqual(['reports-reader', 'admins'])
    await client.close()
    skewMs = 0
  })

  it('refuses a sign-in whose access token is the ID token (token_use id, no client_id)', async () => {
    idTokenAsAccessToken = true
    try {
      await expect(h.connect({ username: 'grace', password: 'grace-pw' })).rejects.toThrow(
        /access_denied/,
      )
    } finally {
      idTokenAsAccessToken = false
    }
  })

  it('fails at start-up naming upstream.userPoolId for a pool of another region', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(h.base, { ...upstream, region: 'us-east-1' }),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(
      /upstream\.userPoolId.*not of upstream\.region us-east-1/s,
    )
  })

  it('fails at start-up naming the options when the pool does not exist', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(h.base, { ...upstream, userPoolId: 'eu-west-1_Nope' }),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.region and upstream\.userPoolId/)
  })
})
