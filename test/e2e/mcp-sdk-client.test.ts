/**
 * The real MCP SDK client against a real MCP SDK server behind Gatehouse, over HTTP on 127.0.0.1:
 * first 401, discovery, registration, authorization, token, tool call, refresh, revocation.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  UnauthorizedError,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

/** A stateless MCP server per request, as the SDK recommends for horizontal scaling. */
async function handleMCP(request: Request, token: AccessToken): Promise<Response> {
  const server = new McpServer({ name: 'demo', version: '1.0.0' })
  server.registerTool('whoami', { description: 'who is calling' }, (extra) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({
          sub: extra.authInfo?.extra?.subject,
          client: extra.authInfo?.clientId,
          scopes: extra.authInfo?.scopes,
        }),
      },
    ],
  }))
  const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true })
  await server.connect(transport)
  return transport.handleRequest(request, {
    authInfo: {
      token: token.token,
      clientId: token.clientId,
      scopes: token.scopes,
      ...(token.expiresAt !== undefined ? { expiresAt: token.expiresAt } : {}),
      ...(token.resource !== undefined ? { resource: new URL(token.resource) } : {}),
      extra: { subject: token.subject },
    },
  })
}

/** An OAuthClientProvider whose "browser" follows the authorization redirect with fetch. */
class TestClientProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  code: string | undefined
  registrations = 0
  readonly redirectUrl = 'http://127.0.0.1:3999/callback'
  readonly clientMetadata = {
    client_name: 'sdk e2e',
    redirect_uris: [this.redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.registrations++
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  async redirectToAuthorization(url: URL) {
    // The user's part: /authorize leads to Gatehouse's consent page, and "Allow" to the code.
    const ua = new UserAgent()
    const consent = await ua.follow(url.href)
    expect(consent.url.startsWith(`${url.origin}/consent?txn=`)).toBe(true)
    const html = await consent.response!.text()
    const res = await ua.request(`${url.origin}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin },
      body: new URLSearchParams({
        txn: hiddenInput(html, 'txn'),
        csrf: hiddenInput(html, 'csrf'),
        action: 'approve',
      }).toString(),
    })
    expect(res.status).toBe(303)
    const location = new URL(res.headers.get('location') ?? '')
    expect(location.searchParams.get('iss')).toBe(url.origin)
    this.code = location.searchParams.get('code') ?? undefined
  }
  saveCodeVerifier(v: string) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }
}

describe('MCP SDK client end to end', () => {
  let server: Server
  let base: string
  let gh: Gatehouse
  const provider = new TestClientProvider()
  const serverErrors: string[] = []

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 's'.repeat(32),
        resources: [{ url: `${base}/mcp`, scopes: ['mcp:read', 'mcp:write'] }],
        revocationCheckSeconds: 0,
      },
      store: createSqliteStore({ dataDir: mkdtempSync(join(tmpdir(), 'gh-e2e-')) }),
      authenticate: () => Promise.resolve({ subject: 'alice' }),
      onError: (e) => {
        if (e.code === 'server_error') console.error('SERVER ERROR', e.reason, e.cause)
      },
      signatureVerifier: nodeSignatureVerifier,
    })
    const mcp = gh.protect(handleMCP)
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : gh.fetch(request),
    )
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
  })

  it('signs in from the first 401 to a tool call, refreshes, and is cut off by revocation', async () => {
    const client = new Client({ name: 'e2e', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      authProvider: provider,
    })
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(provider.registrations).toBe(1)
    expect(provider.code).toBeTypeOf('string')
    await first.finishAuth(provider.code!)
    expect(provider.saved?.access_token).toBeTypeOf('string')

    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      authProvider: provider,
    })
    await client.connect(transport)
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    const text = (result.content as { text: string }[])[0]!.text
    expect(JSON.parse(text)).toEqual({
      sub: 'alice',
      client: (provider.info as { client_id: string }).client_id,
      scopes: ['mcp:read', 'mcp:write'],
    })
    await client.close()

    // Refresh: an expired-looking token makes the SDK use its refresh token on the next 401.
    const before = provider.saved!
    provider.saved = { ...before, access_token: 'expired.invalid.token' }
    const again = new Client({ name: 'e2e', version: '1.0.0' })
    await again.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    expect(provider.saved.refresh_token).not.toBe(before.refresh_token)
    await again.callTool({ name: 'whoami', arguments: {} })
    await again.close()

    // Revocation: the grant dies, the next call with the same token fails with 401.
    const revoke = await fetch(`${base}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: provider.saved.refresh_token!,
        client_id: (provider.info as { client_id: string }).client_id,
      }),
    })
    expect(revoke.status).toBe(200)
    const after = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${provider.saved.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(after.status).toBe(401)
    expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(serverErrors).toEqual([])
  })
})
