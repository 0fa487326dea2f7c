/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'discord'`) -> the Discord stand-in: OAuth2 only
 * (no ID token, no `iss`), the user from `GET /api/v10/users/@me`, guild membership from
 * `/users/@me/guilds` as roles and as a sign-in rule, the email kept only when verified, and the
 * week-long access token refreshed with Discord's rotated refresh token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDiscordStandIn, type DiscordStandIn } from '../../src/dev/discord-stand-in/index.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock } from '../helpers/gatehouse.js'
import { harnessConfig, listen, startHarness, whoami } from '../helpers/provider-e2e.js'

const CLIENT = '1234567890123456789'
const SECRET = 'discord-client-secret'
const READERS = '81384788765712384'
const OTHER = '41771983423143937'

describe('MCP SDK client -> Gatehouse (Discord) -> Discord stand-in', () => {
  let discord: DiscordStandIn
  const listening: Awaited<ReturnType<typeof listen>>[] = []

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) listening.push(await listen())
    discord = await startDiscordStandIn({
      apps: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirects: listening.map((l) => `${l.base}/auth/callback`),
        },
      ],
      users: [
        {
          username: 'nelly',
          password: 'nelly-pw',
          id: '80351110224678912',
          globalName: 'Nelly',
          email: 'nelly@example.com',
          guilds: { [READERS]: 'Report readers', [OTHER]: 'Gaming' },
        },
        {
          username: 'otto',
          password: 'otto-pw',
          id: '80351110224678913',
          email: 'otto@example.com',
          verified: false,
          guilds: { [OTHER]: 'Gaming' },
        },
      ],
    })
  })
  afterAll(() => discord.close())

  const upstream = (extra: Record<string, unknown> = {}) => ({
    kind: 'discord',
    serverUrl: discord.url,
    clientId: CLIENT,
    clientSecret: SECRET,
    guildRoles: { [READERS]: ['reports-reader'] },
    ...extra,
  })

  it('signs in from /users/@me; a mapped guild gives its role; the email only when verified', async () => {
    const h = await startHarness(listening[0]!, upstream())
    try {
      discord.clearRequests()
      const nelly = await h.connect({ username: 'nelly', password: 'nelly-pw' })
      const me = await whoami(nelly)
      expect(me.subject).toBe('80351110224678912')
      expect(me.roles).toEqual(['reports-reader'])
      expect(me.upstream).toEqual({ issuer: discord.url, subject: '80351110224678912' })
      expect((await nelly.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await nelly.close()
      const otto = await h.connect({ username: 'otto', password: 'otto-pw' })
      expect((await whoami(otto)).roles).toEqual([])
      expect((await otto.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await otto.close()
    } finally {
      await h.close()
    }
    const authorize = discord.requestsTo('authorize')[0]!.params
    expect(authorize.scope).toBe('identify email guilds')
    expect(authorize.client_id).toBe(CLIENT)
    expect(authorize.redirect_uri).toBe(`${listening[0]!.base}/auth/callback`)
    expect(authorize.resource).toBeUndefined()
    const token = discord.requestsTo('token')[0]!
    expect(token.params.grant_type).toBe('authorization_code')
    expect(token.params.scope).toBeUndefined()
    expect(token.clientAuth).toBe('basic')
    expect(discord.requestsTo('user')[0]!.path).toBe('/api/v10/users/@me')
    expect(discord.requestsTo('guilds')[0]!.params.limit).toBe('200')
  })

  it('keeps a verified email and drops an unverified one', async () => {
    const h = await startHarness(listening[1]!, upstream())
    try {
      const nelly = await h.signIn({ username: 'nelly', password: 'nelly-pw' })
      const otto = await h.signIn({ username: 'otto', password: 'otto-pw' })
      const n = await h.gatehouse.verifier.verifyToken(nelly.token)
      const o = await h.gatehouse.verifier.verifyToken(otto.token)
      const proxy = h.gatehouse.base
      if (!(proxy instanceof OAuthProxy)) throw new Error('expected the proxy')
      const claimsOf = async (grantId: string | undefined) =>
        (await proxy.proxy.store.get<{ claims: Record<string, unknown> }>(`grant:${grantId}`))
          ?.claims
      expect(await claimsOf(n?.grantId)).toMatchObject({
        email: 'nelly@example.com',
        email_verified: true,
      })
      expect((await claimsOf(o?.grantId))?.email).toBeUndefined()
      await nelly.client.close()
      await otto.client.close()
    } finally {
      await h.close()
    }
  })

  it('refuses a user in none of allowedGuilds', async () => {
    const h = await startHarness(listening[2]!, upstream({ allowedGuilds: [READERS] }))
    try {
      await expect(h.connect({ username: 'otto', password: 'otto-pw' })).rejects.toThrow(
        /access_denied/,
      )
      const nelly = await h.connect({ username: 'nelly', password: 'nelly-pw' })
      expect((await whoami(nelly)).subject).toBe('80351110224678912')
      await nelly.close()
    } finally {
      await h.close()
    }
  })

  it('refreshes the week-long access token with the rotated refresh token', async () => {
    const clock = createClock()
    const h = await startHarness(listening[3]!, upstream(), { now: clock.now })
    try {
      const { client, token } = await h.signIn({ username: 'nelly', password: 'nelly-pw' })
      const verified = (await h.gatehouse.verifier.verifyToken(token))!
      const proxy = h.gatehouse.base
      if (!(proxy instanceof OAuthProxy)) throw new Error('expected the proxy')
      const first = await proxy.getUpstreamToken(verified)
      discord.clearRequests()
      clock.advance(604_800)
      const second = await proxy.getUpstreamToken(verified)
      clock.advance(604_800)
      const third = await proxy.getUpstreamToken(verified)
      expect(new Set([first, second, third]).size).toBe(3)
      const refreshes = discord.requestsTo('token').map((r) => r.params)
      expect(refreshes.map((r) => r.grant_type)).toEqual(['refresh_token', 'refresh_token'])
      expect(refreshes[1]!.refresh_token).not.toBe(refreshes[0]!.refresh_token)
      await client.close()
    } finally {
      await h.close()
    }
  })

  it('fails at start-up naming upstream.allowedGuilds for a guild that is not an id', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[0]!.base, upstream({ allowedGuilds: ['Report readers'] })),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(/upstream\.allowedGuilds\.0.*Copy Server ID/s)
  })
})
