/**
 * `gatehouse dev --provider azure`: the local Entra stand-in replaces the embedded OpenID provider;
 * the MCP SDK client signs in through it and calls the demo tools.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { describe, expect, it } from 'vitest'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'
import { AzureProvider } from '../../src/presets/azure.js'
import { startDev } from '../../src/cli/dev.js'
import { main } from '../../src/cli/main.js'

const CALLBACK = 'http://127.0.0.1:3997/callback'

describe('gatehouse dev --provider azure', () => {
  it('signs the MCP SDK client in through the Entra stand-in and serves the demo tools', async () => {
    const dev = await startDev({
      port: 0,
      dataDir: '',
      memory: true,
      user: 'ada',
      password: 'lovelace',
      provider: 'azure',
    })
    try {
      expect(dev.gatehouse.base).toBeInstanceOf(AzureProvider)
      expect(dev.idpIssuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}\/v2\.0$/)
      const provider = new BrowserlessClientProvider({
        redirectUrl: CALLBACK,
        clientName: 'dev azure e2e',
        user: { username: 'ada', password: 'lovelace' },
      })
      const client = new Client({ name: 'e2e', version: '1.0.0' })
      const first = new StreamableHTTPClientTransport(new URL(dev.mcpUrl), {
        authProvider: provider,
      })
      await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
      await first.finishAuth(provider.code!)
      await client.connect(
        new StreamableHTTPClientTransport(new URL(dev.mcpUrl), { authProvider: provider }),
      )
      const who = await client.callTool({ name: 'whoami', arguments: {} })
      const body = JSON.parse((who.content as { text: string }[])[0]!.text) as {
        issuer: string
        scopes: string[]
        subject: string
      }
      expect(body).toMatchObject({ issuer: dev.issuer, scopes: ['mcp:read', 'mcp:write'] })
      expect(body.subject).toBeTypeOf('string')
      await client.close()
    } finally {
      await dev.close()
    }
  })

  it('refuses an unknown --provider', async () => {
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    expect(await main(['dev', '--provider', 'no-such-idp'], out, out)).toBe(2)
    expect(text).toContain('--provider must be one of oidc, azure, github, google')
    text = ''
    expect(await main(['dev', '--help'], out, out)).toBe(0)
    expect(text).toContain('--provider')
  })
})
