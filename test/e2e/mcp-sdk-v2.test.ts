/**
 * `createMCPHandler` with the MCP TypeScript SDK 2.x (`@modelcontextprotocol/server`) as with 1.x:
 * the v2 client (`@modelcontextprotocol/client`) signs in through Gatehouse and the embedded dev
 * IdP's login page, calls tools whose `ctx` carries Gatehouse's `authInfo`, gets the 403 step-up
 * challenge for a tool's scopes, keeps a stateful session bound to its principal; and the 1.x and
 * 2.x clients and servers cross over.
 */
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
} from '@modelcontextprotocol/client'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError as UnauthorizedV1 } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js'
import { McpServer as McpServerV2 } from '@modelcontextprotocol/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import {
  authOf,
  createMCPHandler,
  type MCPHandler,
  type MCPServerContext,
} from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

const CALLBACK = 'http://127.0.0.1:3999/callback'
const USER = { username: 'grace', password: 'hopper' }

/** A 2.x server whose tools read the caller from `ctx` with `authOf`. */
function v2Server({ jsonSchemaValidator }: MCPServerContext): McpServerV2 {
  const server = new McpServerV2({ name: 'v2', version: '1.0.0' }, { jsonSchemaValidator })
  server.registerTool('whoami', { description: 'who is calling' }, (ctx) => {
    const auth = authOf(ctx)
    return {
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            sdk: 2,
            subject: auth.extra.subject,
            scopes: auth.scopes,
            upstream: auth.extra.upstream?.subject,
            session: ctx.sessionId ?? null,
          }),
        },
      ],
    }
  })
  server.registerTool('purge', { description: 'needs mcp:admin' }, () => ({
    content: [{ type: 'text', text: 'purged' }],
  }))
  return server
}

/** The same with SDK 1.x. */
function v1Server({ jsonSchemaValidator }: MCPServerContext): McpServerV1 {
  const server = new McpServerV1({ name: 'v1', version: '1.0.0' }, { jsonSchemaValidator })
  server.registerTool('whoami', { description: 'who is calling' }, (extra) => {
    const auth = authOf(extra)
    return {
      content: [
        {
          type: 'text',
          text: JSON.stringify({ sdk: 1, subject: auth.extra.subject, scopes: auth.scopes }),
        },
      ],
    }
  })
  return server
}

function text(result: unknown): Record<string, unknown> {
  const content = (result as { content: { text: string }[] }).content
  return JSON.parse(content[0]!.text) as Record<string, unknown>
}

describe('MCP glue with SDK 2.x', () => {
  let http: HttpServer
  let issuer: string
  let mcpUrl: URL
  let idp: DevIdP
  let gatehouse: Gatehouse
  const handlers: Record<string, MCPHandler> = {}
  let current = 'v2'
  const provider = new BrowserlessClientProvider({
    redirectUrl: CALLBACK,
    clientName: 'sdk v2 e2e',
    user: USER,
  })

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    http = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
    mcpUrl = new URL(`${issuer}/mcp`)
    idp = await startDevIdentityProvider({
      users: [{ ...USER, sub: USER.username, name: 'Grace', email: 'grace@gatehouse.dev' }],
      clients: [
        {
          clientId: 'gatehouse-dev',
          clientSecret: 'u'.repeat(43),
          redirectUris: [`${issuer}/auth/callback`],
          clientName: 'Gatehouse (test)',
        },
      ],
    })
    gatehouse = await createGatehouse({
      config: {
        issuer,
        secret: 's'.repeat(32),
        resources: [{ url: mcpUrl.href, scopes: ['mcp:read', 'mcp:write', 'mcp:admin'] }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse-dev',
          clientSecret: 'u'.repeat(43),
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
    handlers.v2 = createMCPHandler(gatehouse, {
      mode: 'stateless',
      sdk: 2,
      enableJsonResponse: true,
      createServer: v2Server,
      toolScopes: { purge: ['mcp:admin'] },
    })
    handlers.v2stateful = createMCPHandler(gatehouse, {
      mode: 'stateful',
      sdk: 2,
      createServer: v2Server,
    })
    handlers.v1 = createMCPHandler(gatehouse, {
      mode: 'stateless',
      sdk: 1,
      enableJsonResponse: true,
      createServer: v1Server,
    })
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp'
        ? handlers[current]!(request)
        : gatehouse.fetch(request),
    )
  })
  afterAll(async () => {
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
    await Promise.all(Object.values(handlers).map((h) => h.close()))
    await idp.close()
    await gatehouse.close()
  })

  it('lets the v2 client sign in through Gatehouse and the IdP and call a v2 server’s tools', async () => {
    current = 'v2'
    const client = new ClientV2({ name: 'e2e', version: '1.0.0' })
    const first = new TransportV2(mcpUrl, { authProvider: provider })
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedV2)
    expect(provider.code).toBeTypeOf('string')
    await first.finishAuth(provider.callbackParams!)
    await client.connect(new TransportV2(mcpUrl, { authProvider: provider }))
    const who = text(await client.callTool({ name: 'whoami', arguments: {} }))
    expect(who).toMatchObject({ sdk: 2, subject: USER.username, upstream: USER.username })
    expect(who.scopes).toContain('mcp:read')
    await client.close()
  })

  it('answers a v2 tool call lacking the tool’s scope with 403 insufficient_scope naming it', async () => {
    current = 'v2'
    const token = provider.saved!.access_token
    const scopes = (provider.saved!.scope ?? '').split(' ')
    // The client asked for what it was offered; take a token without mcp:admin to see the step-up.
    const narrow = scopes.includes('mcp:admin')
      ? await narrowToken(provider.saved!.refresh_token!, 'mcp:read')
      : token
    const call = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${narrow}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'purge', arguments: {} },
      }),
    })
    expect(call.status).toBe(403)
    const challenge = call.headers.get('www-authenticate') ?? ''
    expect(challenge).toContain('error="insufficient_scope"')
    expect(challenge).toMatch(/scope="[^"]*mcp:admin/)
  })

  it('binds a v2 stateful session to its principal: another token’s principal gets 404', async () => {
    current = 'v2stateful'
    const client = new ClientV2({ name: 'e2e', version: '1.0.0' })
    const transport = new TransportV2(mcpUrl, { authProvider: provider })
    await client.connect(transport)
    const who = text(await client.callTool({ name: 'whoami', arguments: {} }))
    expect(who.session).toBe(transport.sessionId)
    expect(handlers.v2stateful!.sessionCount).toBe(1)

    // The same user through another client (another principal) presents the session id.
    const other = new BrowserlessClientProvider({
      redirectUrl: CALLBACK,
      clientName: 'another client',
      user: USER,
    })
    const otherClient = new ClientV2({ name: 'other', version: '1.0.0' })
    const otherFirst = new TransportV2(mcpUrl, { authProvider: other })
    await expect(otherClient.connect(otherFirst)).rejects.toBeInstanceOf(UnauthorizedV2)
    await otherFirst.finishAuth(other.callbackParams!)
    const hijack = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${other.saved!.access_token}`,
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-11-25',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    })
    expect(hijack.status).toBe(404)
    await client.close()
  })

  it('serves the 1.x client from a v2 server and the v2 client from a 1.x server', async () => {
    current = 'v2'
    const v1Client = new ClientV1({ name: 'v1', version: '1.0.0' })
    const v1Provider = new BrowserlessClientProvider({
      redirectUrl: CALLBACK,
      clientName: 'sdk v1 client',
      user: USER,
    })
    const first = new TransportV1(mcpUrl, { authProvider: v1Provider })
    await expect(v1Client.connect(first)).rejects.toBeInstanceOf(UnauthorizedV1)
    await first.finishAuth(v1Provider.code!)
    await v1Client.connect(new TransportV1(mcpUrl, { authProvider: v1Provider }))
    expect(text(await v1Client.callTool({ name: 'whoami', arguments: {} }))).toMatchObject({
      sdk: 2,
      subject: USER.username,
    })
    await v1Client.close()

    current = 'v1'
    const v2Client = new ClientV2({ name: 'v2', version: '1.0.0' })
    await v2Client.connect(new TransportV2(mcpUrl, { authProvider: provider }))
    expect(text(await v2Client.callTool({ name: 'whoami', arguments: {} }))).toMatchObject({
      sdk: 1,
      subject: USER.username,
    })
    await v2Client.close()
  })

  /** A refresh with a narrower scope (RFC 6749 §6) for a token without `mcp:admin`. */
  async function narrowToken(refreshToken: string, scope: string): Promise<string> {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: (provider.info as { client_id: string }).client_id,
        scope,
        resource: mcpUrl.href,
      }),
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { access_token: string; refresh_token?: string }
    if (body.refresh_token)
      provider.saved = { ...provider.saved!, refresh_token: body.refresh_token }
    return body.access_token
  }
})
