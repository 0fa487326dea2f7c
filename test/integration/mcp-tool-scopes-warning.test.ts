import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { describe, expect, it } from 'vitest'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMCPHandler, type MCPServerContext } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'

const createServer = ({ jsonSchemaValidator }: MCPServerContext) =>
  new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator })

async function warningsFor(
  scopes: string[],
  toolScopes: Record<string, string[]>,
  scopeHierarchy?: Record<string, string[]>,
): Promise<string[]> {
  const gatehouse = await createGatehouse({
    config: {
      issuer: 'https://gw.example',
      secret: 's'.repeat(40),
      resources: [{ url: 'https://gw.example/mcp', scopes }],
    },
    store: createMemoryStore(),
    authenticate: () => Promise.resolve({ subject: 'u' }),
  })
  const warnings: string[] = []
  const mcp = createMCPHandler(gatehouse, {
    mode: 'stateless',
    createServer,
    toolScopes,
    ...(scopeHierarchy ? { scopeHierarchy } : {}),
    onWarning: (m) => warnings.push(m),
  })
  await mcp.close()
  await gatehouse.close()
  return warnings
}

describe('toolScopes naming a scope no resource offers', () => {
  it('is a start-up warning through onWarning, naming the tool and the scope', async () => {
    const warnings = await warningsFor(['files:read', 'files:write'], {
      read_file: ['files:read'],
      delete_file: ['files:admin'],
    })
    expect(warnings).toEqual([
      'gatehouse: toolScopes.delete_file names the scope "files:admin", which no resource offers (resources[].scopes): no token can carry it, so the tool can never be called',
    ])
  })

  it('is not reported for a scope offered directly or implied by an offered one', async () => {
    const warnings = await warningsFor(
      ['files:write'],
      { read_file: ['files:read'], write_file: ['files:write'] },
      { 'files:write': ['files:read'] },
    )
    expect(warnings).toEqual([])
  })

  it('is not reported when the resource lists no scopes (it accepts any)', async () => {
    expect(await warningsFor([], { delete_file: ['files:admin'] })).toEqual([])
  })
})
