/**
 * `gatehouse dev --provider azure`: the local Entra stand-in replaces the embedded OpenID provider;
 * the MCP SDK client signs in through it and calls the demo tools.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  UnauthorizedError,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { describe, expect, it } from 'vitest'
import { AzureProvider } from '../../src/azure/azure-provider.js'
import { startDev } from '../../src/cli/dev.js'
import { main } from '../../src/cli/main.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const CALLBACK = 'http://127.0.0.1:3997/callback'

class BrowserlessProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  code: string | undefined
  readonly redirectUrl = CALLBACK
  readonly clientMetadata = {
    client_name: 'dev azure e2e',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i
  }
  tokens() {
    return this.saved
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t
  }
  saveCodeVerifier(v: string) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }
  async redirectToAuthorization(url: URL) {
    const back = await approveAndSignIn(
      new UserAgent(),
      url.href,
      { username: 'ada', password: 'lovelace' },
      CALLBACK,
    )
    this.code = back.searchParams.get('code') ?? undefined
  }
}

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
      const provider = new BrowserlessProvider()
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
    expect(await main(['dev', '--provider', 'okta'], out, out)).toBe(2)
    expect(text).toContain('--provider must be oidc or azure')
    text = ''
    expect(await main(['dev', '--help'], out, out)).toBe(0)
    expect(text).toContain('--provider')
  })
})
