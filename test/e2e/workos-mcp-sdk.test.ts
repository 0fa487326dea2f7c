/**
 * WorkOS AuthKit, both modes, through the MCP SDK client against the AuthKit stand-in.
 * Proxy: Gatehouse (`upstream.kind: 'workos'`) signs the user in at AuthKit; the membership's
 * `role`/`roles` from the verified access token become Gatehouse roles, plain for the organization
 * pinned by `organizationId`, else `<org_id>:<role>`; what Gatehouse sent is
 * recorded. Remote-AS: AuthKit issues the MCP client's token and `workosVerifier` guards the MCP
 * endpoint; a token for another resource or from another issuer gets 401 with the challenge.
 * A malformed or missing domain fails at start-up naming the option and the dashboard setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWorkOSStandIn, type WorkOSStandIn } from '../../src/dev/provider-stand-ins/workos.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { workosVerifier } from '../../src/providers/workos/profile.js'
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

const CLIENT = 'client_01JGATEHOUSE'
const SECRET = 'workos-client-secret'

describe('WorkOS AuthKit', () => {
  let authkit: WorkOSStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>

  beforeAll(async () => {
    const listening = await listen()
    authkit = await startWorkOSStandIn({
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
          sub: 'user_01HALICE',
          email: 'alice@example.com',
          orgId: 'org_01HACME',
          roles: ['reports-reader', 'member'],
          permissions: ['reports:read'],
        },
        {
          username: 'bob',
          password: 'bob-pw',
          sub: 'user_01HBOB',
          orgId: 'org_01HACME',
          roles: ['member'],
        },
        {
          // An organization of her own, where she chose her role.
          username: 'mallory',
          password: 'mallory-pw',
          sub: 'user_01HMALLORY',
          orgId: 'org_01HMALLORY',
          roles: ['reports-reader'],
        },
      ],
    })
    upstream = {
      kind: 'workos',
      domain: authkit.origin,
      clientId: CLIENT,
      clientSecret: SECRET,
      organizationId: 'org_01HACME',
      extraAuthorizeParams: { organization_id: 'org_01HACME' },
    }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(authkit.issuer, (resource) =>
      workosVerifier({ domain: authkit.origin, resource, organizationId: 'org_01HACME' }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await authkit.close()
  })

  describe('proxy mode', () => {
    it('signs the user in at AuthKit; the pinned organization’s roles are plain; the role check holds', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe('user_01HALICE')
      expect(me.roles.sort()).toEqual(['member', 'reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await client.close()

      const authorize = authkit.callsTo('/auth').at(-1)!
      expect(authorize.params).toMatchObject({
        client_id: CLIENT,
        response_type: 'code',
        code_challenge_method: 'S256',
        redirect_uri: `${h.base}/auth/callback`,
      })
      expect(authorize.params.scope!.split(' ').sort()).toEqual([
        'email',
        'offline_access',
        'openid',
        'profile',
      ])
      const token = authkit.callsTo('/token').at(-1)!
      expect(token.params.grant_type).toBe('authorization_code')
      expect(token.clientAuth).toBe('basic')
      for (const call of authkit.calls) expect(call.params.resource).toBeUndefined()
    })

    it('takes the single role claim when there is no roles list', async () => {
      const client = await h.connect({ username: 'bob', password: 'bob-pw' })
      expect((await whoami(client)).roles).toEqual(['member'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()
    })

    it('qualifies the roles of another organization as <org_id>:<role>', async () => {
      const client = await h.connect({ username: 'mallory', password: 'mallory-pw' })
      expect((await whoami(client)).roles).toEqual(['org_01HMALLORY:reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()
    })

    it('fails at start-up naming upstream.domain and the dashboard setting', async () => {
      const bad = (domain: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, domain }),
          store: createMemoryStore(),
        })
      await expect(bad('https://acme.authkit.app')).rejects.toThrow(
        /upstream\.domain.*AuthKit domain/s,
      )
      await expect(bad(undefined)).rejects.toThrow(/upstream\.domain.*is required.*AuthKit/s)
      // A domain with no AuthKit there (no discovery document: 404) names the option too.
      await expect(bad(remote.base)).rejects.toThrow(/upstream\.domain.*AuthKit domain/s)
    })
  })

  describe('remote-AS mode', () => {
    it('publishes protected-resource metadata naming AuthKit as the authorization server', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({
        resource: remote.mcpUrl,
        authorization_servers: [authkit.issuer],
      })
    })

    it('accepts an AuthKit token for this resource, with the pinned organization’s roles', async () => {
      const token = await authkit.mintAccessToken({
        sub: 'user_01HALICE',
        aud: remote.mcpUrl,
        client_id: 'client_dcr_123',
        org_id: 'org_01HACME',
        role: 'reports-reader',
      })
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: 'user_01HALICE', roles: ['reports-reader'] })
      expect((await remote.call(token, 'reports')).isError).toBe(false)
    })

    it('qualifies the roles of a token for another organization', async () => {
      const token = await authkit.mintAccessToken({
        sub: 'user_01HMALLORY',
        aud: remote.mcpUrl,
        client_id: 'client_dcr_123',
        org_id: 'org_01HMALLORY',
        role: 'reports-reader',
      })
      const me = JSON.parse((await remote.call(token)).text) as { roles: string[] }
      expect(me.roles).toEqual(['org_01HMALLORY:reports-reader'])
      expect((await remote.call(token, 'reports')).isError).toBe(true)
    })

    it('refuses a token for another audience or from another issuer with 401 invalid_token', async () => {
      const other = await authkit.mintAccessToken({ sub: 'user_01HALICE', aud: CLIENT })
      const foreign = await authkit.mintAccessToken({
        sub: 'user_01HALICE',
        aud: remote.mcpUrl,
        iss: 'https://other.authkit.app',
      })
      for (const token of [other, foreign]) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
