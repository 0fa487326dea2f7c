// The server child of bench/throughput.bench.mjs: one stateless MCP `tools/call` endpoint (the real
// MCP SDK 1.x: a new McpServer and transport per request, JSON responses, one trivial tool) behind
// each guard under test, plus control routes for the load generator. Prints one JSON line of ports
// and serves until SIGTERM. Run after `npm run build`.
//
// - port `node`: Gatehouse's Node adapter (dist/adapters/node.js) → a Web handler →
//   `/open` the SDK's WebStandardStreamableHTTPServerTransport directly (the guard replaced by a
//   pass-through), `/mcp` the same handler inside `gh.protect`.
// - port `nodeYield`: the same, with the adapter's experimental `yieldBeforeHandler` on.
// - port `express`: the peer. Express 5 + the SDK's Node StreamableHTTPServerTransport; `/open`
//   unguarded, `/mcp` behind the SDK's `requireBearerAuth` with a jose verifier (`jwtVerify` on
//   Gatehouse's public key: signature, iss, aud, typ, exp; no cache, no revocation check).
// - port `plain`: node:http with a trivial JSON handler that reads the body (`/plain`), and the
//   same with a `setImmediate` before it (`/plain-yield`): the yield study without any framework.
// Tokens are real Gatehouse access tokens (RS256, the default), 16 grants through the real
// /authorize and /token endpoints, more tokens per grant signed as /token signs them (mintGrant).
// Revocation is done by a second Gatehouse instance on the same store, as another replica would,
// so the guard learns of it within `revocationCheckSeconds` (1 s here, so runs stay short).
import { createServer } from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Session } from 'node:inspector/promises'
import { AsyncLocalStorage } from 'node:async_hooks'
import express from 'express'
import { importJWK, jwtVerify } from 'jose'
import { z } from 'zod'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'

const dist = process.env.GATEHOUSE_DIST
  ? pathToFileURL(process.env.GATEHOUSE_DIST + '/')
  : new URL('../dist/', import.meta.url)
const { createGatehouse } = await import(new URL('index.js', dist).href)
const { createMemoryStore } = await import(new URL('storage/memory.js', dist).href)
const { signAccessToken } = await import(new URL('tokens/access-token.js', dist).href)
const { toNodeHandler, nodeSignatureVerifier } = await import(
  new URL('adapters/node.js', dist).href
)

export const ISSUER = 'http://127.0.0.1:9'
export const RESOURCE = `${ISSUER}/mcp`
export const REVOCATION_CHECK_SECONDS = 1
const POOL = Number(process.env.BENCH_TOKENS ?? 12_000)
const PARALLEL_GRANTS = 16

const store = createMemoryStore()
const config = {
  issuer: ISSUER,
  secret: 'b'.repeat(32),
  resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
  revocationCheckSeconds: REVOCATION_CHECK_SECONDS,
}
const common = {
  store,
  authenticate: async () => ({ subject: 'bench-user' }),
  dangerouslySkipConsent: true,
  onWarning: () => undefined,
  signatureVerifier: nodeSignatureVerifier,
}
const gh = await createGatehouse({ config, ...common })
// Another replica on the same store: the one that revokes.
const replica = await createGatehouse({ config, ...common })

async function post(instance, path, body) {
  const res = await instance.fetch(
    new Request(`${ISSUER}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    }),
  )
  if (!res.ok) throw new Error(`${path} answered ${res.status}`)
  return res.status === 200 && res.headers.get('content-type')?.includes('json') ? res.json() : {}
}

const reg = await gh.fetch(
  new Request(`${ISSUER}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    }),
  }),
)
const { client_id: clientId } = await reg.json()

/**
 * A new grant (through the real /authorize and /token endpoints) with `count` distinct access
 * tokens, and its refresh token. The first token comes from /token; the others are signed by the
 * same function /token uses (`signAccessToken`, Gatehouse's current key) with the claims /token
 * gave that grant: a refresh per token would also seal and write the rotated refresh token, which
 * made minting 12,000 tokens take about a minute on a loaded machine.
 */
async function mintGrant(count) {
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: 'http://127.0.0.1/cb',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })
  const authorized = await gh.fetch(new Request(`${ISSUER}/authorize?${q}`))
  const code = new URL(authorized.headers.get('location')).searchParams.get('code')
  const first = await post(gh, '/token', {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: 'http://127.0.0.1/cb',
    client_id: clientId,
  })
  const claims = JSON.parse(Buffer.from(first.access_token.split('.')[1], 'base64url').toString())
  const tokens = [first.access_token]
  while (tokens.length < count) {
    const batch = Array.from({ length: Math.min(64, count - tokens.length) }, () =>
      signAccessToken(gh.keys, {
        issuer: claims.iss,
        subject: claims.sub,
        audience: claims.aud,
        clientId: claims.client_id,
        scopes: claims.scope.split(' '),
        grantId: claims.gid,
        ttlSeconds: claims.exp - claims.iat,
      }),
    )
    for (const signed of await Promise.all(batch)) tokens.push(signed.token)
  }
  return { tokens, refresh: first.refresh_token }
}

const started = Date.now()
const chains = await Promise.all(
  Array.from({ length: PARALLEL_GRANTS }, () => mintGrant(Math.ceil(POOL / PARALLEL_GRANTS))),
)
// Interleaved, so any prefix of the pool spreads over every grant.
const pool = []
for (let i = 0; pool.length < POOL; i++) for (const c of chains) pool.push(c.tokens[i])
const mintMs = Date.now() - started

// The tool every variant serves; a new server per request, as the SDK's stateless examples do.
function mcpServer() {
  const server = new McpServer({ name: 'bench', version: '1.0.0' })
  server.registerTool(
    'echo',
    { description: 'Echoes its text', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  )
  return server
}
const webMcp = async (request) => {
  const server = mcpServer()
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  })
  await server.connect(transport)
  return transport.handleRequest(request)
}
const guarded = gh.protect((request) => webMcp(request))

/** Requests carrying the first `n` tokens of the pool. */
const bearerRequests = (n) =>
  pool
    .slice(0, n)
    .map((token) => new Request(RESOURCE, { headers: { authorization: `Bearer ${token}` } }))

/**
 * Passes each request through the guard five times: the cache evicts by random draws, so a
 * population that fits settles over a few passes when the cache is full of another one
 * (src/jwt/verified-token-cache.ts).
 */
async function settleCache(requests) {
  for (let pass = 0; pass < 5; pass++) {
    for (const request of requests) await gh.verifyBearer(request)
  }
}

const als = new AsyncLocalStorage()
const revocable = new Map()
let profiler
async function control(request) {
  const url = new URL(request.url)
  if (url.pathname === '/bench/tokens') {
    const n = Number(url.searchParams.get('n'))
    return Response.json({ tokens: pool.slice(0, n), mintMs })
  }
  if (url.pathname === '/bench/guard-cost') {
    // The guard alone, in this process: µs per `verifyBearer` over the first n tokens round-robin
    // (Requests built beforehand), after the cache has settled on them (`settleCache`).
    const n = Number(url.searchParams.get('n'))
    const ops = Number(url.searchParams.get('ops') ?? 20_000)
    const requests = bearerRequests(n)
    await settleCache(requests)
    // CPU time, not wall time: other processes on the machine take turns on this core.
    const start = process.cpuUsage()
    for (let i = 0; i < ops; i++) await gh.verifyBearer(requests[i % n])
    const { user, system } = process.cpuUsage(start)
    return Response.json({ us: (user + system) / ops })
  }
  if (url.pathname === '/bench/stack-cost') {
    // The whole MCP call in this process, without HTTP: the open handler and the protected one,
    // CPU µs per call (one token; a new Request per call, as the body is read once).
    const ops = Number(url.searchParams.get('ops') ?? 2_000)
    const token = pool[0]
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hello' } },
    })
    const make = () =>
      new Request(RESOURCE, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      })
    const time = async (handler) => {
      const start = process.cpuUsage()
      for (let i = 0; i < ops; i++) {
        const response = await handler(make())
        if (response.status !== 200) throw new Error(`stack-cost: ${response.status}`)
        await response.text()
      }
      const { user, system } = process.cpuUsage(start)
      return (user + system) / ops
    }
    const handlers = {
      open: webMcp,
      protected: guarded,
      // The open handler inside an AsyncLocalStorage context, as Gatehouse runs a request.
      als: (request) => als.run({}, () => webMcp(request)),
    }
    return Response.json({ us: await time(handlers[url.searchParams.get('handler')]) })
  }
  if (url.pathname === '/bench/cpu') {
    const { user, system } = process.cpuUsage()
    return Response.json({ us: user + system })
  }
  if (url.pathname === '/bench/warm') {
    // Every token of the population through the guard, so "all cache hits" holds from the first
    // measured request (a short warm-up run at a few hundred req/s reaches too few tokens).
    await settleCache(bearerRequests(Number(url.searchParams.get('n'))))
    return Response.json({ warmed: true })
  }
  if (url.pathname === '/bench/profile') {
    // A CPU profile of the measured run only (start-up minting stays out of it).
    if (url.searchParams.get('action') === 'start') {
      profiler ??= new Session()
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.start')
      return Response.json({ started: true })
    }
    const { profile } = await profiler.post('Profiler.stop')
    profiler.disconnect()
    writeFileSync(url.searchParams.get('file'), JSON.stringify(profile))
    return Response.json({ written: true })
  }
  if (url.pathname === '/bench/grant') {
    const grant = await mintGrant(Number(url.searchParams.get('n')))
    const id = String(revocable.size)
    revocable.set(id, grant.refresh)
    return Response.json({ id, tokens: grant.tokens })
  }
  if (url.pathname === '/bench/revoke') {
    await post(replica, '/revoke', {
      token: revocable.get(url.searchParams.get('id')),
      client_id: clientId,
    })
    return Response.json({ revoked: true })
  }
  return gh.fetch(request)
}
const route = (request) => {
  const path = request.url.slice(request.url.indexOf('/', 8))
  if (path === '/mcp') return guarded(request)
  if (path === '/open') return webMcp(request)
  return control(request)
}
const adapterOptions = { baseUrl: ISSUER }
const nodeServer = createServer(toNodeHandler(route, adapterOptions))
const nodeYieldServer = createServer(
  toNodeHandler(route, { ...adapterOptions, yieldBeforeHandler: true }),
)

// The peer: the SDK's own guard with a jose verifier, on Express.
const jwk = gh.keys.jwks().keys[0]
const publicKey = await importJWK(jwk, jwk.alg)
const joseVerifier = {
  async verifyAccessToken(token) {
    const { payload } = await jwtVerify(token, publicKey, {
      issuer: ISSUER,
      audience: RESOURCE,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    }).catch((error) => {
      throw new InvalidTokenError(error.code ?? 'invalid token')
    })
    return {
      token,
      clientId: String(payload.client_id),
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      expiresAt: payload.exp,
      resource: new URL(RESOURCE),
    }
  },
}
const { InvalidTokenError } = await import('@modelcontextprotocol/sdk/server/auth/errors.js')
const app = express()
app.use(express.json())
const nodeMcp = async (req, res) => {
  const server = mcpServer()
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  })
  res.on('close', () => {
    transport.close()
    server.close()
  })
  await server.connect(transport)
  await transport.handleRequest(req, res, req.body)
}
app.post('/open', nodeMcp)
app.post('/mcp', requireBearerAuth({ verifier: joseVerifier, expectedResource: RESOURCE }), nodeMcp)
const expressServer = createServer(app)

// The yield study without any framework: read the body, answer a small JSON-RPC result.
const RESULT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: { content: [{ type: 'text', text: 'hello' }] },
})
function plain(req, res) {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const { id } = JSON.parse(Buffer.concat(chunks).toString())
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(id === 1 ? RESULT : RESULT.replace('"id":1', `"id":${JSON.stringify(id)}`))
  })
}
const plainServer = createServer((req, res) => {
  if (req.url === '/plain-yield') setImmediate(plain, req, res)
  else plain(req, res)
})

const servers = {
  node: nodeServer,
  nodeYield: nodeYieldServer,
  express: expressServer,
  plain: plainServer,
}
const ports = {}
for (const [name, server] of Object.entries(servers)) {
  server.keepAliveTimeout = 30_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  ports[name] = server.address().port
}
process.stdout.write(`${JSON.stringify({ ports, mintMs, pool: pool.length })}\n`)
process.on('SIGTERM', () => {
  for (const server of Object.values(servers)) server.closeAllConnections()
  process.exit(0)
})
