/**
 * Descope, both modes, through the MCP SDK client against the Descope stand-in. Proxy: Gatehouse
 * (`upstream.kind: 'descope'`) signs the user in at the project's OIDC federated application;
 * project roles of the verified ID token become Gatehouse roles as they are, tenant roles plain only
 * for the tenant `tenant` pins, else qualified as `<tenant id>:<role>`. Remote-AS: a Descope MCP server's token (its own issuer, `aud` = client and
 * project) is accepted by `descopeVerifier`; another project's or another issuer's gets 401.
 * A missing or malformed project ID fails at start-up naming the option and the console setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startDescopeStandIn,
  type DescopeStandIn,
} from '../../src/dev/provider-stand-ins/descope.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { descopeVerifier } from '../../src/providers/descope/profile.js'
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

const PROJECT = 'P2GatehouseDescope0001'
const MCP_SERVER = 'MS2GatehouseMcp'
const CLIENT = 'descope-app-client'
const SECRET = 'descope-client-secret'

describe('Descope', () => {
  let descope: DescopeStandIn
  let h: ProviderHarness
  let remote: RemoteHarness
  let upstream: Record<string, unknown>
  let second: Awaited<ReturnType<typeof listen>>

  beforeAll(async () => {
    const listening = await listen()
    second = await listen()
    descope = await startDescopeStandIn({
      projectId: PROJECT,
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
          sub: 'U2alice',
          roles: ['member'],
          tenants: { T2acme: ['reports-reader'], T2other: ['billing-admin'] },
        },
      ],
    })
    upstream = {
      kind: 'descope',
      projectId: PROJECT,
      baseUrl: descope.origin,
      clientId: CLIENT,
      clientSecret: SECRET,
    }
    h = await startHarness(listening, upstream)
    remote = await startRemoteHarness(
      `${descope.origin}/v1/apps/agentic/${PROJECT}/${MCP_SERVER}`,
      (resource) =>
        descopeVerifier({
          projectId: PROJECT,
          mcpServerId: MCP_SERVER,
          baseUrl: descope.origin,
          tenant: 'T2acme',
          resource,
        }),
    )
  })
  afterAll(async () => {
    await h.close()
    await remote.close()
    await descope.close()
  })

  describe('proxy mode', () => {
    it('signs the user in; project roles are plain, tenant roles <tenant id>:<role>', async () => {
      const client = await h.connect({ username: 'alice', password: 'alice-pw' })
      const me = await whoami(client)
      expect(me.subject).toBe('U2alice')
      expect(me.upstream).toMatchObject({ issuer: `${descope.origin}/${PROJECT}` })
      expect(me.roles.sort()).toEqual(['T2acme:reports-reader', 'T2other:billing-admin', 'member'])
      // No tenant is pinned: a role held in one is not the plain role.
      expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await client.close()

      const authorize = descope.callsTo('/auth').at(-1)!
      expect(authorize.params).toMatchObject({
        client_id: CLIENT,
        code_challenge_method: 'S256',
        redirect_uri: `${h.base}/auth/callback`,
      })
      expect(authorize.params.scope!.split(' ')).toEqual(
        expect.arrayContaining(['openid', 'offline_access']),
      )
      expect(descope.callsTo('/token').at(-1)!.clientAuth).toBe('basic')
    })

    it('counts only the named tenant’s roles, plain, with upstream.tenant', async () => {
      const other = await startHarness(second, { ...upstream, tenant: 'T2other' })
      try {
        const client = await other.connect({ username: 'alice', password: 'alice-pw' })
        expect((await whoami(client)).roles.sort()).toEqual(['billing-admin', 'member'])
        expect((await client.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
        await client.close()
      } finally {
        await other.close()
      }
    })

    it('fails at start-up naming upstream.projectId and the console setting', async () => {
      const bad = (projectId: unknown) =>
        createGatehouse({
          config: harnessConfig(h.base, { ...upstream, projectId }),
          store: createMemoryStore(),
        })
      await expect(bad(undefined)).rejects.toThrow(/upstream\.projectId.*Project Settings/s)
      await expect(bad('acme')).rejects.toThrow(/upstream\.projectId.*Project ID/s)
      // A project Descope does not have: no discovery document there (404).
      await expect(bad('P2NoSuchProject0000')).rejects.toThrow(
        /upstream\.projectId.*Project Settings > Project ID/s,
      )
    })
  })

  describe('remote-AS mode', () => {
    it('names the Descope MCP server as the authorization server', async () => {
      const res = await fetch(`${remote.base}/.well-known/oauth-protected-resource/mcp`)
      expect(await res.json()).toMatchObject({
        resource: remote.mcpUrl,
        authorization_servers: [`${descope.origin}/v1/apps/agentic/${PROJECT}/${MCP_SERVER}`],
      })
    })

    it('accepts the MCP server’s token (aud = client and project) with the pinned tenant’s roles', async () => {
      const token = await descope.mintAccessToken({
        iss: `${descope.origin}/v1/apps/agentic/${PROJECT}/${MCP_SERVER}`,
        sub: 'U2alice',
        aud: ['dcr-client-1', PROJECT],
        tenants: { T2acme: { roles: ['reports-reader'] }, T2own: { roles: ['admin'] } },
      })
      const me = JSON.parse((await remote.call(token)).text) as { subject: string; roles: string[] }
      expect(me).toEqual({ subject: 'U2alice', roles: ['reports-reader'] })
      expect((await remote.call(token, 'reports')).isError).toBe(false)
    })

    it('refuses another project’s token and the project-level issuer’s with 401', async () => {
      const otherProject = await descope.mintAccessToken({
        iss: `${descope.origin}/v1/apps/agentic/${PROJECT}/${MCP_SERVER}`,
        sub: 'U2alice',
        aud: ['dcr-client-1', 'P2SomeOtherProject00'],
      })
      const otherIssuer = await descope.mintAccessToken({ sub: 'U2alice', aud: [PROJECT] })
      for (const token of [otherProject, otherIssuer]) {
        const res = await remote.post(token)
        expect(res.status).toBe(401)
        expect(res.challenge).toMatch(expectedChallenge(remote.base))
        await expect(remote.call(token)).rejects.toThrow()
      }
    })
  })
})
