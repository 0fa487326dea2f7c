import { createServer } from 'node:http'
import { createGatehouse } from 'mcp-gatehouse'
import { toNodeHandler } from 'mcp-gatehouse/node'
import { createSqliteStore } from 'mcp-gatehouse/storage/sqlite'

const port = Number(process.env.PORT ?? 3000)
const base = `http://127.0.0.1:${port}` // in production: https://mcp.example.com

const gatehouse = await createGatehouse({
  config: {
    issuer: base,
    secret: process.env.GATEHOUSE_SECRET,
    resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
    upstream: {
      kind: 'oidc',
      // e.g. https://login.example.com/.well-known/openid-configuration
      configUrl: process.env.IDP_CONFIG_URL,
      clientId: process.env.IDP_CLIENT_ID,
      clientSecret: process.env.IDP_CLIENT_SECRET, // register `${base}/auth/callback` at the IdP
    },
  },
  store: createSqliteStore({ dataDir: './.gatehouse' }),
})

const mcp = gatehouse.protect((_request, token) =>
  Promise.resolve(Response.json({ hello: token.subject, email: token.claims.email })),
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
