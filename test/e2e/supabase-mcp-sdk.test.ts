/**
 * Supabase Auth, both modes, through the MCP SDK client against the Supabase stand-in. Proxy:
 * Gatehouse (`upstream.kind: 'supabase'`) signs the user in at the project's OAuth 2.1 server; the
 * Custom Access Token Hook's claim named by `rolesClaim` (of the verified access token, aud
 * `authenticated`) becomes Gatehouse roles, the Postgres `role` does not. Remote-AS: an OAuth token
 * of the project is accepted by `supabaseVerifier`; an `anon` token, a session token without
 * `client_id` and another project's get 401. A bad project URL fails at start-up naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startSupabaseStandIn,
  type SupabaseStandIn,
} from '../../src/dev/provider-stand-ins/supabase.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { supabaseVerifier } from '../../src/providers/supabase/profile.js'
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

const CLIENT = '9a8b7c6d-0000-4000-8000-00000000c11e'
const SECRET = 'supabase-client-secret'
const ALICE = '123e4567-e89b-42d3-a456-426614174000'

describe('Supabase Auth', () => {
  let sb: SupabaseStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>
  let second: Awaited<ReturnType<typeof listen>>

  beforeAll(async () => {
    const listening = await listen()
    second = await listen()
    sb = await startSupabaseStandIn({
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
          hookClaims: { user_role: 'reports-reader' },
          appMetadata: { roles: ['member', 'reports-reader'] },
        },
      ],
    })
    upstream = {
      kind: 'supabase',
      projectUrl: sb.origin,
      clientId: CLIENT,
      clientSecret: SECRET,
      rolesClaim: 'user_role',
    }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(sb.issuer, (resource) =>
      supabaseVerifier({ projectUrl: sb.origin, resource, rolesClaim: 'app_metadata.roles' }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await sb.close()
  })

  describe('proxy mode', () => {
    it('signs the user in; the hook’s user_role is the Gatehouse role, not role=authenticated', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe(ALICE)
      expect(me.upstream).toMatchObject({ issuer: `${sb.origin}/auth/v1` })
      expect(me.roles).toEqual(['reports-reader'])
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await client.close()
      const authorize = sb.callsTo('/auth').at(-1)!
      expect(authorize.params).toMatchObject({
        client_id: CLIENT,
        code_challenge_method: 'S256',
        redirect_uri: `${h.base}/auth/callback`,
      })
      for (const call of sb.calls) expect(call.params.resource).toBeUndefined()
    })

    it('gives no roles without rolesClaim (never the Postgres role)', async () => {
      const { rolesClaim: _r, ...plain } = upstream
      const other = await startHarness(second, plain)
      try {
        const client = await other.connect({ username: 'alice', password: 'alice-pw' })
        expect((await whoami(client)).roles).toEqual([])
        await client.close()
      } finally {
        await other.close()
      }
    })

    it('fails at start-up naming upstream.projectUrl and the dashboard setting', async () => {
      const bad = (projectUrl: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, projectUrl }),
          store: createMemoryStore(),
        })
      await expect(bad(undefined)).rejects.toThrow(/upstream\.projectUrl.*Project URL/s)
      await expect(bad(`${sb.origin}/auth/v1`)).rejects.toThrow(/upstream\.projectUrl.*no path/s)
      await expect(bad(remote.base)).rejects.toThrow(/upstream\.projectUrl.*OAuth Server/s)
    })
  })

  describe('remote-AS mode', () => {
    it('names the project’s Auth server in the metadata', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({
        resource: remote.mcpUrl,
        authorization_servers: [`${sb.origin}/auth/v1`],
      })
    })

    it('accepts an OAuth access token of the project, with app_metadata roles', async () => {
      const token = await sb.mintAccessToken({
        sub: ALICE,
        aud: 'authenticated',
        role: 'authenticated',
        client_id: 'dcr-client-1',
        app_metadata: { provider: 'email', roles: ['reports-reader'] },
      })
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: ALICE, roles: ['reports-reader'] })
      expect((await remote.call(token, 'reports')).isError).toBe(false)
    })

    it('with allowedClientIds, accepts only those OAuth clients’ tokens (another client’s gets 401)', async () => {
      const only = await startRemoteHarness(sb.issuer, (resource) =>
        supabaseVerifier({
          projectUrl: sb.origin,
          resource,
          rolesClaim: 'app_metadata.roles',
          allowedClientIds: ['dcr-client-1'],
        }),
      )
      try {
        const mint = (clientId: string) =>
          sb.mintAccessToken({
            sub: ALICE,
            aud: 'authenticated',
            role: 'authenticated',
            client_id: clientId,
            app_metadata: { roles: ['reports-reader'] },
          })
        const me = JSON.parse((await only.call(await mint('dcr-client-1'))).text) as {
          subject: string
        }
        expect(me.subject).toBe(ALICE)
        const other = await only.post(await mint('some-other-app'))
        expect(other.status).toBe(401)
        expect(other.challenge).toMatch(expectedChallenge(only.base))
        // Without the option, any OAuth client of the project is accepted (the default).
        expect((await remote.post(await mint('some-other-app'))).status).toBe(200)
      } finally {
        await only.close()
      }
    })

    it('refuses anon, session (no client_id) and other-project tokens with 401', async () => {
      const anon = await sb.mintAccessToken({ role: 'anon', aud: 'anon', client_id: 'c' })
      const session = await sb.mintAccessToken({ sub: ALICE, aud: 'authenticated' })
      const otherProject = await sb.mintAccessToken({
        sub: ALICE,
        aud: 'authenticated',
        client_id: 'c',
        iss: 'https://other.supabase.co/auth/v1',
      })
      for (const token of [anon, session, otherProject]) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
