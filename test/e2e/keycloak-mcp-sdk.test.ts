/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'keycloak'`) -> the Keycloak stand-in (a realm at
 * `/realms/demo`, JWT access tokens with `realm_access` / `resource_access` roles, no RFC 8707):
 * the user signs in, their realm roles and this client's roles become Gatehouse roles, the role
 * check on a tool holds, and what Gatehouse sent Keycloak is recorded. A wrong realm fails at
 * start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startKeycloakStandIn,
  type KeycloakStandIn,
} from '../../src/dev/provider-stand-ins/keycloak.js'
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

const CLIENT = 'gatehouse-mcp'
const CLIENT_SECRET = 'keycloak-client-secret'

describe('MCP SDK client -> Gatehouse (Keycloak) -> Keycloak stand-in', () => {
  let kc: KeycloakStandIn
  let h: ProviderHarness
  let upstream: Record<string, unknown>
  let second: Awaited<ReturnType<typeof listen>>
  /** Moves Gatehouse's clock (not the stand-in's) forward. */
  let skewMs = 0

  beforeAll(async () => {
    const listening = await listen()
    second = await listen()
    kc = await startKeycloakStandIn({
      realm: 'demo',
      clients: [
        {
          clientId: CLIENT,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${listening.base}/auth/callback`, `${second.base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'alice',
          password: 'alice-pw',
          sub: 'f3c1a0de-0000-4000-8000-00000000a11c',
          email: 'alice@example.com',
          realmRoles: ['reports-reader'],
          clientRoles: { [CLIENT]: ['tool-admin'], 'other-app': ['other-admin'] },
        },
        { username: 'bob', password: 'bob-pw', clientRoles: { 'other-app': ['reports-reader'] } },
        {
          username: 'carl',
          password: 'carl-pw',
          realmRoles: ['reports-reader'],
          withoutDefaultRoles: true,
        },
      ],
    })
    upstream = {
      kind: 'keycloak',
      url: kc.origin,
      realm: 'demo',
      clientId: CLIENT,
      clientSecret: CLIENT_SECRET,
    }
    h = await startHarness(listening, upstream, { now: () => Date.now() + skewMs })
  })
  afterAll(async () => {
    await h.close()
    await kc.close()
  })

  it('maps realm roles and this client’s roles into Gatehouse roles, and sends no resource', async () => {
    const client = await connect('alice', 'alice-pw')
    const me = await whoami(client)
    expect(me.subject).toBe('f3c1a0de-0000-4000-8000-00000000a11c')
    expect(me.upstream).toMatchObject({ issuer: `${kc.origin}/realms/demo` })
    // Realm roles and the roles of this client; not another client's, not `account`'s.
    expect(me.roles.sort()).toEqual(['default-roles-demo', 'reports-reader', 'tool-admin'])
    const result = await client.callTool({ name: 'reports', arguments: {} })
    expect(result.isError).not.toBe(true)
    await client.close()

    // What Gatehouse sent the realm: its own client, PKCE, no RFC 8707 resource anywhere.
    const authorize = kc.callsTo('/auth').at(-1)!
    expect(authorize.params).toMatchObject({
      client_id: CLIENT,
      response_type: 'code',
      code_challenge_method: 'S256',
      redirect_uri: `${h.base}/auth/callback`,
    })
    expect(authorize.params.scope!.split(' ')).toEqual(
      expect.arrayContaining(['openid', 'offline_access']),
    )
    const token = kc.callsTo('/token').at(-1)!
    expect(token.params.grant_type).toBe('authorization_code')
    expect(token.clientAuth).toBe('basic')
    for (const call of kc.calls) expect(call.params.resource).toBeUndefined()
  })

  it('refreshes at the realm token endpoint with grant_type=refresh_token and HTTP Basic', async () => {
    const client = await h.connect({ username: 'alice', password: 'alice-pw' })
    await upstreamToken(client)
    const before = kc.callsTo('/token').length
    // The stand-in's access tokens live 600 s; Gatehouse's own an hour.
    skewMs = 900_000
    try {
      expect((await upstreamToken(client)).split('.')).toHaveLength(3)
    } finally {
      skewMs = 0
    }
    const refreshes = kc.callsTo('/token').slice(before)
    expect(refreshes.map((c) => c.params.grant_type)).toEqual(['refresh_token'])
    const refresh = refreshes[0]!
    // The token endpoint of the realm's discovery document.
    expect(refresh.reached).toBe(`${kc.issuer}/token`)
    expect(refresh.method).toBe('POST')
    expect(refresh.clientAuth).toBe('basic')
    expect(refresh.params.client_secret).toBeUndefined()
    expect(refresh.params.refresh_token).toBeTruthy()
    // Keycloak has no RFC 8707: no resource on the refresh either.
    expect(refresh.params.resource).toBeUndefined()
    // Roles still from the (refreshed) Keycloak tokens of the same user.
    expect((await whoami(client)).subject).toBe('f3c1a0de-0000-4000-8000-00000000a11c')
    await client.close()
  })

  it('gives no role from another client: the role check on the tool refuses', async () => {
    const client = await connect('bob', 'bob-pw')
    expect((await whoami(client)).roles).toEqual(['default-roles-demo'])
    const result = await client.callTool({ name: 'reports', arguments: {} })
    expect(result.isError).toBe(true)
    await client.close()
  })

  it('counts another client’s roles when clientRoles names it, and realm roles only when asked', async () => {
    const other = await startHarness(second, {
      ...upstream,
      realmRoles: false,
      clientRoles: ['other-app'],
    })
    try {
      const client = await other.connect({ username: 'bob', password: 'bob-pw' })
      expect((await whoami(client)).roles).toEqual(['reports-reader'])
      const result = await client.callTool({ name: 'reports', arguments: {} })
      expect(result.isError).not.toBe(true)
      await client.close()
    } finally {
      await other.close()
    }
  })

  it('refuses a sign-in whose access token names neither account nor this client in aud', async () => {
    // Without the default roles Keycloak's access token has no `aud` (no Audience mapper here).
    await expect(connect('carl', 'carl-pw')).rejects.toThrow(/sign-in refused: error=access_denied/)
  })

  it('accepts it when the realm has an Audience mapper for this client', async () => {
    const third = await listen()
    const mapped = await startKeycloakStandIn({
      realm: 'demo',
      audienceMapper: [CLIENT],
      clients: [
        {
          clientId: CLIENT,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${third.base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'carl',
          password: 'carl-pw',
          realmRoles: ['reports-reader'],
          withoutDefaultRoles: true,
        },
      ],
    })
    const harness = await startHarness(third, { ...upstream, url: mapped.origin })
    try {
      const client = await harness.connect({ username: 'carl', password: 'carl-pw' })
      expect((await whoami(client)).roles).toEqual(['reports-reader'])
      await client.close()
    } finally {
      await harness.close()
      await mapped.close()
    }
  })

  it('fails at start-up naming upstream.realm when the realm does not exist', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(h.base, { ...upstream, realm: 'demo2' }),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.realm.*Realm settings/s)
  })

  async function connect(username: string, password: string) {
    return h.connect({ username, password })
  }
})
