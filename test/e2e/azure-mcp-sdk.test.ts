/**
 * End to end over HTTP on 127.0.0.1: the MCP SDK client -> Gatehouse with the Azure provider ->
 * sign-in at the local Entra stand-in -> a tool that calls the stand-in's Graph `/v1.0/me` with an
 * On-Behalf-Of token.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createAzureProxy } from '../../src/presets/azure.js'
import { startAzureStandIn, type AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import type { Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler, azureOBOToken, requireToolRoles } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'

const TENANT = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa'
const APP = '11111111-aaaa-4aaa-8aaa-111111111111'
const SECRET = 'e2e-entra-secret'
const GRAPH_USER_READ = 'https://graph.microsoft.com/User.Read'

describe('MCP SDK client -> Gatehouse (Azure) -> Entra stand-in -> Graph via OBO', () => {
  let server: Server
  let base: string
  let entra: AzureStandIn
  let gh: Gatehouse

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    entra = await startAzureStandIn({
      tenants: [{ id: TENANT, domain: 'contoso.onmicrosoft.com' }],
      apps: [
        {
          clientId: APP,
          clientSecret: SECRET,
          tenantId: TENANT,
          scopes: ['tools.read'],
          redirectUris: [`${base}/auth/callback`],
        },
      ],
      users: [
        {
          username: 'adele@contoso.example',
          password: 'adele-pw',
          tenantId: TENANT,
          name: 'Adele Vance',
          email: 'adele@contoso.example',
          roles: { [APP]: ['Profile.Reader'] },
        },
        { username: 'guest@contoso.example', password: 'guest-pw', tenantId: TENANT },
      ],
    })
    gh = await createAzureProxy({
      baseUrl: base,
      clientId: APP,
      clientSecret: SECRET,
      tenantId: 'contoso.onmicrosoft.com',
      authority: entra.url,
      requiredScopes: ['tools.read'],
      additionalAuthorizeScopes: ['User.Read'],
      secret: 's'.repeat(32),
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
    const mcp = createMCPHandler(gh, {
      mode: 'stateless',
      enableJsonResponse: true,
      createServer: (context) => {
        const s = new McpServer(
          { name: 'graph-demo', version: '1.0.0' },
          { jsonSchemaValidator: context.jsonSchemaValidator },
        )
        s.registerTool('my_profile', { description: 'Your Graph profile' }, async (extra) => {
          requireToolRoles(extra, ['Profile.Reader'])
          const token = await azureOBOToken(extra, [GRAPH_USER_READ])
          const me = await fetch(`${entra.url}/v1.0/me`, {
            headers: { authorization: `Bearer ${token}` },
          })
          const body = (await me.json()) as { displayName?: string; mail?: string }
          const auth = authOf(extra)
          return {
            content: [
              {
                type: 'text',
                text: JSON.stringify({ status: me.status, ...body, scopes: auth.scopes }),
              },
            ],
          }
        })
        return s
      },
    })
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : gh.fetch(request),
    )
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
    await entra.close()
  })

  async function connect(user: { username: string; password: string }) {
    const provider = new BrowserlessClientProvider({
      redirectUrl: 'http://127.0.0.1:3998/callback',
      clientName: 'azure e2e',
      user,
    })
    const client = new Client({ name: 'azure-e2e', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      authProvider: provider,
    })
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(provider.code).toBeTypeOf('string')
    await first.finishAuth(provider.code!)
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    return client
  }

  it('signs in with Entra and a tool reads the user’s Graph profile on their behalf', async () => {
    const client = await connect({ username: 'adele@contoso.example', password: 'adele-pw' })
    const result = await client.callTool({ name: 'my_profile', arguments: {} })
    const text = (result.content as { text: string }[])[0]!.text
    expect(JSON.parse(text)).toMatchObject({
      status: 200,
      displayName: 'Adele Vance',
      mail: 'adele@contoso.example',
      scopes: ['tools.read'],
    })
    // What Gatehouse sent Entra: its own app, prefixed scopes, Graph only at authorize, no resource.
    const authorize = entra.requestsTo('authorize').at(-1)!.params
    expect(authorize.client_id).toBe(APP)
    expect(authorize.scope).toBe(`api://${APP}/tools.read offline_access User.Read`)
    expect(authorize.resource).toBeUndefined()
    const obo = entra.requestsTo('token').filter((r) => r.params.requested_token_use)
    expect(obo.map((r) => r.params.scope)).toEqual([GRAPH_USER_READ])
    await client.close()
  })

  it('enforces Entra app roles on the tool', async () => {
    const client = await connect({ username: 'guest@contoso.example', password: 'guest-pw' })
    const result = await client.callTool({ name: 'my_profile', arguments: {} })
    expect(result.isError).toBe(true)
    await client.close()
  })
})
