import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import express from 'express'
import { createGatehouse } from 'mcp-gatehouse'
import { gatehouseMiddleware } from 'mcp-gatehouse/express'
import { authOf, createMCPHandler } from 'mcp-gatehouse/mcp'
import { createSqliteStore } from 'mcp-gatehouse/storage/sqlite'
import { z } from 'zod'

const port = Number(process.env.PORT ?? 3000)
const base = `http://127.0.0.1:${port}`

const gatehouse = await createGatehouse({
  config: {
    issuer: base,
    secret: process.env.GATEHOUSE_SECRET,
    resources: [{ url: `${base}/mcp`, scopes: ['notes:read', 'notes:write'] }],
  },
  store: createSqliteStore({ dataDir: './.gatehouse' }),
  authenticate: () => Promise.resolve({ subject: 'alice' }),
})

// Your MCP server (the official SDK), behind Gatehouse's guard: tools see who is calling.
const mcp = createMCPHandler(gatehouse, {
  mode: 'stateless', // or 'stateful' (sessions bound to the principal that opened them)
  toolScopes: { add_note: ['notes:write'] }, // a call without the scope gets a 403 step-up
  createServer: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' }, { jsonSchemaValidator })
    server.registerTool('whoami', { description: 'Who is calling' }, (extra) => ({
      content: [{ type: 'text', text: authOf(extra).extra.subject ?? 'unknown' }],
    }))
    server.registerTool(
      'add_note',
      { description: 'Adds a note', inputSchema: { text: z.string() } },
      ({ text }, extra) => {
        notes.push({ by: authOf(extra).extra.subject ?? 'unknown', text })
        return { content: [{ type: 'text', text: `${String(notes.length)} notes` }] }
      },
    )
    return server
  },
})
const notes: { by: string; text: string }[] = []

const app = express()
app.use(gatehouseMiddleware(gatehouse.fetch)) // OAuth endpoints and metadata, before body parsers
app.all('/mcp', gatehouseMiddleware(mcp))
app.use(express.json()) // your own routes from here on
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`MCP endpoint: ${base}/mcp`)
})

// Not in the README: test/examples/readme.test.ts runs this file and stops it with `stop`.
export { base }
export async function stop(): Promise<void> {
  await new Promise((resolve) => server.close(resolve))
  await gatehouse.close()
}
