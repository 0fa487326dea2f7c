// A bench server: the same JSON route unprotected (/open) and behind the guard (/mcp).
// Prints one JSON line { port, token } and serves until killed.
import { createServer } from 'node:http'
import { createBenchGatehouse, issueTokens } from './guard.bench.mjs'

const { toNodeHandler } = await import(new URL('../dist/adapters/node.js', import.meta.url).href)
const gh = await createBenchGatehouse()
const [token] = await issueTokens(gh, 1)
const body = () =>
  Response.json({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hello' }] } })
const open = async () => body()
const mcp = gh.protect(async () => body())
const server = createServer(
  toNodeHandler(
    (request) => {
      const path = new URL(request.url).pathname
      return path === '/mcp' ? mcp(request) : path === '/open' ? open(request) : gh.fetch(request)
    },
    { baseUrl: 'http://127.0.0.1:9' },
  ),
)
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, token })}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
