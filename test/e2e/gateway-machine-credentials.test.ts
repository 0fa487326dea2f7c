/**
 * A machine client (OAuth client credentials: no sign-in at the identity provider behind its
 * token) on routes of every credential kind, over Streamable HTTP and legacy HTTP+SSE upstreams.
 * A route that sends the user's IdP token (`idp-token`, or one traded for it by `token-exchange`)
 * answers 403 with JSON-RPC -32003 (never 401: a new token of that client would have no sign-in
 * either), audits `gateway_credential_failed` with reason `no_upstream_tokens`, and asks neither
 * the STS nor the upstream anything. A route whose credential needs no IdP token (a Gatehouse-
 * signed token, a static header, none) serves the machine client.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { OAuthError } from '../../src/errors.js'
import { createSSEUpstream } from '../../src/gateway/sse-upstream.js'
import type { UpstreamCall } from '../../src/gateway/upstream.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import type { Logger } from '../../src/ops/logger.js'
import { clientCredentialsToken, connectAs, post, startRecorder } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'
const KEY = 'machine-static-key-0123456789'

type Recorder = Awaited<ReturnType<typeof startRecorder>>
let httpRec: Recorder
let sseServer: Server
let sts: Server
let serve: RunningServe
let auditFile: string
/** What the legacy SSE server received: method, path and headers, per request. */
const sseSeen: { method: string; path: string; headers: IncomingHttpHeaders }[] = []
/** What the token service received (the machine client must never reach it). */
const stsSeen: URLSearchParams[] = []
/** Everything the gateway logged (operational messages and pino-style lines). */
const logged: string[] = []
const logger: Logger = {
  info: (o, m) => logged.push(JSON.stringify(o) + (m ?? '')),
  warn: (o, m) => logged.push(JSON.stringify(o) + (m ?? '')),
  error: (o, m) => logged.push(JSON.stringify(o) + (m ?? '')),
  debug: (o, m) => logged.push(JSON.stringify(o) + (m ?? '')),
  child: () => logger,
}

/** A legacy HTTP+SSE MCP server (the SDK's SSEServerTransport) that records every request. */
async function startSSEServer(): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const transports = new Map<string, SSEServerTransport>()
  sseServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    sseSeen.push({ method: req.method ?? '', path: url.pathname, headers: req.headers })
    if (req.method === 'GET' && url.pathname === '/sse') {
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      const transport = new SSEServerTransport('/message', res)
      transports.set(transport.sessionId, transport)
      const server = new McpServer({ name: 'sse-machine', version: '1' })
      server.registerTool('noop', { description: 'does nothing' }, () => ({
        content: [{ type: 'text', text: 'ok' }],
      }))
      void server.connect(transport)
      return
    }
    const transport = transports.get(url.searchParams.get('sessionId') ?? '')
    if (req.method === 'POST' && url.pathname === '/message' && transport) {
      void transport.handlePostMessage(req, res)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((done) => sseServer.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(sseServer.address() as AddressInfo).port}/sse`
}

/** An RFC 8693 token service that issues a token for any subject token (and records the form). */
async function startSTS(): Promise<string> {
  sts = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      stsSeen.push(new URLSearchParams(body))
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          access_token: `sts-token-${String(stsSeen.length)}`,
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: 300,
        }),
      )
    })
  })
  await new Promise<void>((done) => sts.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${String((sts.address() as AddressInfo).port)}/token`
}

beforeAll(async () => {
  auditFile = join(await mkdtemp(join(tmpdir(), 'gh-gw-machine-')), 'audit.jsonl')
  httpRec = await startRecorder()
  const sseUrl = await startSSEServer()
  const stsUrl = await startSTS()
  const exchange = {
    kind: 'token-exchange',
    tokenEndpoint: stsUrl,
    clientId: 'gateway',
    audience: 'https://api.example',
  }
  const header = { kind: 'header', name: 'X-Api-Key', valueFromEnv: 'MACHINE_KEY' }
  const signed = { kind: 'gatehouse-token', ttlSeconds: 120 }
  const idpToken = { kind: 'idp-token', name: 'X-Idp-Token', prefix: '' }
  serve = await startServe({
    env: { MACHINE_KEY: KEY },
    port: 0,
    store: 'memory',
    logger,
    log: (m) => logged.push(m),
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      audit: { sink: 'file', file: auditFile },
      // A machine client: its tokens come with no sign-in at the IdP behind them.
      clientCredentials: { enabled: true },
      clients: [
        { clientId: 'reporter', clientSecret: REPORTER_SECRET, grantTypes: ['client_credentials'] },
      ],
      gateway: {
        routes: [
          {
            path: '/http-exchanged',
            upstream: { kind: 'http', url: httpRec.url, credential: exchange },
          },
          {
            path: '/http-signed',
            upstream: { kind: 'http', url: httpRec.url, credential: signed },
          },
          { path: '/http-keyed', upstream: { kind: 'http', url: httpRec.url, credential: header } },
          {
            path: '/http-ident',
            upstream: { kind: 'http', url: httpRec.url, identityHeaders: {} },
          },
          { path: '/sse-idp', upstream: { kind: 'sse', url: sseUrl, credential: idpToken } },
          { path: '/sse-exchanged', upstream: { kind: 'sse', url: sseUrl, credential: exchange } },
          { path: '/sse-signed', upstream: { kind: 'sse', url: sseUrl, credential: signed } },
          {
            path: '/sse-keyed',
            upstream: { kind: 'sse', url: sseUrl, credential: header, identityHeaders: {} },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (httpRec as Recorder | undefined)?.stop()
  for (const server of [sseServer, sts] as (Server | undefined)[]) {
    if (!server) continue
    server.closeAllConnections()
    await new Promise((done) => server.close(done))
  }
})

/** A client-credentials token of the machine client for `resource`. */
async function machineToken(resource: string): Promise<string> {
  return (await clientCredentialsToken(serve.issuer, REPORTER, resource)).token
}

const REPORTER = { id: 'reporter', secret: REPORTER_SECRET }

const initialize = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'machine', version: '1' },
  },
})

async function auditEvents(): Promise<Record<string, unknown>[]> {
  const text = await readFile(auditFile, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** The `gateway_credential_failed` events of `route`, once there are `count` (or 5 s passed). */
async function credentialFailures(route: string, count: number) {
  for (let i = 0; i < 50; i++) {
    const found = (await auditEvents()).filter(
      (e) => e.event === 'gateway_credential_failed' && e.route === route,
    )
    if (found.length >= count) return found
    await new Promise((done) => setTimeout(done, 100))
  }
  return (await auditEvents()).filter(
    (e) => e.event === 'gateway_credential_failed' && e.route === route,
  )
}

/**
 * The refusal of a machine client on a route that needs the user's IdP token: 403 -32003 for the
 * request's id, no challenge, no token in the answer, audited once with `no_upstream_tokens`.
 */
async function expectRefused(
  res: Response,
  route: string,
  id: number,
  token: string,
): Promise<void> {
  expect(res.status).toBe(403)
  expect(res.headers.get('www-authenticate')).toBeNull()
  const text = await res.text()
  expect(text).not.toContain(token)
  const body = JSON.parse(text) as { id: unknown; error: { code: number; message: string } }
  expect(body.error.code).toBe(-32003)
  expect(body.error.message).toContain('signed in at the identity provider')
  expect(body.id).toBe(id)
  const failures = await credentialFailures(route, 1)
  expect(failures).toEqual([
    expect.objectContaining({
      outcome: 'failure',
      route,
      clientId: 'reporter',
      reason: 'no_upstream_tokens',
    }),
  ])
  expect(failures[0]!.subject).toBeUndefined()
  expect(JSON.stringify(failures)).not.toContain(token)
  expect(logged.join('\n')).not.toContain(token)
}

describe('a machine client on a legacy HTTP+SSE route that sends the user’s IdP token', () => {
  it('idp-token: 403 -32003 for its initialize, audited no_upstream_tokens; the server sees nothing', async () => {
    const url = serve.routes['/sse-idp']!
    const token = await machineToken(url)
    const before = sseSeen.length
    const res = await post(url, token, initialize(11))
    await expectRefused(res, '/sse-idp', 11, token)
    // No event stream was opened and no message posted for it.
    expect(sseSeen.length).toBe(before)
    expect(res.headers.get('mcp-session-id')).toBeNull()
  }, 60_000)

  it('idp-token: a user signed in at the IdP is served on the same route (the refusal is the machine’s)', async () => {
    const { client } = await connectAs(serve.routes['/sse-idp']!, ADA)
    try {
      const before = sseSeen.length
      const result = await client.callTool({ name: 'noop', arguments: {} })
      expect(JSON.stringify(result.content)).toContain('ok')
      const sent = sseSeen.slice(before).map((r) => r.headers['x-idp-token'])
      expect(sent.length).toBeGreaterThanOrEqual(1)
      for (const t of sent) expect(typeof t === 'string' && t !== '').toBe(true)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('token-exchange: 403 -32003, audited no_upstream_tokens; neither the STS nor the server is asked', async () => {
    const url = serve.routes['/sse-exchanged']!
    const token = await machineToken(url)
    const before = sseSeen.length
    const exchanges = stsSeen.length
    const res = await post(url, token, initialize(12))
    await expectRefused(res, '/sse-exchanged', 12, token)
    expect(stsSeen.length).toBe(exchanges)
    expect(sseSeen.length).toBe(before)
  }, 60_000)
})

describe('the legacy SSE upstream itself: a credential that cannot be had', () => {
  const token: AccessToken = {
    token: 't',
    clientId: 'reporter',
    scopes: [],
    claims: {},
    machine: true,
  }
  const call = (body: unknown): UpstreamCall => {
    const bytes = new TextEncoder().encode(JSON.stringify(body))
    return {
      request: new Request('http://127.0.0.1/x', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: bytes,
      }),
      token,
      body: bytes,
      messages: [body as never],
      opened: () => Promise.resolve(true),
      ended: () => Promise.resolve(),
    }
  }

  it('is answered under the id of the request it was for: 403 -32003 (no IdP sign-in), else 502', async () => {
    for (const [error, status, code] of [
      [
        new OAuthError('access_denied', 'no sign-in at the identity provider behind this token', {
          reason: 'no_upstream_tokens',
          status: 403,
        }),
        403,
        -32003,
      ],
      [new Error('the secret store is down'), 502, -32603],
    ] as const) {
      const failures: unknown[] = []
      const upstream = createSSEUpstream({
        url: `http://127.0.0.1:${String((sseServer.address() as AddressInfo).port)}/sse`,
        timeoutMs: 5000,
        idleSeconds: 60,
        maxSessions: 10,
        credential: () => {
          throw error
        },
        onCredentialFailure: (_t, e) => failures.push(e),
      })
      try {
        const before = sseSeen.length
        const res = await upstream.handle(call(initialize(21)))
        expect(res.status).toBe(status)
        const body = (await res.json()) as { id: unknown; error: { code: number } }
        expect(body).toMatchObject({ id: 21, error: { code } })
        expect(failures).toEqual([error])
        expect(sseSeen.length).toBe(before)
      } finally {
        await upstream.close()
      }
    }
  }, 30_000)
})

describe('a machine client on a Streamable HTTP token-exchange route', () => {
  it('403 -32003, audited no_upstream_tokens; neither the STS nor the server is asked', async () => {
    const url = serve.routes['/http-exchanged']!
    const token = await machineToken(url)
    const before = httpRec.seen.length
    const exchanges = stsSeen.length
    const res = await post(url, token, initialize(13))
    await expectRefused(res, '/http-exchanged', 13, token)
    expect(stsSeen.length).toBe(exchanges)
    expect(httpRec.seen.length).toBe(before)
  }, 60_000)
})

describe('a machine client on routes whose credential needs no IdP token is served', () => {
  const verifierFor = (audience: string) =>
    new JWTVerifier({
      issuer: serve.issuer,
      audience,
      jwksUri: `${serve.issuer}/.well-known/jwks.json`,
      allowHttpLoopback: true,
      typ: 'at+jwt',
    })

  /** Initialize, then a tools/call in the session: both 200; the headers the upstream got. */
  async function serveMachine(
    url: string,
    seen: () => IncomingHttpHeaders[],
  ): Promise<{ token: string; headers: IncomingHttpHeaders[] }> {
    const token = await machineToken(url)
    const before = seen().length
    const init = await post(url, token, initialize(1))
    expect(init.status).toBe(200)
    await init.text()
    const sessionId = init.headers.get('mcp-session-id')
    expect(sessionId).toBeTruthy()
    const call = await post(
      url,
      token,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'noop', arguments: {} } },
      { 'mcp-session-id': sessionId!, 'mcp-protocol-version': '2025-06-18' },
    )
    expect(call.status).toBe(200)
    expect(await call.text()).toContain('ok')
    const headers = seen().slice(before)
    expect(headers.length).toBeGreaterThanOrEqual(2)
    for (const h of headers) expect(JSON.stringify(h)).not.toContain(token)
    return { token, headers }
  }

  const sseHeaders = () => sseSeen.map((r) => r.headers)

  for (const [route, seen, upstreamUrl] of [
    ['/http-signed', () => httpRec.seen, () => httpRec.url],
    [
      '/sse-signed',
      sseHeaders,
      () => `http://127.0.0.1:${String((sseServer.address() as AddressInfo).port)}/sse`,
    ],
  ] as const) {
    it(`gatehouse-token (${route}): the upstream gets a Gatehouse token naming the client`, async () => {
      const { token, headers } = await serveMachine(serve.routes[route]!, seen)
      const sent = headers.map((h) => (h.authorization ?? '').replace(/^Bearer /, ''))
      expect(new Set(sent).size).toBe(1)
      expect(sent[0]).not.toBe(token)
      const verified = await verifierFor(upstreamUrl()).verifyToken(sent[0]!)
      expect(verified).toMatchObject({ subject: 'reporter', clientId: 'reporter' })
    }, 60_000)
  }

  for (const [route, seen] of [
    ['/http-keyed', () => httpRec.seen],
    ['/sse-keyed', sseHeaders],
  ] as const) {
    it(`static header (${route}): the upstream gets the route's secret`, async () => {
      const { headers } = await serveMachine(serve.routes[route]!, seen)
      for (const h of headers) {
        expect(h['x-api-key']).toBe(KEY)
        expect(h.authorization).toBeUndefined()
      }
    }, 60_000)
  }

  it('none, identity headers only (/http-ident): the client, never a subject', async () => {
    const { headers } = await serveMachine(serve.routes['/http-ident']!, () => httpRec.seen)
    for (const h of headers) {
      expect(h['x-gatehouse-client-id']).toBe('reporter')
      expect(h['x-gatehouse-subject']).toBeUndefined()
      expect(h.authorization).toBeUndefined()
    }
  }, 60_000)

  it('none of these routes audited a credential failure', async () => {
    const failed = (await auditEvents()).filter((e) => e.event === 'gateway_credential_failed')
    expect(failed.map((e) => e.route)).not.toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/(http-signed|http-keyed|http-ident|sse-signed|sse-keyed)$/),
      ]),
    )
  })
})
