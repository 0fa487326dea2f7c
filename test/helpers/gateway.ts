/**
 * Helpers for the gateway tests: real MCP servers from the registry started with this Node (no
 * npx, no network), a recording upstream, and the MCP SDK client signed in through `serve`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { BrowserlessClientProvider } from './sdk-client.js'

const require = createRequire(import.meta.url)

/** The JS entry of a registry MCP server package (its `bin`). */
export function serverEntry(pkg: string): string {
  const manifest = require.resolve(`${pkg}/package.json`)
  const { bin } = require(manifest) as { bin: Record<string, string> }
  return join(dirname(manifest), Object.values(bin)[0]!)
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  await new Promise((done) => server.close(done))
  return port
}

/** `@modelcontextprotocol/server-everything` on its legacy HTTP+SSE transport (2024-11-05). */
export async function startEverythingSSE(): Promise<{ url: string; stop(): Promise<void> }> {
  const started = await startEverythingHTTP('sse', 'Server is running on port')
  return { url: started.url.replace(/\/mcp$/, '/sse'), stop: () => started.stop() }
}

/** `@modelcontextprotocol/server-everything` on its own Streamable HTTP transport. */
export async function startEverythingHTTP(
  transport = 'streamableHttp',
  ready = 'listening on port',
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [serverEntry('@modelcontextprotocol/server-everything'), transport],
    {
      env: { PATH: process.env.PATH ?? '', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => {
      fail(new Error('server-everything did not start'))
    }, 15_000)
    let text = ''
    const seen = (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes(ready)) {
        clearTimeout(timer)
        done()
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.once('exit', () => {
      fail(new Error(`server-everything exited: ${text}`))
    })
  })
  return { url: `http://127.0.0.1:${port}/mcp`, stop: () => stopChild(child) }
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((done) => {
    child.once('exit', () => {
      done()
    })
    child.kill('SIGTERM')
  })
}

/**
 * A minimal MCP server over HTTP that records the headers it received. A request with id 77 is
 * answered in a batch with a `null`, a number and a string around the answer.
 */
export async function startRecorder(): Promise<{
  url: string
  seen: IncomingHttpHeaders[]
  stop(): Promise<void>
}> {
  const seen: IncomingHttpHeaders[] = []
  let sessions = 0
  const server = createServer((req, res) => {
    seen.push(req.headers)
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end()
        return
      }
      const msg = JSON.parse(body) as { id?: number; method: string }
      if (msg.id === undefined) {
        res.writeHead(202).end()
        return
      }
      const result =
        msg.method === 'initialize'
          ? {
              protocolVersion: '2025-06-18',
              capabilities: { tools: {} },
              serverInfo: { name: 'recorder', version: '1' },
            }
          : msg.method === 'tools/list'
            ? { tools: [{ name: 'noop', inputSchema: { type: 'object' } }] }
            : { content: [{ type: 'text', text: 'ok' }] }
      const session =
        msg.method === 'initialize' ? `rec-session-${++sessions}` : req.headers['mcp-session-id']
      const message = { jsonrpc: '2.0', id: msg.id, result }
      // Request id 77: a misbehaving server that wraps its answer in a batch with junk around it.
      const answer = JSON.stringify(msg.id === 77 ? [null, 1, message, 'x'] : message)
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer),
        ...(session !== undefined ? { 'mcp-session-id': session } : {}),
        'set-cookie': 'upstream=secret',
      })
      res.end(answer)
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    stop: () => {
      server.closeAllConnections()
      return new Promise((done) =>
        server.close(() => {
          done()
        }),
      )
    },
  }
}

/** The SDK client, signed in through the gateway's consent and the dev IdP as `user`. */
export async function connectAs(
  url: string,
  user: { username: string; password: string },
  clientName = 'gateway e2e',
): Promise<{
  client: Client
  provider: BrowserlessClientProvider
  transport: StreamableHTTPClientTransport
}> {
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3999/callback',
    clientName,
    user,
  })
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider })
  const client = new Client({ name: clientName, version: '1.0.0' })
  await client.connect(first).then(
    () => {
      throw new Error('expected a sign-in first')
    },
    (error: unknown) => {
      if (!(error instanceof UnauthorizedError)) throw error
    },
  )
  await first.finishAuth(provider.code!)
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider })
  await client.connect(transport)
  return { client, provider, transport }
}

/** A raw MCP POST in the session `connectAs` opened, with its token and session headers. */
export function postInSession(
  url: string,
  connected: { provider: BrowserlessClientProvider; transport: StreamableHTTPClientTransport },
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  return post(
    url,
    connected.provider.saved!.access_token,
    body,
    { 'mcp-session-id': connected.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
    signal,
  )
}

/** A raw MCP POST with a bearer token. */
export function post(
  url: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    ...(signal ? { signal } : {}),
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/**
 * `gatehouse serve` on a free port with a memory store, these routes, these users at its dev IdP
 * and any other top-level configuration in `config`.
 */
export function serveRoutes(
  routes: readonly Record<string, unknown>[],
  users: readonly { username: string; password: string }[],
  config: Record<string, unknown> = {},
): Promise<RunningServe> {
  return startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: users.map((u) => ({ user: u.username, password: u.password })) },
    config: { ...config, gateway: { routes } },
  })
}

/**
 * A machine client's access token (OAuth client credentials, `client_secret_basic`) from
 * `issuer` for `resource`, with the scope the answer names.
 */
export async function clientCredentialsToken(
  issuer: string,
  client: { id: string; secret: string },
  resource: string,
): Promise<{ token: string; scope?: string }> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource }),
  })
  if (res.status !== 200) throw new Error(`client credentials: ${String(res.status)}`)
  const body = (await res.json()) as { access_token: string; scope?: string }
  return { token: body.access_token, ...(body.scope !== undefined ? { scope: body.scope } : {}) }
}
