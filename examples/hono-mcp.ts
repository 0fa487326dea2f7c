import { createServer } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Hono } from 'hono'
import { createGatehouse } from 'mcp-gatehouse'
import { gatehouseHono } from 'mcp-gatehouse/hono'
import { authOf, createMCPHandler } from 'mcp-gatehouse/mcp'
import { toNodeHandler } from 'mcp-gatehouse/node'
import { createSqliteStore } from 'mcp-gatehouse/storage/sqlite'

const port = Number(process.env.PORT ?? 3000)
const base = `http://127.0.0.1:${port}`

const gatehouse = await createGatehouse({
  config: {
    issuer: base,
    secret: process.env.GATEHOUSE_SECRET,
    resources: [{ url: `${base}/mcp`, scopes: ['notes:read'] }],
  },
  store: createSqliteStore({ dataDir: './.gatehouse' }),
  authenticate: () => Promise.resolve({ subject: 'alice' }),
})

const mcp = createMCPHandler(gatehouse, {
  mode: 'stateless',
  createServer: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' }, { jsonSchemaValidator })
    server.registerTool('whoami', { description: 'Who is calling' }, (extra) => ({
      content: [{ type: 'text', text: authOf(extra).extra.subject ?? 'unknown' }],
    }))
    return server
  },
})

const app = new Hono()
app.use(gatehouseHono(gatehouse.fetch)) // OAuth endpoints and metadata; other paths fall through
app.all('/mcp', (c) => mcp(c.req.raw))
// On Node; on Workers, Deno or Bun hand `app.fetch` to the runtime instead.
const server = createServer(toNodeHandler(app.fetch)).listen(port, '127.0.0.1')

// Not in the README: test/examples/readme.test.ts runs this file and stops it with `stop`.
export { base }
export async function stop(): Promise<void> {
  await new Promise((resolve) => server.close(resolve))
  await gatehouse.close()
}
