/**
 * Clerk, both modes, through the MCP SDK client against the Clerk stand-in. Proxy: Gatehouse
 * (`upstream.kind: 'clerk'`) signs the user in at the Frontend API; `public_metadata.role` of the
 * verified ID token becomes the Gatehouse role (the `public_metadata` scope is asked for). Remote-AS:
 * a Clerk MCP server's JWT access token (`typ: at+jwt`, `aud` = the MCP URL) is accepted by
 * `clerkVerifier`; an ID-token-shaped JWT of the same issuer, another audience or another instance
 * gets 401. A missing or malformed domain fails at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startClerkStandIn, type ClerkStandIn } from '../../src/dev/provider-stand-ins/clerk.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { clerkVerifier } from '../../src/providers/clerk/profile.js'
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

const CLIENT = 'clerk-oauth-app-1'
const SECRET = 'clerk-client-secret'

describe('Clerk', () => {
  let clerk: ClerkStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>

  beforeAll(async () => {
    const listening = await listen()
    clerk = await startClerkStandIn({
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
          sub: 'user_2alice',
          publicMetadata: { role: 'reports-reader' },
        },
        { username: 'bob', password: 'bob-pw', sub: 'user_2bob', publicMetadata: { role: 42 } },
      ],
    })
    upstream = {
      kind: 'clerk',
      domain: clerk.origin,
      clientId: CLIENT,
      clientSecret: SECRET,
      rolesClaim: 'public_metadata.role',
    }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(clerk.issuer, (resource) =>
      clerkVerifier({ domain: clerk.origin, resource, rolesClaim: 'public_metadata.role' }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await clerk.close()
  })

  describe('proxy mode', () => {
    it('signs the user in; public_metadata.role is the Gatehouse role', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe('user_2alice')
      expect(me.roles).toEqual(['reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await client.close()
      const authorize = clerk.callsTo('/auth').at(-1)!
      expect(authorize.params).toMatchObject({ client_id: CLIENT, code_challenge_method: 'S256' })
      expect(authorize.params.scope!.split(' ').sort()).toEqual([
        'email',
        'offline_access',
        'openid',
        'profile',
        'public_metadata',
      ])
    })

    it('gives no role from a claim of another shape', async () => {
      const client = await h.connect({ username: 'bob', password: 'bob-pw' })
      expect((await whoami(client)).roles).toEqual([])
      await client.close()
    })

    it('fails at start-up naming upstream.domain and the dashboard setting', async () => {
      const bad = (domain: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, domain }),
          store: createMemoryStore(),
        })
      await expect(bad(undefined)).rejects.toThrow(/upstream\.domain.*is required.*Frontend API/s)
      await expect(bad('https://acme.clerk.accounts.dev/')).rejects.toThrow(
        /upstream\.domain.*Frontend API/s,
      )
      await expect(bad(remote.base)).rejects.toThrow(/upstream\.domain.*Frontend API URL/s)
    })
  })

  describe('remote-AS mode', () => {
    it('names the Clerk instance in the metadata and accepts its at+jwt token for this URL', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({ authorization_servers: [clerk.issuer] })
      const token = await clerk.mintAccessToken(
        {
          sub: 'user_2alice',
          aud: remote.mcpUrl,
          client_id: 'dcr_client',
          scope: 'profile email',
          public_metadata: { role: 'reports-reader' },
        },
        'at+jwt',
      )
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: 'user_2alice', roles: ['reports-reader'] })
    })

    it('refuses a JWT that is not an access token, another audience, another instance: 401', async () => {
      const idTokenLike = await clerk.mintAccessToken({ sub: 'user_2alice', aud: remote.mcpUrl })
      const otherAud = await clerk.mintAccessToken(
        { sub: 'user_2alice', aud: 'https://other.example/mcp' },
        'at+jwt',
      )
      const otherInstance = await clerk.mintAccessToken(
        { sub: 'user_2alice', aud: remote.mcpUrl, iss: 'https://other.clerk.accounts.dev' },
        'at+jwt',
      )
      for (const token of [idTokenLike, otherAud, otherInstance]) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
