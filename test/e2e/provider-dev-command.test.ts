/**
 * `gatehouse dev --provider <name>`: the local stand-in of that provider replaces the embedded
 * OpenID provider; the MCP SDK client signs in through it, calls the demo tools, and holds the
 * role the stand-in gives the dev user (none for Google). The CLI names every provider.
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
  ['github', '1', ['Tools.Admin']],
  ['google', '100000000000000000001', undefined],
  ['auth0', 'auth0|ada', ['Tools.Admin']],
  ['keycloak', 'ada', ['default-roles-gatehouse-dev', 'Tools.Admin']],
  ['okta', '00uada', ['Tools.Admin']],
  ['cognito', 'ada', ['Tools.Admin']],
  ['discord', '100000000000000002', ['Tools.Admin']],
  ['huggingface', 'ada', ['Tools.Admin']],
  ['oci', 'ada', ['Tools.Admin']],
  ['workos', 'user_ada', ['Tools.Admin']],
  ['descope', 'U2ada', ['Tools.Admin']],
  ['scalekit', 'usr_ada', ['Tools.Admin']],
  ['supabase', '00000000-0000-4000-8000-000000000001', ['Tools.Admin']],
  ['clerk', 'user_ada', ['Tools.Admin']],
  ['propelauth', '00000000-0000-4000-8000-000000000002', ['Tools.Admin']],
] as const)('gatehouse dev --provider %s', (kind, subject, roles) => {
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
      const token = await dev.gatehouse.verifier.verifyToken(provider.saved!.access_token)
      expect(token?.roles).toEqual(roles)
      await client.close()
    } finally {
      await dev.close()
    }
  })
})

describe('gatehouse dev --provider', () => {
  it('names every provider with a stand-in in its help and its refusal', async () => {
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    expect(await main(['dev', '--provider', 'myspace'], out, out)).toBe(2)
    expect(text).toContain(
      '--provider must be one of oidc, azure, github, google, auth0, keycloak, okta, cognito, ' +
        'discord, huggingface, oci, workos, descope, scalekit, supabase, clerk, propelauth\n',
    )
    text = ''
    expect(await main(['dev', '--help'], out, out)).toBe(0)
    for (const name of [
      'keycloak',
      'okta',
      'cognito',
      'auth0',
      'discord',
      'huggingface',
      'oci',
      'workos',
      'descope',
      'scalekit',
      'supabase',
      'clerk',
      'propelauth',
    ]) {
      expect(text).toMatch(new RegExp(`^ +${name} \\(a local `, 'm'))
    }
  })
})
