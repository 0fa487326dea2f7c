/**
 * End to end: the MCP SDK client with a `clientMetadataUrl` signs in through `gatehouse dev`
 * without registering. Its metadata document is served by an HTTPS client host on loopback (the
 * dev switch allows loopback documents; the test CA is handed to the dev server's transport).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'
import { startDev } from '../../src/cli/dev.js'
import { startClientHost, type ClientHost } from '../helpers/client-host.js'

const CALLBACK = 'http://127.0.0.1:3998/callback'

describe('gatehouse dev with a Client ID Metadata Document', () => {
  let host: ClientHost
  beforeAll(async () => {
    host = await startClientHost()
  })
  afterAll(async () => {
    await host.close()
  })

  it('the MCP SDK client signs in with a clientMetadataUrl and never registers', async () => {
    const documentUrl = `https://127.0.0.1:${host.port}/mcp-client.json`
    host.json(
      '/mcp-client.json',
      {
        client_id: documentUrl,
        client_name: 'CIMD e2e',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      { 'cache-control': 'max-age=300' },
    )
    const dev = await startDev({
      port: 0,
      dataDir: '',
      memory: true,
      user: 'ada',
      password: 'lovelace',
      outbound: { ca: host.ca },
    })
    const seen: string[] = []
    const countingFetch: typeof fetch = (input, init) => {
      seen.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`)
      return fetch(input, init)
    }
    try {
      const provider = new BrowserlessClientProvider({
        redirectUrl: CALLBACK,
        clientName: 'CIMD e2e',
        user: { username: 'ada', password: 'lovelace' },
        clientMetadataUrl: documentUrl,
        keepConsentPage: true,
      })
      const client = new Client({ name: 'cimd-e2e', version: '1.0.0' })
      const first = new StreamableHTTPClientTransport(new URL(dev.mcpUrl), {
        authProvider: provider,
        fetch: countingFetch,
      })
      await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
      expect(provider.code).toBeTypeOf('string')
      expect(provider.consentPage).toContain('CIMD e2e')
      expect(provider.consentPage).toContain(`127.0.0.1:${host.port}`)
      await first.finishAuth(provider.code!)
      await client.connect(
        new StreamableHTTPClientTransport(new URL(dev.mcpUrl), {
          authProvider: provider,
          fetch: countingFetch,
        }),
      )
      const who = await client.callTool({ name: 'whoami', arguments: {} })
      const body = JSON.parse((who.content as { text: string }[])[0]!.text)
      expect(body).toMatchObject({ subject: 'ada', client: documentUrl })
      await client.close()

      expect((provider.info as { client_id: string }).client_id).toBe(documentUrl)
      expect(seen.filter((s) => s.includes('/register'))).toEqual([])
      expect(seen.some((s) => s.startsWith('POST') && s.endsWith('/token'))).toBe(true)
      // Fetched once, then served from the cache (max-age=300) for consent, callback and token.
      expect(host.count('/mcp-client.json')).toBe(1)
    } finally {
      await dev.close()
    }
  })
})
