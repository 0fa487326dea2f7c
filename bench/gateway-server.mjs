// The gateway side of the gateway bench: `gatehouse serve`'s gateway (guard, body and header
// checks, policy, session binding, metrics, the upstream proxy) wired as `src/cli/serve.ts` wires
// it, with an `authenticate` hook in place of an IdP so the bench can mint real access tokens.
//   node --expose-gc bench/gateway-server.mjs '<routes JSON>'
// Prints one JSON line { base, token } (a token for the first route) and serves until SIGTERM.
// GET /__bench/token?path=/x mints a token for another route. GET /__bench/memory answers the
// heap in use after a full collection and the resident size of this process and its children
// (the stdio servers), for the memory figures.
import { readFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { pathToFileURL } from 'node:url'
import { issueTokens } from './guard.bench.mjs'

// GATEHOUSE_DIST=<another build's dist> serves that build instead (A/B runs against a baseline).
const dist = process.env.GATEHOUSE_DIST
  ? pathToFileURL(process.env.GATEHOUSE_DIST + '/')
  : new URL('../dist/', import.meta.url)
const { createGatehouse } = await import(new URL('index.js', dist).href)
const { createMemoryStore } = await import(new URL('storage/memory.js', dist).href)
const { nodeSignatureVerifier, toNodeHandler } = await import(
  new URL('adapters/node.js', dist).href
)
const { createGateway } = await import(new URL('gateway/gateway.js', dist).href)
const { createUpstream } = await import(new URL('gateway/create-upstream.js', dist).href)

const ISSUER = 'http://127.0.0.1:9'
const routes = JSON.parse(process.argv[2])

const store = createMemoryStore()
const gh = await createGatehouse({
  config: { issuer: ISSUER, secret: 'b'.repeat(32), gateway: { routes } },
  store,
  authenticate: async () => ({ subject: 'bench-user' }),
  dangerouslySkipConsent: true,
  signatureVerifier: nodeSignatureVerifier,
  metrics: true,
  onWarning: () => undefined,
})
const gateway = createGateway({
  gatehouse: gh,
  store,
  upstream: (route, index) =>
    createUpstream(route, index, {
      env: process.env,
      signer: { keys: gh.keys, issuer: ISSUER },
      audit: gh.audit,
      tracing: gh.tracing,
    }),
})

/** Resident set size in bytes of a process, from /proc (0 where there is none). */
function rssOf(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
    return line ? Number(line[1]) * 1024 : 0
  } catch {
    return 0
  }
}

function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    )
  } catch {
    return []
  }
}

function memory() {
  globalThis.gc?.()
  globalThis.gc?.()
  const children = childrenOf(process.pid).map(Number)
  return Response.json({
    heapUsed: process.memoryUsage().heapUsed,
    rss: rssOf(process.pid),
    children: children.map((pid) => ({ pid, rss: rssOf(pid) })),
  })
}

/** A real access token for one route's resource, through /register, /authorize and /token. */
const tokenFor = async (path) => (await issueTokens(gh, 1, { resource: `${ISSUER}${path}` }))[0]

const bench = async (url) =>
  url.pathname === '/__bench/memory'
    ? memory()
    : Response.json({ token: await tokenFor(url.searchParams.get('path')) })

const server = createServer(
  toNodeHandler(
    (request) => {
      const url = new URL(request.url)
      return url.pathname.startsWith('/__bench/')
        ? bench(url)
        : (gateway.handle(request) ?? gh.fetch(request))
    },
    // As src/cli/serve.ts sets them.
    { baseUrl: ISSUER, maxBodyBytes: 1_048_577, holdSmallBody: true, lightRequest: true },
  ),
)
server.keepAliveTimeout = 30_000
await new Promise((done) => server.listen(0, '127.0.0.1', done))
const token = await tokenFor(routes[0].path)
process.stdout.write(
  `${JSON.stringify({ base: `http://127.0.0.1:${server.address().port}`, token })}\n`,
)
process.on('SIGTERM', async () => {
  await gateway.close()
  process.exit(0)
})
