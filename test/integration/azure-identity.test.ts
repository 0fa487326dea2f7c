/**
 * Issue 11 item 10: tools can read who the Entra user is (issuer, subject, tenant id, object id)
 * from `authOf(extra).extra.upstream`, through the proxy and in a resource server; and a sign-in
 * whose ID token names a tenant that may not sign in ends in `access_denied`, as the Azure docs'
 * troubleshooting table says. Runs against the local Entra stand-in with the MCP SDK client.
 */
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AzureJWTVerifier } from '../../src/providers/azure/azure-jwt-verifier.js'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import {
  authOf,
  createMCPHandler,
  requireToolRoles,
  type MCPAuthSource,
} from '../../src/mcp/index.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'
import {
  APP_ID,
  createAzureGatehouse,
  GH,
  signIn,
  startStandIn,
  TENANT_A,
  TENANT_B,
  USERS,
} from '../helpers/azure.js'

/** A tool that reports the caller's upstream identity, and one that checks tid before roles. */
function identityServer(auth: MCPAuthSource) {
  return createMCPHandler(auth, {
    mode: 'stateless',
    enableJsonResponse: true,
    createServer: ({ jsonSchemaValidator }) => {
      const server = new McpServer({ name: 'who', version: '1.0.0' }, { jsonSchemaValidator })
      server.registerTool('whoami', {}, (extra) => ({
        content: [{ type: 'text', text: JSON.stringify(authOf(extra).extra.upstream ?? null) }],
      }))
      server.registerTool('admin_of_a', {}, (extra) => {
        // What the docs tell tool authors: trust roles only from your own tenant.
        if (authOf(extra).extra.upstream?.tenantId !== TENANT_A) {
          return { isError: true, content: [{ type: 'text', text: 'foreign tenant' }] }
        }
        requireToolRoles(extra, ['Tools.Admin'])
        return { content: [{ type: 'text', text: 'ok' }] }
      })
      return server
    },
  })
}

/** Calls `tool` through the MCP SDK client, the handler reached through `fetch` (no socket). */
async function callTool(
  mcp: (request: Request) => Promise<Response>,
  url: string,
  token: string,
  tool: string,
): Promise<{ text: string; isError: boolean }> {
  const client = new Client({ name: 'identity-test', version: '1.0.0' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: (input, init) => mcp(new Request(input, init)),
    }),
  )
  const result = (await client.callTool({ name: tool, arguments: {} })) as {
    content: { text: string }[]
    isError?: boolean
  }
  await client.close()
  return { text: result.content[0]?.text ?? '', isError: result.isError === true }
}

describe('Entra user identity in tools, and foreign tenants at sign-in', () => {
  let entra: AzureStandIn
  beforeAll(async () => {
    entra = await startStandIn()
  })
  afterAll(() => entra.close())

  it('proxy: authOf(extra).extra.upstream names the Entra issuer, subject, tid and oid', async () => {
    const setup = await createAzureGatehouse(entra, {
      tenantId: 'organizations',
      allowedTenants: [TENANT_A, TENANT_B],
      requiredScopes: ['read', 'openid'],
    })
    const mcp = identityServer(setup.gh)
    for (const [user, tenant] of [
      [USERS.alice, TENANT_A],
      [USERS.bob, TENANT_B],
    ] as const) {
      const { tokens, token, clientId } = await signIn(setup, user)
      const grant = await setup.provider.grants.get(token!.grantId!)
      const expected = {
        issuer: entra.issuer(tenant),
        subject: token!.subject,
        tenantId: tenant,
        objectId: grant!.claims!.oid,
      }
      expect(expected.objectId).toBeTypeOf('string')
      const who = await callTool(mcp, `${GH}/mcp`, tokens!.access_token, 'whoami')
      expect(JSON.parse(who.text)).toEqual(expected)
      // A refreshed token says the same.
      const refreshed = await setup.gh.fetch(
        new Request(`${GH}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: tokens!.refresh_token!,
            client_id: clientId,
          }).toString(),
        }),
      )
      const next = (await refreshed.json()) as { access_token: string }
      const again = await callTool(mcp, `${GH}/mcp`, next.access_token, 'whoami')
      expect(JSON.parse(again.text)).toEqual(expected)
    }
    const alice = await signIn(setup, USERS.alice)
    expect((await callTool(mcp, `${GH}/mcp`, alice.tokens!.access_token, 'admin_of_a')).text).toBe(
      'ok',
    )
    const bob = await signIn(setup, USERS.bob)
    const refused = await callTool(mcp, `${GH}/mcp`, bob.tokens!.access_token, 'admin_of_a')
    expect(refused).toEqual({ text: 'foreign tenant', isError: true })
  })

  it('resource server: AzureJWTVerifier reports the same identity from Entra’s own token', async () => {
    const resource = 'https://mcp.example/mcp'
    const verifier = new AzureJWTVerifier({
      clientId: APP_ID,
      tenantId: TENANT_A,
      authority: entra.url,
      requiredScopes: ['read'],
      resource,
    })
    const rs = createRemoteAuthProvider({
      config: {
        resources: [{ url: resource, scopes: verifier.scopesSupported }],
        authorizationServers: [entra.issuer(TENANT_A)],
      },
      verifier,
    })
    const now = Math.floor(Date.now() / 1000)
    const token = await entra.sign({
      iss: entra.issuer(TENANT_A),
      aud: APP_ID,
      tid: TENANT_A,
      oid: 'object-1',
      sub: 'subject-1',
      scp: 'read',
      iat: now,
      exp: now + 600,
    })
    const who = await callTool(identityServer(rs), resource, token, 'whoami')
    expect(JSON.parse(who.text)).toEqual({
      issuer: entra.issuer(TENANT_A),
      subject: 'subject-1',
      tenantId: TENANT_A,
      objectId: 'object-1',
    })
  })

  it('openid: an ID token of another tenant than the configured one ends in access_denied', async () => {
    // Entra answering for tenant A with an ID token of tenant B (a misrouted or tampered answer).
    const swapTenant: typeof fetch = async (input, init) => {
      const request = new Request(input, init)
      const response = await fetch(request)
      if (!request.url.endsWith('/oauth2/v2.0/token')) return response
      const body = (await response.json()) as Record<string, unknown>
      if (typeof body.id_token === 'string') {
        const claims = decodeJwt(body.id_token)
        body.id_token = await entra.sign({ ...claims, iss: entra.issuer(TENANT_B), tid: TENANT_B })
      }
      return Response.json(body, { status: response.status })
    }
    const setup = await createAzureGatehouse(entra, {
      tenantId: TENANT_A,
      requiredScopes: ['read', 'openid'],
      fetch: swapTenant,
    })
    const { back, token } = await signIn(setup, USERS.alice)
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(token).toBeUndefined()
    expect(setup.errors.at(-1)).toEqual({
      code: 'access_denied',
      reason: 'upstream_tenant_not_allowed',
    })
  })

  it('openid: a user of a tenant outside allowedTenants ends in access_denied, reported as such', async () => {
    const setup = await createAzureGatehouse(entra, {
      tenantId: 'organizations',
      allowedTenants: [TENANT_A],
      requiredScopes: ['read', 'openid'],
    })
    const bob = await signIn(setup, USERS.bob)
    expect(bob.back.searchParams.get('error')).toBe('access_denied')
    expect(setup.errors.at(-1)).toEqual({
      code: 'access_denied',
      reason: 'upstream_tenant_not_allowed',
    })
    // Without openid the access token's tenant is refused the same way.
    const plain = await createAzureGatehouse(entra, {
      tenantId: 'organizations',
      allowedTenants: [TENANT_A],
    })
    const again = await signIn(plain, USERS.bob)
    expect(again.back.searchParams.get('error')).toBe('access_denied')
    expect(plain.errors.at(-1)).toEqual({
      code: 'access_denied',
      reason: 'upstream_token_unverified',
    })
  })
})
