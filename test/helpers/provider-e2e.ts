/**
 * The harness of the provider stand-in tests: Gatehouse (built from a configuration whose
 * `upstream` the test gives, knowing Gatehouse's URL) behind a loopback HTTP server, an MCP server
 * with a `whoami` tool (the caller's subject, roles and upstream identity) and a `reports` tool
 * that requires the role `reports-reader`, an `upstream_token` tool (the IdP's access token, refreshed
 * upstream when due: `getUpstreamToken`), and `connect`, which signs a user in through the MCP
 * SDK client (dynamic registration, consent, the IdP's login page) and returns the connected client.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { expect } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import {
  authOf,
  createMCPHandler,
  getUpstreamToken,
  requireToolRoles,
} from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { BrowserlessClientProvider } from './sdk-client.js'

export const SECRET = 'provider-e2e-secret-of-at-least-32-chars'

export interface ProviderHarness {
  base: string
  gatehouse: Gatehouse
  /** Signs `user` in and returns a connected MCP client. */
  connect(user: { username: string; password: string }): Promise<Client>
  /** Signs `user` in; the connected client and the Gatehouse access token it holds. */
  signIn(user: { username: string; password: string }): Promise<{ client: Client; token: string }>
  close(): Promise<void>
}

/** Where Gatehouse will listen, before it exists (the IdP's redirect URI needs it). */
export async function listen(): Promise<{
  server: Server
  base: string
  serve(handler: (request: Request) => Promise<Response>): void
}> {
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (h) => {
      handler = toNodeHandler(h)
    },
  }
}

/** The Gatehouse configuration of the harness with `upstream`. */
export function harnessConfig(base: string, upstream: Record<string, unknown>) {
  return {
    issuer: base,
    secret: SECRET,
    resources: [{ url: `${base}/mcp`, scopes: ['tools'], requiredScopes: [] }],
    upstream,
  }
}

export async function startHarness(
  listening: Awaited<ReturnType<typeof listen>>,
  upstream: Record<string, unknown>,
  options: { now?: () => number; fetch?: typeof fetch } = {},
): Promise<ProviderHarness> {
  const { base } = listening
  const gatehouse = await createGatehouse({
    config: harnessConfig(base, upstream),
    store: createMemoryStore(),
    signatureVerifier: nodeSignatureVerifier,
    ...(options.now ? { now: options.now } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  const mcp = createMCPHandler(gatehouse, {
    mode: 'stateless',
    enableJsonResponse: true,
    createServer: (context) => {
      const s = new McpServer(
        { name: 'provider-e2e', version: '1.0.0' },
        { jsonSchemaValidator: context.jsonSchemaValidator },
      )
      s.registerTool('whoami', { description: 'Who is calling' }, (extra) => {
        const auth = authOf(extra)
        const body = {
          subject: auth.extra.subject,
          roles: auth.extra.roles,
          upstream: auth.extra.upstream,
        }
        return { content: [{ type: 'text', text: JSON.stringify(body) }] }
      })
      s.registerTool('upstream_token', { description: 'The IdP access token' }, async (extra) => ({
        content: [{ type: 'text', text: await getUpstreamToken(extra) }],
      }))
      s.registerTool('reports', { description: 'Needs reports-reader' }, (extra) => {
        requireToolRoles(extra, ['reports-reader'])
        return { content: [{ type: 'text', text: 'the reports' }] }
      })
      return s
    },
  })
  listening.serve((request) =>
    new URL(request.url).pathname === '/mcp' ? mcp(request) : gatehouse.fetch(request),
  )
  const harness: ProviderHarness = {
    base,
    gatehouse,
    async connect(user) {
      return (await harness.signIn(user)).client
    },
    async signIn(user) {
      const provider = new BrowserlessClientProvider({
        redirectUrl: 'http://127.0.0.1:3997/callback',
        clientName: 'provider e2e',
        user,
      })
      const client = new Client({ name: 'provider-e2e', version: '1.0.0' })
      const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        authProvider: provider,
      })
      await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
      if (provider.code === undefined) {
        throw new Error(`sign-in refused: ${provider.callbackParams?.toString() ?? 'no redirect'}`)
      }
      await first.finishAuth(provider.code)
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
      )
      return { client, token: provider.saved!.access_token }
    },
    async close() {
      await new Promise((resolve) => listening.server.close(resolve))
      await gatehouse.close()
    },
  }
  return harness
}

/** The `upstream_token` tool's answer: the IdP's access token for the caller's grant. */
export async function upstreamToken(client: Client): Promise<string> {
  const result = await client.callTool({ name: 'upstream_token', arguments: {} })
  return (result.content as { text: string }[])[0]!.text
}

/** The `whoami` tool's answer. */
export async function whoami(
  client: Client,
): Promise<{ subject: string; roles: string[]; upstream?: Record<string, string> }> {
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  return JSON.parse((result.content as { text: string }[])[0]!.text) as {
    subject: string
    roles: string[]
    upstream?: Record<string, string>
  }
}
