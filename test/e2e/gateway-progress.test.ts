/**
 * Answer deadlines on stdio and legacy SSE routes follow MCP's lifecycle rule on timeouts as HTTP
 * routes do (gateway-limits.test.ts): a progress notification for the call restarts the
 * `timeoutSeconds` clock, `maxTimeoutSeconds` still cuts the answer off, and a call without
 * progress fails at `timeoutSeconds` with the documented JSON-RPC error. The MCP server is
 * `@modelcontextprotocol/server-everything` (its `trigger-long-running-operation` tool sends a
 * progress notification per step when the call carries a progress token), over stdio and over
 * its own legacy SSE transport.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, serverEntry, startEverythingSSE } from '../helpers/gateway.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

const ADA = { username: 'ada', password: 'lovelace' }

/** A stdio MCP server that never answers its first `initialize` (later ones at once). */
const SLOW_START = `
let seen = 0
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line)
  if (m.method !== 'initialize' || ++seen === 1) return
  const result = { protocolVersion: m.params.protocolVersion, capabilities: {}, serverInfo: { name: 'slow', version: '1' } }
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n')
})
`

/** A stdio MCP server that answers each `initialize` 1.5 s after it came. */
const SLOW_ANSWER = `
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line)
  if (m.method !== 'initialize') return
  const result = { protocolVersion: m.params.protocolVersion, capabilities: {}, serverInfo: { name: 'slow answer', version: '1' } }
  setTimeout(() => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n'), 1500)
})
`

let everything: Awaited<ReturnType<typeof startEverythingSSE>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingSSE()
  // 2 s, not 1: the first initialize of a stdio route includes starting the process.
  const deadlines = { timeoutSeconds: 2, maxTimeoutSeconds: 4 }
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          {
            path: '/stdio',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
              ...deadlines,
            },
          },
          { path: '/legacy', upstream: { kind: 'sse', url: everything.url, ...deadlines } },
          {
            path: '/slow-start',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: ['-e', SLOW_START],
              timeoutSeconds: 1,
            },
          },
          {
            path: '/slow-answer',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: ['-e', SLOW_ANSWER],
              timeoutSeconds: 4,
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
})

const long = (duration: number, steps: number) => ({
  name: 'trigger-long-running-operation',
  arguments: { duration, steps },
})

describe.each(['/stdio', '/legacy'])('answer deadline on %s', (path) => {
  it('fails a call without progress at timeoutSeconds, and the session stays usable', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      const started = Date.now()
      // No onprogress: no progress token, so the server reports no progress.
      const late = await client.callTool(long(3, 10)).catch((e: unknown) => e)
      const took = Date.now() - started
      expect(late).toBeInstanceOf(McpError)
      expect((late as McpError).code).toBe(-32603)
      expect((late as McpError).message).toContain('the MCP server did not answer in time')
      expect(took).toBeGreaterThanOrEqual(1900)
      expect(took).toBeLessThan(2900)
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'still here' } })
      expect(JSON.stringify(echo.content)).toContain('still here')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('restarts the clock on each progress notification of the call', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      // 3 s in all (longer than the 2 s deadline, within the 4 s cut-off), progress every 0.3 s.
      const progress: number[] = []
      const done = await client.callTool(long(3, 10), undefined, {
        onprogress: (p) => progress.push(p.progress),
      })
      expect(JSON.stringify(done.content)).toContain('Long running operation completed')
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    } finally {
      await client.close()
    }
  }, 60_000)

  it('cuts the answer off at maxTimeoutSeconds however much progress comes', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      const started = Date.now()
      const progress: number[] = []
      const cut = await client
        .callTool(long(6, 20), undefined, { onprogress: (p) => progress.push(p.progress) })
        .catch((e: unknown) => e)
      const took = Date.now() - started
      expect(cut).toBeInstanceOf(McpError)
      expect((cut as McpError).message).toContain('the MCP server did not answer in time')
      expect(took).toBeGreaterThanOrEqual(3900)
      expect(took).toBeLessThan(5200)
      // Progress did arrive (each step within the 2 s deadline) until the cut.
      expect(progress.length).toBeGreaterThanOrEqual(10)
    } finally {
      await client.close()
    }
  }, 60_000)
})

/** An access token for `path`, signed in without an `initialize` of its own (the 401 comes first). */
async function tokenFor(path: string): Promise<string> {
  const url = new URL(serve.routes[path]!)
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3999/callback',
    clientName: `token for ${path}`,
    user: ADA,
  })
  const signIn = new StreamableHTTPClientTransport(url, { authProvider: provider })
  await new Client({ name: 'sign in', version: '1' }).connect(signIn).catch(() => undefined)
  await signIn.finishAuth(provider.code!)
  return provider.saved!.access_token
}

/** A raw `initialize` POST to `path` (a new session each time). */
const initialize = (path: string, token: string, id: number, signal?: AbortSignal) =>
  post(
    serve.routes[path]!,
    token,
    {
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'raw', version: '1' },
      },
    },
    {},
    signal,
  )

describe('an initialize the shared process does not answer in time', () => {
  it('fails the sessions waiting for it too, and the next initialize is sent again', async () => {
    const token = await tokenFor('/slow-start')
    const started = Date.now()
    const first = initialize('/slow-start', token, 1).then((res) => res.text())
    await new Promise((done) => setTimeout(done, 200))
    // Waits for the first one's answer (the process is initialized once for every session).
    const second = initialize('/slow-start', token, 2).then((res) => res.text())
    expect(await first).toContain('the MCP server did not answer in time')
    expect(await second).toContain('"error"')
    expect(Date.now() - started).toBeLessThan(2500)
    // The next session's initialize reaches the process again, which answers it.
    const third = await initialize('/slow-start', token, 3).then((res) => res.text())
    expect(third).toContain('"serverInfo":{"name":"slow"')
  }, 30_000)
})

describe('a session that ends while the shared process initializes', () => {
  it('leaves the initialize pending for the sessions waiting on the same answer', async () => {
    const token = await tokenFor('/slow-answer')
    const started = Date.now()
    // The first session's client leaves while the process works on its initialize: the session
    // ends (499), the process's answer is still on its way.
    const leaving = new AbortController()
    const first = initialize('/slow-answer', token, 1, leaving.signal).catch((e: unknown) => e)
    await new Promise((done) => setTimeout(done, 300))
    leaving.abort()
    expect(await first).toBeInstanceOf(Error)
    // A second session waits for that same answer, and gets it (not the 4 s deadline's error).
    const second = await initialize('/slow-answer', token, 2).then((res) => res.text())
    expect(second).toContain('"serverInfo":{"name":"slow answer"')
    expect(Date.now() - started).toBeLessThan(3000)
  }, 30_000)
})
