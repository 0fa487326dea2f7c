/**
 * The names renamed by issue 12 (acronyms in capitals, `Azure` for Microsoft's IdP) still work
 * from the package entry points for one minor version: each old name is the new value itself (so
 * `instanceof` and `catch` checks written against either keep working) and the old type names are
 * the new types. Delete this file with the deprecated-names.ts files.
 */
/* eslint-disable @typescript-eslint/no-deprecated -- the deprecated names are what is tested */
import { describe, expect, expectTypeOf, it } from 'vitest'
import * as main from 'mcp-gatehouse'
import * as mcp from 'mcp-gatehouse/mcp'
import * as testingAzure from 'mcp-gatehouse/testing/azure'
import * as testingEntra from 'mcp-gatehouse/testing/entra'

describe('deprecated names (issue 12)', () => {
  it('mcp-gatehouse: old class names are the renamed classes', () => {
    expect(main.JwksCache).toBe(main.JWKSCache)
    expect(main.GitHubApi).toBe(main.GitHubAPI)
    expect(main.EntraOboError).toBe(main.AzureOBOError)

    const cache = new main.JwksCache()
    expect(cache).toBeInstanceOf(main.JWKSCache)
    const error = new main.AzureOBOError('ERR_OBO_REFUSED', 'refused', { entraCodes: [65001] })
    expect(error).toBeInstanceOf(main.EntraOboError)
    expect(new main.EntraOboError('ERR_OBO_NO_TOKEN', 'no token')).toBeInstanceOf(
      main.AzureOBOError,
    )
    expect(error.name).toBe('AzureOBOError')

    expectTypeOf<main.JwksCache>().toEqualTypeOf<main.JWKSCache>()
    expectTypeOf<main.JwksCacheOptions>().toEqualTypeOf<main.JWKSCacheOptions>()
    expectTypeOf<main.GitHubApi>().toEqualTypeOf<main.GitHubAPI>()
    expectTypeOf<main.EntraOboError>().toEqualTypeOf<main.AzureOBOError>()
    expectTypeOf<main.EntraOboErrorCode>().toEqualTypeOf<main.AzureOBOErrorCode>()
  })

  it('mcp-gatehouse/mcp: old function, class and type names are the renamed ones', async () => {
    expect(mcp.createMcpHandler).toBe(mcp.createMCPHandler)
    expect(mcp.entraOboToken).toBe(mcp.azureOBOToken)
    expect(mcp.McpAuthError).toBe(mcp.MCPAuthError)
    // One class behind both entry points, under either name.
    expect(mcp.EntraOboError).toBe(main.AzureOBOError)
    expect(mcp.AzureOBOError).toBe(main.AzureOBOError)

    // The old helper behaves as the new one: no signed-in user, the same refusal.
    const refusal = await mcp
      .entraOboToken({}, ['https://graph.microsoft.com/User.Read'])
      .catch((e: unknown) => e)
    expect(refusal).toBeInstanceOf(mcp.EntraOboError)
    expect(refusal).toMatchObject({ name: 'AzureOBOError', code: 'ERR_OBO_NO_TOKEN' })
    expect(new mcp.McpAuthError('ERR_MCP_NO_AUTH', 'x')).toBeInstanceOf(mcp.MCPAuthError)

    expectTypeOf<mcp.McpAuthError>().toEqualTypeOf<mcp.MCPAuthError>()
    expectTypeOf<mcp.McpAuthErrorCode>().toEqualTypeOf<mcp.MCPAuthErrorCode>()
    expectTypeOf<mcp.McpAuthSource>().toEqualTypeOf<mcp.MCPAuthSource>()
    expectTypeOf<mcp.McpHandler>().toEqualTypeOf<mcp.MCPHandler>()
    expectTypeOf<mcp.McpHandlerCommonOptions>().toEqualTypeOf<mcp.MCPHandlerCommonOptions>()
    expectTypeOf<mcp.McpHandlerOptions>().toEqualTypeOf<mcp.MCPHandlerOptions>()
    expectTypeOf<mcp.McpTransportOptions>().toEqualTypeOf<mcp.MCPTransportOptions>()
    expectTypeOf<mcp.StatefulMcpHandlerOptions>().toEqualTypeOf<mcp.StatefulMCPHandlerOptions>()
    expectTypeOf<mcp.StatelessMcpHandlerOptions>().toEqualTypeOf<mcp.StatelessMCPHandlerOptions>()
    expectTypeOf<mcp.McpSdkVersion>().toEqualTypeOf<mcp.MCPSDKVersion>()
    expectTypeOf<mcp.CreateMcpServer>().toEqualTypeOf<mcp.CreateMCPServer>()
    expectTypeOf<mcp.McpServerContext>().toEqualTypeOf<mcp.MCPServerContext>()
    expectTypeOf<mcp.McpServerLike>().toEqualTypeOf<mcp.MCPServerLike>()
    expectTypeOf<mcp.EntraOboErrorCode>().toEqualTypeOf<mcp.AzureOBOErrorCode>()
  })

  it('mcp-gatehouse/testing/entra is mcp-gatehouse/testing/azure, with the old names', async () => {
    expect(testingEntra.startAzureStandIn).toBe(testingAzure.startAzureStandIn)
    expect(testingEntra.startEntraStandIn).toBe(testingAzure.startAzureStandIn)
    expect(testingAzure.startEntraStandIn).toBe(testingAzure.startAzureStandIn)
    expectTypeOf<testingEntra.EntraStandIn>().toEqualTypeOf<testingAzure.AzureStandIn>()
    expectTypeOf<testingEntra.EntraStandInOptions>().toEqualTypeOf<testingAzure.AzureStandInOptions>()

    const tenant = '11111111-2222-3333-4444-555555555555'
    const standIn = await testingEntra.startEntraStandIn({
      tenants: [{ id: tenant }],
      apps: [],
      users: [],
    })
    try {
      const discovery = await fetch(
        `${standIn.url}/${tenant}/v2.0/.well-known/openid-configuration`,
      )
      expect(discovery.status).toBe(200)
      expect(await discovery.json()).toMatchObject({ issuer: standIn.issuer(tenant) })
    } finally {
      await standIn.close()
    }
  })
})
