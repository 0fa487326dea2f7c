/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'okta'`) -> Okta stand-ins: the org authorization
 * server (issuer `https://{domain}`) and a custom one (`https://{domain}/oauth2/default`), with
 * their own issuers and key sets. The user's groups become Gatehouse roles; pointing Gatehouse at
 * the wrong kind of server fails at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOktaStandIn, type OktaStandIn } from '../../src/dev/provider-stand-ins/okta.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  harnessConfig,
  listen,
  startHarness,
  upstreamToken,
  whoami,
} from '../helpers/provider-e2e.js'

const CLIENT = '0oa1b2c3d4GatehouseApp'
const CLIENT_SECRET = 'okta-client-secret'
const users = [
  {
    username: 'erin@acme.com',
    password: 'erin-pw',
    sub: '00u1erin',
    groups: ['Everyone', 'reports-reader'],
  },
  { username: 'frank@acme.com', password: 'frank-pw', sub: '00u1frank', groups: ['Everyone'] },
]

describe('MCP SDK client -> Gatehouse (Okta) -> Okta stand-ins', () => {
  let org: OktaStandIn
  let custom: OktaStandIn
  const listening: Awaited<ReturnType<typeof listen>>[] = []

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) listening.push(await listen())
    const clients = [
      {
        clientId: CLIENT,
        clientSecret: CLIENT_SECRET,
        redirectUris: listening.map((l) => `${l.base}/auth/callback`),
      },
    ]
    org = await startOktaStandIn({ users, clients })
    custom = await startOktaStandIn({ authorizationServer: 'default', users, clients })
  })
  afterAll(async () => {
    await org.close()
    await custom.close()
  })

  function upstream(domain: string, authorizationServer?: string) {
    return {
      kind: 'okta',
      domain,
      ...(authorizationServer ? { authorizationServer } : {}),
      clientId: CLIENT,
      clientSecret: CLIENT_SECRET,
    }
  }

  it('signs in at the org authorization server; groups become roles', async () => {
    const h = await startHarness(listening[0]!, upstream(org.origin))
    try {
      const erin = await h.connect({ username: 'erin@acme.com', password: 'erin-pw' })
      const me = await whoami(erin)
      expect(me.subject).toBe('00u1erin')
      expect(me.upstream).toMatchObject({ issuer: org.origin })
      expect(me.roles).toEqual(['Everyone', 'reports-reader'])
      expect((await erin.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await erin.close()
      const frank = await h.connect({ username: 'frank@acme.com', password: 'frank-pw' })
      expect((await frank.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await frank.close()
    } finally {
      await h.close()
    }
    expect(org.callsTo('/auth').at(-1)!.params.client_id).toBe(CLIENT)
    expect(org.callsTo('/auth').at(-1)!.params.scope!.split(' ')).toContain('groups')
    expect(custom.calls).toEqual([])
  })

  it('signs in at a custom authorization server, its issuer and key set', async () => {
    const h = await startHarness(listening[1]!, upstream(custom.origin, 'default'))
    try {
      const erin = await h.connect({ username: 'erin@acme.com', password: 'erin-pw' })
      const me = await whoami(erin)
      expect(me.upstream).toMatchObject({ issuer: `${custom.origin}/oauth2/default` })
      expect(me.roles).toEqual(['Everyone', 'reports-reader'])
      await erin.close()
    } finally {
      await h.close()
    }
    // Discovery, the keys and both legs went to the custom server's paths.
    const endpoints = new Set(custom.calls.map((c) => c.endpoint))
    for (const e of ['/.well-known/openid-configuration', '/jwks', '/auth', '/token']) {
      expect(endpoints.has(e)).toBe(true)
    }
    for (const call of custom.calls) expect(call.params.resource).toBeUndefined()
    expect(custom.callsTo('/auth').at(-1)!.params.scope!.split(' ')).not.toContain('groups')
  })

  it('refreshes at the custom server’s token endpoint: refresh_token grant, HTTP Basic', async () => {
    let skewMs = 0
    const h = await startHarness(listening[2]!, upstream(custom.origin, 'default'), {
      now: () => Date.now() + skewMs,
    })
    try {
      const erin = await h.connect({ username: 'erin@acme.com', password: 'erin-pw' })
      await upstreamToken(erin)
      // Okta asks for offline_access to issue a refresh token.
      expect(custom.callsTo('/auth').at(-1)!.params.scope!.split(' ')).toContain('offline_access')
      const before = custom.callsTo('/token').length
      // The stand-in's access tokens live 600 s; Gatehouse's own an hour.
      skewMs = 900_000
      expect((await upstreamToken(erin)).split('.')).toHaveLength(3)
      const refreshes = custom.callsTo('/token').slice(before)
      expect(refreshes.map((c) => c.params.grant_type)).toEqual(['refresh_token'])
      const refresh = refreshes[0]!
      expect(refresh.reached).toBe(`${custom.origin}/oauth2/default/token`)
      expect(refresh.clientAuth).toBe('basic')
      expect(refresh.params.client_secret).toBeUndefined()
      expect(refresh.params.refresh_token).toBeTruthy()
      expect(refresh.params.resource).toBeUndefined()
      expect((await whoami(erin)).roles).toEqual(['Everyone', 'reports-reader'])
      await erin.close()
    } finally {
      await h.close()
    }
  })

  it('fails at start-up naming upstream.authorizationServer for a server the org does not have', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[0]!.base, upstream(org.origin, 'default')),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.authorizationServer.*Authorization Servers/s)
  })

  it('fails at start-up naming upstream.domain when the org server is asked of a custom one', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[0]!.base, upstream(custom.origin)),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.domain/)
  })
})
