import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createOIDCProxy } from '../../src/presets/oidc.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'

describe('createOIDCProxy', () => {
  let idp: DevIdP
  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [{ username: 'u', password: 'p' }],
      clients: [
        {
          clientId: 'app',
          clientSecret: 'app-secret',
          redirectUris: ['https://mcp.example.com/auth/callback'],
        },
      ],
    })
  })
  afterAll(() => idp.close())

  it('builds the proxy from FastMCP-style options through the one schema', async () => {
    const gh = await createOIDCProxy({
      configUrl: `${idp.issuer}/.well-known/openid-configuration`,
      clientId: 'app',
      clientSecret: 'app-secret',
      baseUrl: 'https://mcp.example.com/',
      requiredScopes: ['files:read'],
      allowedClientRedirectUris: ['http://127.0.0.1:*'],
      secret: 'f'.repeat(32),
      store: createMemoryStore(),
    })
    expect(gh.base).toBeInstanceOf(OAuthProxy)
    expect(gh.config.issuer).toBe('https://mcp.example.com')
    const prm = await (
      await gh.fetch(
        new Request('https://mcp.example.com/.well-known/oauth-protected-resource/mcp'),
      )
    ).json()
    expect(prm).toMatchObject({
      resource: 'https://mcp.example.com/mcp',
      scopes_supported: ['files:read'],
    })
    const reg = await gh.fetch(
      new Request('https://mcp.example.com/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://evil.test/cb'] }),
      }),
    )
    expect(reg.status).toBe(400)
  })

  it('refuses bad options at start-up with the path of each problem', async () => {
    await expect(
      createOIDCProxy({
        configUrl: 'not a url',
        clientId: 'app',
        baseUrl: 'https://mcp.example.com',
        secret: 'short',
        store: createMemoryStore(),
      }),
    ).rejects.toThrow(/secret[\s\S]*upstream\.configUrl|upstream\.configUrl[\s\S]*secret/)
  })
})
