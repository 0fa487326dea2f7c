/**
 * PropelAuth, both modes, through the MCP SDK client against the PropelAuth stand-in. Proxy:
 * Gatehouse (`upstream.kind: 'propelauth'`) signs the user in through PropelAuth's OAuth2 API (no
 * OIDC: no scope sent, no ID token, the user from `/propelauth/oauth/userinfo`); the organization
 * role and the roles it includes become Gatehouse roles: plain for the organization `orgId` pins,
 * else qualified as `<org id>:<role>` (anyone can own an organization of their own).
 * Remote-AS: an MCP token PropelAuth issued for this MCP URL is accepted through introspection by
 * `propelauthVerifier`; one for another audience or an unknown token gets 401. A missing Auth URL
 * fails at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startPropelAuthStandIn,
  type PropelAuthStandIn,
} from '../../src/dev/provider-stand-ins/propelauth.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { propelauthVerifier } from '../../src/providers/propelauth/profile.js'
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

const CLIENT = 'propelauth-oauth-client'
const SECRET = 'propelauth-client-secret'
const INTROSPECTION = { clientId: 'mcp-rs-client', clientSecret: 'mcp-rs-secret' }
const ALICE = '31c41c16-c281-44ae-9602-8a047e3bf33d'

describe('PropelAuth', () => {
  let pa: PropelAuthStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>
  let second: Awaited<ReturnType<typeof listen>>

  beforeAll(async () => {
    const listening = await listen()
    second = await listen()
    pa = await startPropelAuthStandIn({
      introspectionClient: INTROSPECTION,
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: [`${listening.base}/auth/callback`, `${second.base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'alice',
          password: 'alice-pw',
          sub: ALICE,
          email: 'alice@example.com',
          orgs: {
            'org-acme': { name: 'Acme', role: 'Admin' },
            'org-other': { name: 'Other', role: 'reports-reader' },
          },
        },
      ],
    })
    upstream = { kind: 'propelauth', authUrl: pa.origin, clientId: CLIENT, clientSecret: SECRET }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(pa.issuer, (resource) =>
      propelauthVerifier({ authUrl: pa.origin, resource, orgId: 'org-acme', ...INTROSPECTION }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await pa.close()
  })

  describe('proxy mode', () => {
    it('signs the user in via userinfo; without orgId, organization roles are <org id>:<role>', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe(ALICE)
      expect(me.roles.sort()).toEqual([
        'org-acme:Admin',
        'org-acme:Member',
        'org-other:reports-reader',
      ])
      // No organization is the operator's: a role held in one is not the plain role.
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()
      const authorize = pa.callsTo('/auth').at(-1)!
      expect(authorize.reached).toBe(`${pa.origin}/propelauth/oauth/authorize`)
      expect(authorize.params).toMatchObject({
        client_id: CLIENT,
        response_type: 'code',
        code_challenge_method: 'S256',
        redirect_uri: `${h.base}/auth/callback`,
      })
      expect(authorize.params.scope).toBeUndefined()
      expect(authorize.params.nonce).toBeUndefined()
      const token = pa.callsTo('/token').at(-1)!
      expect(token.reached).toBe(`${pa.origin}/propelauth/oauth/token`)
      expect(token.clientAuth).toBe('basic')
      expect(pa.callsTo('/me').at(-1)!.reached).toBe(`${pa.origin}/propelauth/oauth/userinfo`)
    })

    it('counts only one organization’s roles, plain, with orgId', async () => {
      const other = await startHarness(second, { ...upstream, orgId: 'org-acme' })
      try {
        const client = await other.connect({ username: 'alice', password: 'alice-pw' })
        expect((await whoami(client)).roles.sort()).toEqual(['Admin', 'Member'])
        expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
        await client.close()
      } finally {
        await other.close()
      }
    })

    it('fails at start-up naming upstream.authUrl and the dashboard setting', async () => {
      const bad = (authUrl: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, authUrl }),
          store: createMemoryStore(),
        })
      await expect(bad(undefined)).rejects.toThrow(/upstream\.authUrl.*Backend Integration/s)
      await expect(bad('auth.example.com')).rejects.toThrow(/upstream\.authUrl.*Auth URL/s)
    })
  })

  describe('remote-AS mode', () => {
    it('accepts an MCP token for this URL through introspection, with the orgId organization’s roles', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({ authorization_servers: [pa.issuer] })
      const token = await pa.mintAccessToken({
        sub: ALICE,
        aud: remote.mcpUrl,
        client_id: 'dcr-client',
        scope: 'read:user_data',
        org_id_to_org_member_info: {
          'org-acme': { user_role: 'reports-reader', inherited_user_roles_plus_current_role: [] },
          'org-own': { user_role: 'Owner', inherited_user_roles_plus_current_role: ['Admin'] },
        },
      })
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: ALICE, roles: ['reports-reader'] })
      expect((await remote.call(token, 'reports')).isError).toBe(false)
    })

    it('refuses a token for another audience and an unknown token with 401', async () => {
      const otherAud = await pa.mintAccessToken({ sub: ALICE, aud: 'https://other.example/mcp' })
      for (const token of [otherAud, 'not-a-propelauth-token']) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
