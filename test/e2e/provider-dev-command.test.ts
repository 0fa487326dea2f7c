/**
 * `gatehouse dev --provider github|google`: the local GitHub or Google stand-in replaces the
 * embedded OpenID provider; the MCP SDK client signs in through it and calls the demo tools.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { describe, expect, it } from 'vitest'
import { startDev } from '../../src/cli/dev.js'
import { main } from '../../src/cli/main.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

describe.each([
  ['github', '1'],
  ['google', '100000000000000000001'],
] as const)('gatehouse dev --provider %s', (kind, subject) => {
  it('signs the MCP SDK client in through the stand-in and serves the demo tools', async () => {
    const dev = await startDev({
      port: 0,
      dataDir: '',
      memory: true,
      user: 'ada',
      password: 'lovelace',
      provider: kind,
    })
    try {
      const base = dev.gatehouse.base
      expect(base instanceof OAuthProxy && base.profile.kind).toBe(kind)
      const provider = new BrowserlessClientProvider({
        redirectUrl: 'http://127.0.0.1:3997/callback',
        clientName: `dev ${kind} e2e`,
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
        subject: string
      }
      expect(body).toMatchObject({ issuer: dev.issuer, subject })
      await client.close()
    } finally {
      await dev.close()
    }
  })
})

describe('gatehouse dev --provider', () => {
  it('names github and google in its help and its refusal', async () => {
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    expect(await main(['dev', '--provider', 'okta'], out, out)).toBe(2)
    expect(text).toContain('--provider must be oidc, azure, github or google')
    text = ''
    expect(await main(['dev', '--help'], out, out)).toBe(0)
    expect(text).toContain('oidc|azure|github|google')
  })
})
