// A server for bench/protect.bench.mjs: `node bench/protect-server.mjs <handler>`, where handler is
// `answer` (reads the JSON-RPC body and answers a small JSON result at once) or `mcp` (the MCP SDK
// 1.x stateless `tools/call` of bench/server.mjs: a new McpServer and transport per request).
// `/open` serves the handler as it is, `/mcp` the same handler inside `gatehouse.protect`, both
// through the Node adapter with its defaults (`toNodeHandler`, as an app serving its own handler
// does). `GET /bench-token` answers a real access token (through /authorize and /token).
// GATEHOUSE_DIST=<another build's dist/> serves that build (the bench's BASELINE_DIST).
// Serves as bench/child-server.mjs says (a { port } line, 'cpu' and 'close' over IPC).
import { pathToFileURL } from 'node:url'
import { serveChild } from './child-server.mjs'
import { ISSUER, inProcessClient, loadBuild, pkcePairs } from './flow-setup.mjs'

const dist = process.env.GATEHOUSE_DIST
  ? pathToFileURL(`${process.env.GATEHOUSE_DIST}/`)
  : new URL('../dist/', import.meta.url)
const build = await loadBuild(dist)
const { store } = await build.openStore('memory')
// As `gatehouse serve` wires it on Node; every user signed in without a page.
const gh = await build.createFlowGatehouse(store)
// One sign-in through the real endpoints: the access token every measured request carries.
const [pair] = pkcePairs(1)
const { access_token: token } = await (await inProcessClient(gh))(pair)

async function handlerFor(kind) {
  if (kind === 'answer') {
    return async (request) => {
      const { id } = await request.json()
      return Response.json({ jsonrpc: '2.0', id, result: { content: [] } })
    }
  }
  if (kind === 'mcp') {
    const { z } = await import('zod')
    const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js')
    const { WebStandardStreamableHTTPServerTransport } =
      await import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js')
    return async (request) => {
      const server = new McpServer({ name: 'bench', version: '1.0.0' })
      server.registerTool(
        'echo',
        { description: 'Echoes its text', inputSchema: { text: z.string() } },
        async ({ text }) => ({ content: [{ type: 'text', text }] }),
      )
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      })
      await server.connect(transport)
      return transport.handleRequest(request)
    }
  }
  throw new Error(`unknown handler ${kind}`)
}

const handler = await handlerFor(process.argv[2])
const guarded = gh.protect((request) => handler(request))
const route = (request) => {
  const path = request.url.slice(request.url.indexOf('/', 8))
  if (path === '/mcp') return guarded(request)
  if (path === '/open') return handler(request)
  if (path === '/bench-token') return Response.json({ token })
  return new Response('not found', { status: 404 })
}
serveChild(build.toNodeHandler(route, { baseUrl: ISSUER }), () => gh.close())
