/**
 * The Azure provider from configuration (file and GATEHOUSE_* environment, the one schema) and
 * `AzureJWTVerifier` in a resource server without the proxy: short-form scopes checked in `scp`,
 * full-URI scopes advertised.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AzureJWTVerifier } from '../../src/providers/azure/azure-jwt-verifier.js'
import { AzureProvider } from '../../src/presets/azure.js'
import { main } from '../../src/cli/main.js'
import { configFromEnv, mergeConfig } from '../../src/config/env.js'
import { resolveConfig } from '../../src/config/schema.js'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import { ConfigError } from '../../src/errors.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import {
  APP_ID,
  APP_SECRET,
  createAzureGatehouse,
  GH,
  signIn,
  startStandIn,
  TENANT_A,
  USERS,
} from '../helpers/azure.js'

const base = {
  issuer: GH,
  secret: 's'.repeat(32),
  resources: [{ url: `${GH}/mcp`, scopes: ['read'], requiredScopes: ['read'] }],
}

describe('Azure configuration', () => {
  let entra: AzureStandIn
  beforeAll(async () => {
    entra = await startStandIn()
  })
  afterAll(() => entra.close())

  it('builds the Azure provider from a config file plus GATEHOUSE_* variables', async () => {
    const file = {
      ...base,
      upstream: {
        kind: 'azure',
        tenantId: 'a.onmicrosoft.com',
        authority: entra.url,
        clientId: APP_ID,
        requiredScopes: ['read'],
      },
    }
    const env = configFromEnv({ GATEHOUSE_UPSTREAM__CLIENT_SECRET: APP_SECRET })
    const gh = await createGatehouse({
      config: mergeConfig(file, env),
      store: createMemoryStore(),
    })
    expect(gh.base).toBeInstanceOf(AzureProvider)
    // Discovery ran at start-up for the domain tenant.
    expect(entra.requestsTo('discovery').at(-1)?.tenant).toBe('a.onmicrosoft.com')
    await gh.close()
  })

  it('reaches Entra (discovery, keys, On-Behalf-Of) through the given resolving transport', async () => {
    const seen: string[] = []
    const inner = createNodeTransport()
    const setup = await createAzureGatehouse(entra, {
      additionalAuthorizeScopes: ['User.Read'],
      transport: (request) => {
        seen.push(new URL(request.url).pathname)
        return inner(request)
      },
    })
    const { token } = await signIn(setup, USERS.alice)
    await setup.provider.onBehalfOf(token!, ['https://graph.microsoft.com/User.Read'])
    expect(seen).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/openid-configuration$/),
        expect.stringMatching(/keys$/),
        expect.stringMatching(/oauth2\/v2\.0\/token$/),
      ]),
    )
    await setup.gh.close()
  })

  it('lists every Azure configuration problem at once', () => {
    const bad = (upstream: Record<string, unknown>) => {
      try {
        resolveConfig({ ...base, upstream: { kind: 'azure', clientId: APP_ID, ...upstream } })
        return []
      } catch (error) {
        return error instanceof ConfigError ? error.issues : ['not a ConfigError']
      }
    }
    expect(bad({ clientSecret: 'x' })).toContain('upstream.tenantId: give tenantId or b2c (one)')
    expect(
      bad({ tenantId: TENANT_A, clientSecret: 'x', authority: 'http://login.example' }),
    ).toContain('upstream.authority: must be https (http is allowed on loopback only)')
    expect(
      bad({
        clientSecret: 'x',
        b2c: { tenantName: 'contoso.onmicrosoft.com', policyName: 'B2C_1_susi' },
      }),
    ).toEqual(['upstream.b2c.tenantName: must be the short tenant name, without .onmicrosoft.com'])
    expect(bad({ tenantId: TENANT_A })).toContain(
      'upstream.clientSecret: is required for client_secret_post',
    )
    expect(bad({ tenantId: TENANT_A, clientSecret: 'x', allowedTenants: ['contoso'] })).toEqual([
      'upstream.allowedTenants.0: must be a tenant GUID',
    ])
  })

  it('fails start-up when Entra’s discovery does not know the tenant', async () => {
    await expect(
      createGatehouse({
        config: {
          ...base,
          upstream: {
            kind: 'azure',
            // A GUID the stand-in does not know: discovery answers 400.
            tenantId: 'eeeeeeee-5555-4555-8555-eeeeeeeeeeee',
            authority: entra.url,
            clientId: APP_ID,
            clientSecret: APP_SECRET,
            requiredScopes: ['read'],
          },
        },
        store: createMemoryStore(),
      }),
    ).rejects.toMatchObject({ name: 'UpstreamError' })
  })

  it('gatehouse check-config accepts an Azure configuration file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-azure-'))
    const path = join(dir, 'gatehouse.json')
    await writeFile(
      path,
      JSON.stringify({
        ...base,
        upstream: { kind: 'azure', tenantId: 'organizations', clientId: APP_ID },
      }),
    )
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    const saved = { ...process.env }
    process.env.GATEHOUSE_UPSTREAM__CLIENT_SECRET = 'from-the-environment'
    try {
      expect(await main(['check-config', path], out, out)).toBe(0)
    } finally {
      process.env = saved
    }
    expect(text).not.toContain('from-the-environment')
  })
})

describe('AzureJWTVerifier in a resource server', () => {
  let entra: AzureStandIn
  beforeAll(async () => {
    entra = await startStandIn()
  })
  afterAll(() => entra.close())

  it('advertises full-URI scopes and checks the short form in scp', async () => {
    const verifier = new AzureJWTVerifier({
      clientId: APP_ID,
      tenantId: TENANT_A,
      authority: entra.url,
      requiredScopes: ['read'],
      resource: 'https://mcp.example/mcp',
    })
    expect(verifier.scopesSupported).toEqual([`api://${APP_ID}/read`])
    expect(verifier.requiredScopes).toEqual(['read'])
    const rs = createRemoteAuthProvider({
      config: {
        resources: [{ url: 'https://mcp.example/mcp', scopes: verifier.scopesSupported }],
        authorizationServers: [entra.issuer(TENANT_A)],
      },
      verifier,
    })
    const prm = (await (
      await rs.fetch(new Request('https://mcp.example/.well-known/oauth-protected-resource/mcp'))
    ).json()) as { scopes_supported: string[]; authorization_servers: string[] }
    expect(prm.scopes_supported).toEqual([`api://${APP_ID}/read`])
    const now = Math.floor(Date.now() / 1000)
    const token = (scp: string) =>
      entra.sign({
        iss: entra.issuer(TENANT_A),
        aud: APP_ID,
        tid: TENANT_A,
        sub: 'managed-identity-caller',
        roles: ['Jobs.Run'],
        scp,
        iat: now,
        exp: now + 600,
      })
    const handler = rs.protect((_request, t) =>
      Promise.resolve(Response.json({ scopes: t.scopes, roles: t.roles })),
    )
    const ok = await handler(
      new Request('https://mcp.example/mcp', {
        headers: { authorization: `Bearer ${await token('read')}` },
      }),
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ scopes: ['read'], roles: ['Jobs.Run'] })
    const missing = await handler(
      new Request('https://mcp.example/mcp', {
        headers: { authorization: `Bearer ${await token('write')}` },
      }),
    )
    // Genuine but without `read`: the step-up challenge, naming the scope to ask Entra for.
    expect(missing.status).toBe(403)
    expect(missing.headers.get('www-authenticate')).toContain(
      `error="insufficient_scope", error_description="the access token lacks a required scope", ` +
        `resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", ` +
        `scope="api://${APP_ID}/read"`,
    )
  })
})
