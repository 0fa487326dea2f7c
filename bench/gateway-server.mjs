// The server side of the gateway bench: a minimal stateless MCP server over HTTP (answers every
// POST with a tools/call result) and `gatehouse serve`'s gateway in front of it, in one process.
// Prints one JSON line: { upstream, gateway, token }.
import { createServer } from 'node:http'
import { issueTokens } from './guard.bench.mjs'

const dist = new URL('../dist/', import.meta.url)
const { createGatehouse } = await import(new URL('index.js', dist).href)
const { createMemoryStore } = await import(new URL('storage/memory.js', dist).href)
const { nodeSignatureVerifier, toNodeHandler } = await import(
  new URL('adapters/node.js', dist).href
)
const { createGateway } = await import(new URL('gateway/gateway.js', dist).href)
const { createUpstream } = await import(new URL('gateway/create-upstream.js', dist).href)

const ISSUER = 'http://127.0.0.1:9'
const answer = (id) =>
  JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'ok' }] } })

const upstream = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    let id = null
    try {
      id = JSON.parse(Buffer.concat(chunks).toString()).id ?? null
    } catch {}
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer(id))
  })
})
await new Promise((done) => upstream.listen(0, '127.0.0.1', done))
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}/mcp`

const store = createMemoryStore()
const gh = await createGatehouse({
  config: {
    issuer: ISSUER,
    secret: 'b'.repeat(32),
    gateway: { routes: [{ path: '/mcp', upstream: { kind: 'http', url: upstreamUrl } }] },
  },
  store,
  authenticate: async () => ({ subject: 'bench-user' }),
  // Without it /authorize answers with the consent page and issueTokens gets no code.
  dangerouslySkipConsent: true,
  signatureVerifier: nodeSignatureVerifier,
})
const gateway = createGateway({
  gatehouse: gh,
  store,
  upstream: (route, index) => createUpstream(route, index),
})
const server = createServer(
  toNodeHandler((request) => gateway.handle(request) ?? gh.fetch(request), { baseUrl: ISSUER }),
)
await new Promise((done) => server.listen(0, '127.0.0.1', done))
const [token] = await issueTokens(gh, 1)
process.stdout.write(
  `${JSON.stringify({ upstream: upstreamUrl, gateway: `http://127.0.0.1:${server.address().port}/mcp`, token })}\n`,
)
