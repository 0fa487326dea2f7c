/**
 * The harness of the remote-AS mode tests: the provider is the MCP clients' authorization server,
 * Gatehouse only guards (`createRemoteAuthProvider` with the provider's verifier) an MCP server
 * with the `whoami` and `reports` (role `reports-reader`) tools, behind a loopback HTTP server.
 * `call` connects the MCP SDK client with a token the provider issued; `post` sends one raw request
 * to read the status and the challenge.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import type { TokenVerifier } from '../../src/jwt/access-token.js'
import { authOf, createMCPHandler, requireToolRoles } from '../../src/mcp/index.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'

/** An MCP client that already holds a token from the provider (it never signs in here). */
class TokenHolder implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:5591/cb'
  readonly clientMetadata = {
    redirect_uris: ['http://127.0.0.1:5591/cb'],
    token_endpoint_auth_method: 'none',
  }
  readonly redirected: URL[] = []
  #verifier = ''
  readonly token: string
  constructor(token: string) {
    this.token = token
  }
  clientInformation() {
    return { client_id: 'mcp-client' }
  }
  tokens(): OAuthTokens {
    return { access_token: this.token, token_type: 'Bearer' }
  }
  saveTokens() {}
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier
  }
  codeVerifier() {
    return this.#verifier
  }
  redirectToAuthorization(url: URL) {
    this.redirected.push(url)
  }
}

export interface RemoteHarness {
  base: string
  /** The guarded MCP endpoint. */
  mcpUrl: string
  /** Connects the MCP SDK client with `token` and calls `tool`; the tool's text. */
  call(token: string, tool?: string): Promise<{ text: string; isError: boolean }>
  /** One MCP `initialize` POST with `token`: status and `WWW-Authenticate`. */
  post(token: string): Promise<{ status: number; challenge: string; body: unknown }>
  close(): Promise<void>
}

/** Starts the guarded MCP server for the provider's `issuer`, built with `verifierFor(mcpUrl)`. */
export async function startRemoteHarness(
  issuer: string,
  verifierFor: (mcpUrl: string) => TokenVerifier,
): Promise<RemoteHarness> {
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const server: Server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const mcpUrl = `${base}/mcp`
  const remote = createRemoteAuthProvider({
    config: { resources: [{ url: mcpUrl }], authorizationServers: [issuer] },
    verifier: verifierFor(mcpUrl),
  })
  const mcp = createMCPHandler(remote, {
    mode: 'stateless',
    enableJsonResponse: true,
    createServer: (context) => {
      const s = new McpServer(
        { name: 'remote-as-e2e', version: '1.0.0' },
        { jsonSchemaValidator: context.jsonSchemaValidator },
      )
      s.registerTool('whoami', { description: 'Who is calling' }, (extra) => {
        const auth = authOf(extra)
        const body = { subject: auth.extra.subject, roles: auth.extra.roles }
        return { content: [{ type: 'text', text: JSON.stringify(body) }] }
      })
      s.registerTool('reports', { description: 'Needs reports-reader' }, (extra) => {
        requireToolRoles(extra, ['reports-reader'])
        return { content: [{ type: 'text', text: 'the reports' }] }
      })
      return s
    },
  })
  handler = toNodeHandler((request) =>
    new URL(request.url).pathname === '/mcp' ? mcp(request) : remote.fetch(request),
  )
  return {
    base,
    mcpUrl,
    async call(token, tool = 'whoami') {
      const client = new Client({ name: 'remote-as-e2e', version: '1.0.0' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(mcpUrl), {
          authProvider: new TokenHolder(token),
        }),
      )
      try {
        const result = await client.callTool({ name: tool, arguments: {} })
        const text = (result.content as { text: string }[])[0]?.text ?? ''
        return { text, isError: result.isError === true }
      } finally {
        await client.close()
      }
    },
    async post(token) {
      const res = await fetch(mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
          },
        }),
      })
      const text = await res.text()
      return {
        status: res.status,
        challenge: res.headers.get('www-authenticate') ?? '',
        body: text ? (JSON.parse(text) as unknown) : undefined,
      }
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      })
    },
  }
}

/** Checks the 401 of a refused token: `invalid_token` and the metadata URL, as RFC 6750/9728 say. */
export function expectedChallenge(base: string): RegExp {
  const metadata = `${base}/.well-known/oauth-protected-resource/mcp`.replace(
    /[.*+?^${}()|[\]\\/]/g,
    '\\$&',
  )
  return new RegExp(`^Bearer error="invalid_token".*resource_metadata="${metadata}"`)
}
