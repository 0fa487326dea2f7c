/**
 * Scalekit, both modes, through the MCP SDK client against the Scalekit stand-in. Proxy: Gatehouse
 * (`upstream.kind: 'scalekit'`) signs the user in at the environment; `roles` of the verified access
 * token (aud = the client id) become Gatehouse roles, plain for the organization pinned by
 * `organizationId`, else `<oid>:<role>`. Remote-AS: a token Scalekit issued for the MCP
 * server resource (`aud` naming `res_…`) is accepted by `scalekitVerifier`; one for another resource
 * or from another environment gets 401. A bad environment URL fails at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startScalekitStandIn,
  type ScalekitStandIn,
} from '../../src/dev/provider-stand-ins/scalekit.js'
import { createGatehouse } from '../../src/gatehouse.js'
import {
  scalekitAuthorizationServer,
  scalekitVerifier,
} from '../../src/providers/scalekit/profile.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  harnessConfig,
  listen,
  startHarness,
  whoami,
  type ProviderHarness,
} from '../helpers/provider-e2e.js'
import {
  expectedChallenge,
  startRemoteHarness,
  type RemoteHarness,
} from '../helpers/remote-as-e2e.js'

const CLIENT = 'skc_98765432109876543'
const SECRET = 'scalekit-client-secret'
const RESOURCE_ID = 'res_1234567890'

describe('Scalekit', () => {
  let sk: ScalekitStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>

  beforeAll(async () => {
    const listening = await listen()
    sk = await startScalekitStandIn({
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: [`${listening.base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'alice',
          password: 'alice-pw',
          sub: 'usr_alice',
          organizationId: 'org_acme',
          roles: ['reports-reader', 'member'],
          permissions: ['reports:read'],
        },
        { username: 'bob', password: 'bob-pw', sub: 'usr_bob' },
        {
          // An organization of her own, where she chose her role.
          username: 'mallory',
          password: 'mallory-pw',
          sub: 'usr_mallory',
          organizationId: 'org_mallory',
          roles: ['reports-reader'],
        },
      ],
    })
    upstream = {
      kind: 'scalekit',
      environmentUrl: sk.origin,
      clientId: CLIENT,
      clientSecret: SECRET,
      organizationId: 'org_acme',
      extraAuthorizeParams: { organization_id: 'org_acme' },
    }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(
      scalekitAuthorizationServer(sk.origin, RESOURCE_ID),
      (resource) =>
        scalekitVerifier({
          environmentUrl: sk.origin,
          resourceId: RESOURCE_ID,
          resource,
          organizationId: 'org_acme',
        }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await sk.close()
  })

  describe('proxy mode', () => {
    it('signs the user in; the pinned organization’s roles from the verified access token', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe('usr_alice')
      expect(me.roles.sort()).toEqual(['member', 'reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await client.close()
      const authorize = sk.callsTo('/auth').at(-1)!
      expect(authorize.params).toMatchObject({
        client_id: CLIENT,
        code_challenge_method: 'S256',
        redirect_uri: `${h.base}/auth/callback`,
      })
      expect(authorize.params.scope!.split(' ')).toEqual(
        expect.arrayContaining(['openid', 'offline_access']),
      )
      expect(sk.callsTo('/token').at(-1)!.clientAuth).toBe('basic')
    })

    it('gives no roles to a user without them: the role check refuses', async () => {
      const client = await h.connect({ username: 'bob', password: 'bob-pw' })
      expect((await whoami(client)).roles).toEqual([])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()
    })

    it('qualifies the roles of another organization as <oid>:<role>', async () => {
      const client = await h.connect({ username: 'mallory', password: 'mallory-pw' })
      expect((await whoami(client)).roles).toEqual(['org_mallory:reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()
    })

    it('fails at start-up naming upstream.environmentUrl and the dashboard setting', async () => {
      const bad = (environmentUrl: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, environmentUrl }),
          store: createMemoryStore(),
        })
      await expect(bad(undefined)).rejects.toThrow(/upstream\.environmentUrl.*Environment URL/s)
      await expect(bad('acme.scalekit.com')).rejects.toThrow(/upstream\.environmentUrl.*https/s)
      await expect(bad(remote.base)).rejects.toThrow(/upstream\.environmentUrl.*API Credentials/s)
    })
  })

  describe('remote-AS mode', () => {
    it('names the MCP server resource’s authorization server in the metadata', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({
        resource: remote.mcpUrl,
        authorization_servers: [`${sk.origin}/resources/${RESOURCE_ID}`],
      })
    })

    it('accepts a token for the resource ID, with the pinned organization’s roles', async () => {
      const token = await sk.mintAccessToken({
        sub: 'usr_alice',
        aud: [RESOURCE_ID],
        client_id: 'skc_dcr_1',
        oid: 'org_acme',
        roles: ['reports-reader'],
      })
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: 'usr_alice', roles: ['reports-reader'] })
      expect((await remote.call(token, 'reports')).isError).toBe(false)
    })

    it('qualifies the roles of a token for another organization', async () => {
      const token = await sk.mintAccessToken({
        sub: 'usr_mallory',
        aud: [RESOURCE_ID],
        client_id: 'skc_dcr_1',
        oid: 'org_mallory',
        roles: ['reports-reader'],
      })
      const me = JSON.parse((await remote.call(token)).text) as { roles: string[] }
      expect(me.roles).toEqual(['org_mallory:reports-reader'])
      expect((await remote.call(token, 'reports')).isError).toBe(true)
    })

    it('refuses another resource’s token and another environment’s with 401', async () => {
      const otherResource = await sk.mintAccessToken({ sub: 'usr_alice', aud: ['res_other'] })
      const otherEnv = await sk.mintAccessToken({
        sub: 'usr_alice',
        aud: [RESOURCE_ID],
        iss: 'https://other.scalekit.com',
      })
      for (const token of [otherResource, otherEnv]) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
