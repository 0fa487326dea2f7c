/**
 * Upstream concurrency caps and answer deadlines of `gatehouse serve`, against
 * `@modelcontextprotocol/server-everything` on its own Streamable HTTP transport: over
 * `maxInFlight` a request gets 503 with `Retry-After` at once (notifications, answers and `DELETE`
 * pass: they are how calls end); an answer that does not come within
 * `timeoutSeconds` (progress restarts the clock, `maxTimeoutSeconds` caps it) becomes a JSON-RPC
 * error for that call; the gateway keeps serving the same session afterwards. Over
 * `maxStreamsPerCaller`, a caller's next `GET` stream gets 429 on HTTP, stdio and legacy SSE routes
 * (its server's legacy SSE transport for the last) while other callers' open.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  post,
  postInSession,
  serverEntry,
  startEverythingHTTP,
  startEverythingSSE,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }
const EVERYTHING_STDIO = {
  kind: 'stdio',
  command: process.execPath,
  args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
} as const

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let everythingSSE: Awaited<ReturnType<typeof startEverythingSSE>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingHTTP()
  everythingSSE = await startEverythingSSE()
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: {
      users: [ADA, GRACE].map((u) => ({ user: u.username, password: u.password })),
    },
    config: {
      gateway: {
        routes: [
          // One open event stream per caller, on each kind of route.
          {
            path: '/streams-http',
            upstream: { kind: 'http', url: everything.url, maxStreamsPerCaller: 1 },
          },
          { path: '/streams-stdio', upstream: { ...EVERYTHING_STDIO, maxStreamsPerCaller: 1 } },
          {
            path: '/streams-sse',
            upstream: { kind: 'sse', url: everythingSSE.url, maxStreamsPerCaller: 1 },
          },
          { path: '/capped', upstream: { kind: 'http', url: everything.url, maxInFlight: 1 } },
          {
            path: '/capped-stdio',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
              maxInFlight: 1,
            },
          },
          {
            path: '/slow',
            upstream: {
              kind: 'http',
              url: everything.url,
              timeoutSeconds: 1,
              maxTimeoutSeconds: 2,
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
  await (everythingSSE as typeof everythingSSE | undefined)?.stop()
})

const long = (duration: number, steps: number) => ({
  name: 'trigger-long-running-operation',
  arguments: { duration, steps },
})

describe('upstream concurrency cap (maxInFlight)', () => {
  it('answers 503 with Retry-After and a JSON-RPC error while the cap is used, then serves again', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/capped']!, ADA)
    try {
      const first = client.callTool(long(1.2, 1))
      await new Promise((done) => setTimeout(done, 300))
      const res = await postInSession(
        serve.routes['/capped']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'echo', arguments: {} } },
      )
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(await res.json()).toEqual({
        jsonrpc: '2.0',
        id: 42,
        error: { code: -32030, message: 'The MCP server is busy; try again later' },
      })
      // The SDK client's own call is refused alike.
      await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(
        /-32030/,
      )
      expect(JSON.stringify((await first).content)).toContain('completed')
      // The slot is free again once the first answer has been read to its end.
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'again' } })
      expect(JSON.stringify(echo.content)).toContain('again')
      // Calls in a row never meet the cap.
      for (let i = 0; i < 5; i++)
        await client.callTool({ name: 'echo', arguments: { message: 'n' } })
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('what passes at the cap', () => {
  it('lets notifications and DELETE through while the cap is used: they are how calls end', async () => {
    const url = serve.routes['/capped']!
    const other = await connectAs(url, ADA)
    const { client, provider, transport } = await connectAs(url, ADA)
    try {
      const first = client.callTool(long(1.2, 1))
      await new Promise((done) => setTimeout(done, 300))
      // A call is refused, as above; a cancellation (of nothing in flight) is not.
      const call = { jsonrpc: '2.0', id: 43, method: 'tools/call', params: { name: 'echo' } }
      expect((await postInSession(url, { provider, transport }, call)).status).toBe(503)
      const cancel = {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 'nothing in flight' },
      }
      expect((await postInSession(url, { provider, transport }, cancel)).status).toBe(202)
      // A call sent without an id, as if it were a notification, is no notification: refused.
      const { id: _, ...sneaked } = call
      const refused = await postInSession(url, { provider, transport }, sneaked)
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ error: { code: -32600 } })
      // Another session can still be ended.
      const ended = await fetch(url, {
        method: 'DELETE',
        headers: {
          authorization: `Bearer ${other.provider.saved!.access_token}`,
          'mcp-session-id': other.transport.sessionId!,
        },
      })
      expect(ended.status).toBe(200)
      expect(JSON.stringify((await first).content)).toContain('completed')
    } finally {
      await client.close()
      await other.client.close().catch(() => undefined)
    }
  }, 60_000)
})

describe('upstream concurrency cap on a stdio route', () => {
  it('refuses a second call while one is with the process, then serves again', async () => {
    const { client } = await connectAs(serve.routes['/capped-stdio']!, ADA)
    try {
      const first = client.callTool(long(1.2, 1))
      await new Promise((done) => setTimeout(done, 300))
      await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(
        /-32030/,
      )
      expect(JSON.stringify((await first).content)).toContain('completed')
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'again' } })
      expect(JSON.stringify(echo.content)).toContain('again')
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('upstream answer deadline (timeoutSeconds, maxTimeoutSeconds)', () => {
  it('turns a call the server does not answer in time into a JSON-RPC error and keeps the session', async () => {
    const { client } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const started = Date.now()
      const late = await client.callTool(long(3, 1)).catch((e: unknown) => e)
      const took = Date.now() - started
      expect(late).toBeInstanceOf(McpError)
      expect((late as McpError).code).toBe(-32603)
      expect((late as McpError).message).toContain('did not answer in time')
      expect(took).toBeGreaterThanOrEqual(900)
      expect(took).toBeLessThan(2500)
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'still here' } })
      expect(JSON.stringify(echo.content)).toContain('still here')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('restarts the clock on progress, but never past maxTimeoutSeconds', async () => {
    const { client } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      // 1.8 s in all, progress every 0.3 s: each step is within the 1 s deadline.
      const progress: number[] = []
      const done = await client.callTool(long(1.8, 6), undefined, {
        onprogress: (p) => progress.push(p.progress),
      })
      expect(JSON.stringify(done.content)).toContain('completed')
      expect(progress).toEqual([1, 2, 3, 4, 5, 6])

      // Progress every 0.3 s for 3.6 s: cut off at 2 s all the same.
      const started = Date.now()
      const cut = await client
        .callTool(long(3.6, 12), undefined, { onprogress: () => undefined })
        .catch((e: unknown) => e)
      const took = Date.now() - started
      expect(cut).toBeInstanceOf(McpError)
      expect((cut as McpError).message).toContain('did not answer in time')
      expect(took).toBeGreaterThanOrEqual(1900)
      expect(took).toBeLessThan(3200)
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('event streams one caller keeps open (maxStreamsPerCaller), GET streams', () => {
  const HEADERS = { 'mcp-protocol-version': '2025-06-18' }

  /** A session opened by hand (initialize, initialized): the SDK client would open a GET itself. */
  async function rawSession(url: string, token: string): Promise<string> {
    const opened = await post(url, token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'stream cap', version: '1.0.0' },
      },
    })
    expect(opened.status).toBe(200)
    const session = opened.headers.get('mcp-session-id')!
    await opened.text()
    const ready = await post(
      url,
      token,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { ...HEADERS, 'mcp-session-id': session },
    )
    expect(ready.status).toBe(202)
    return session
  }

  const getStream = (url: string, token: string, session: string, signal?: AbortSignal) =>
    fetch(url, {
      ...(signal ? { signal } : {}),
      headers: {
        ...HEADERS,
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        'mcp-session-id': session,
      },
    })

  /** A token of `user` for the route (its SDK client closed again, with its own GET stream). */
  async function tokenOf(url: string, user: typeof ADA): Promise<string> {
    const { client, provider } = await connectAs(url, user)
    await client.close()
    return provider.saved!.access_token
  }

  it.each(['http', 'stdio', 'sse'])(
    'a %s route refuses a second GET stream of one caller with 429, and serves others',
    async (kind) => {
      const url = serve.routes[`/streams-${kind}`]!
      const ada = await tokenOf(url, ADA)
      const [first, second] = [await rawSession(url, ada), await rawSession(url, ada)]
      const leaving = new AbortController()
      const opened: Response[] = []
      try {
        // The SDK client's own GET stream ends with its close; until the gateway sees that, a
        // new one may still be refused.
        await expect
          .poll(
            async () => {
              const res = await getStream(url, ada, first, leaving.signal)
              if (res.status === 200) opened.push(res)
              else await res.body?.cancel()
              return res.status
            },
            { timeout: 5000 },
          )
          .toBe(200)
        const refused = await getStream(url, ada, second)
        expect(refused.status).toBe(429)
        expect(refused.headers.get('retry-after')).toBe('5')
        expect(await refused.json()).toMatchObject({ id: null, error: { code: -32029 } })
        // The cap is per caller: another user's stream opens.
        const grace = await tokenOf(url, GRACE)
        await expect
          .poll(
            async () => {
              const res = await getStream(url, grace, await rawSession(url, grace))
              if (res.status === 200) opened.push(res)
              else await res.body?.cancel()
              return res.status
            },
            { timeout: 5000 },
          )
          .toBe(200)
        // Ada closes hers: now her other session may open one.
        leaving.abort()
        await expect
          .poll(
            async () => {
              const res = await getStream(url, ada, second)
              if (res.status === 200) opened.push(res)
              else await res.body?.cancel()
              return res.status
            },
            { timeout: 5000 },
          )
          .toBe(200)
      } finally {
        leaving.abort()
        for (const res of opened) await res.body?.cancel().catch(() => undefined)
      }
    },
    60_000,
  )
})
