import { createServer } from 'node:http'
import { createGatehouse } from 'mcp-gatehouse'
import { nodeCrypto, toNodeHandler } from 'mcp-gatehouse/node'
import { createSqliteStore } from 'mcp-gatehouse/storage/sqlite'

const port = Number(process.env.PORT ?? 3000)
const base = `http://127.0.0.1:${port}`

const gatehouse = await createGatehouse({
  config: {
    issuer: base,
    secret: process.env.GATEHOUSE_SECRET, // 32+ characters; encrypts keys and tokens at rest
    resources: [{ url: `${base}/mcp`, scopes: ['mcp:read', 'mcp:write'] }],
  },
  store: createSqliteStore({ dataDir: './.gatehouse' }),
  // With no identity provider configured (see below), you decide who the user is. Gatehouse
  // shows its consent page first; this hook runs only after the user clicked "Allow".
  authenticate: () => Promise.resolve({ subject: 'alice' }),
  // Every refused request, with its internal reason (never sent to the client, never a secret).
  onError: (error) => {
    console.error(`gatehouse: ${error.code} (${error.reason ?? 'no reason'})`)
  },
  // Settings that work but may not do what you meant, reported once at start-up.
  onWarning: (message) => {
    console.warn(`gatehouse: ${message}`)
  },
  // optional, Node: verification, signing, hashing and sealing with node:crypto (2-3x faster
  // cold verification, no Web Crypto thread-pool hop per step)
  ...nodeCrypto,
})

const mcp = gatehouse.protect((_request, token) =>
  // token.subject, token.clientId, token.scopes, token.claims
  Promise.resolve(Response.json({ hello: token.subject })),
)

const server = createServer(
  toNodeHandler((request) =>
    new URL(request.url).pathname === '/mcp' ? mcp(request) : gatehouse.fetch(request),
  ),
).listen(port, '127.0.0.1')

// Not in the README: test/examples/readme.test.ts runs this file and stops it with `stop`.
export { base }
export async function stop(): Promise<void> {
  await new Promise((resolve) => server.close(resolve))
  await gatehouse.close()
}
