/**
 * Upstream concurrency caps and answer deadlines of `gatehouse serve`, against
 * `@modelcontextprotocol/server-everything` on its own Streamable HTTP transport: over
 * `maxInFlight` a request gets 503 with `Retry-After` at once (notifications, answers and `DELETE`
 * pass: they are how calls end); an answer that does not come within
 * `timeoutSeconds` (progress restarts the clock, `maxTimeoutSeconds` caps it) becomes a JSON-RPC
 * error for that call; the gateway keeps serving the same session afterwards.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, postInSession, serverEntry, startEverythingHTTP } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingHTTP()
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
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
