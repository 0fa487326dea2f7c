/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'auth0'`) -> the Auth0 stand-in (issuer with a
 * trailing slash, opaque access tokens unless `audience` names an API, roles in a namespaced
 * custom claim): `audience` is sent, the JWT access token is verified, the custom claim becomes
 * Gatehouse roles (from the ID token or the access token); configurations Auth0 would not serve
 * fail at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAuth0StandIn, type Auth0StandIn } from '../../src/dev/provider-stand-ins/auth0.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  harnessConfig,
  listen,
  startHarness,
  whoami,
  type ProviderHarness,
} from '../helpers/provider-e2e.js'

const CLIENT = 'pQ4xAuth0AppClientId'
const CLIENT_SECRET = 'auth0-client-secret'
const API = 'https://mcp.example.com/api'
const ROLES = 'https://gatehouse.example/roles'

describe('MCP SDK client -> Gatehouse (Auth0) -> Auth0 stand-in', () => {
  let tenant: Auth0StandIn
  const listening: Awaited<ReturnType<typeof listen>>[] = []
  let upstream: Record<string, unknown>

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) listening.push(await listen())
    tenant = await startAuth0StandIn({
      apis: [API],
      rolesClaim: ROLES,
      clients: [
        {
          clientId: CLIENT,
          clientSecret: CLIENT_SECRET,
          tokenEndpointAuthMethod: 'client_secret_post',
          redirectUris: listening.map((l) => `${l.base}/auth/callback`),
        },
      ],
      users: [
        {
          username: 'carol@example.com',
          password: 'carol-pw',
          sub: 'auth0|65f0c0ffee',
          email: 'carol@example.com',
          roles: ['reports-reader'],
        },
        { username: 'dave@example.com', password: 'dave-pw', sub: 'auth0|65f0dave' },
      ],
    })
    upstream = {
      kind: 'auth0',
      domain: tenant.origin,
      clientId: CLIENT,
      clientSecret: CLIENT_SECRET,
      tokenEndpointAuthMethod: 'client_secret_post',
      rolesClaim: ROLES,
    }
  })
  afterAll(async () => {
    await tenant.close()
  })

  async function withHarness(
    index: number,
    extra: Record<string, unknown>,
    run: (h: ProviderHarness) => Promise<void>,
  ) {
    const h = await startHarness(listening[index]!, { ...upstream, ...extra })
    try {
      await run(h)
    } finally {
      await h.close()
    }
  }

  it('sends audience, verifies the JWT access token and maps the namespaced roles claim', async () => {
    expect(tenant.issuer).toBe(`${tenant.origin}/`)
    await withHarness(0, { audience: API, rolesFrom: 'access_token' }, async (h) => {
      const client = await h.connect({ username: 'carol@example.com', password: 'carol-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe('auth0|65f0c0ffee')
      expect(me.upstream).toMatchObject({ issuer: `${tenant.origin}/` })
      expect(me.roles).toEqual(['reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await client.close()
    })
    const authorize = tenant.callsTo('/auth').at(-1)!
    expect(authorize.params).toMatchObject({ client_id: CLIENT, audience: API })
    expect(authorize.params.resource).toBeUndefined()
    const token = tenant.callsTo('/token').at(-1)!
    expect(token.clientAuth).toBe('post')
    expect(token.params.audience).toBe(API)
  })

  it('without audience (opaque access token) takes roles from the ID token', async () => {
    const before = tenant.callsTo('/auth').length
    await withHarness(1, {}, async (h) => {
      const carol = await h.connect({ username: 'carol@example.com', password: 'carol-pw' })
      expect((await whoami(carol)).roles).toEqual(['reports-reader'])
      await carol.close()
      const dave = await h.connect({ username: 'dave@example.com', password: 'dave-pw' })
      expect((await whoami(dave)).roles).toEqual([])
      expect((await dave.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await dave.close()
    })
    const sent = tenant.callsTo('/auth').slice(before)
    expect(sent.length).toBe(2)
    for (const call of sent) expect(call.params.audience).toBeUndefined()
  })

  it('refuses the sign-in when the access token is not a JWT for the audience', async () => {
    // An audience Auth0 does not know as an API: the stand-in answers an opaque access token.
    await withHarness(2, { audience: 'https://unknown.example.com/api' }, async (h) => {
      await expect(
        h.connect({ username: 'carol@example.com', password: 'carol-pw' }),
      ).rejects.toThrow(/sign-in refused: error=access_denied/)
    })
  })

  it('fails at start-up naming upstream.audience when roles come from an opaque access token', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[0]!.base, { ...upstream, rolesFrom: 'access_token' }),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.audience.*Applications > APIs/s)
  })

  it('fails at start-up naming upstream.domain for a URL instead of a domain', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[0]!.base, { ...upstream, domain: 'https://x.auth0.com/' }),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.domain/)
  })
})
