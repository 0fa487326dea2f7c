/**
 * A call the client cancels (MCP cancellation: `notifications/cancelled` naming its id) on stdio
 * and legacy SSE routes, where the gateway itself waits for the server's answer: the server is
 * told, and the call ends at the gateway at once. Its POST stops waiting (an empty event stream
 * when no answer had begun, an error answer that ends the stream when one had), its id can be used
 * again, and its `maxInFlight` slot is free. The MCP server is
 * `@modelcontextprotocol/server-everything` (its `trigger-long-running-operation` tool), over
 * stdio and over its own legacy SSE transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, postInSession, serverEntry, startEverythingSSE } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingSSE>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingSSE()
  // Deadlines well past the tests' waits: a call that ends sooner ended by its cancellation.
  const limits = { timeoutSeconds: 8, maxInFlight: 1 }
  const stdio = {
    kind: 'stdio' as const,
    command: process.execPath,
    args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
  }
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          { path: '/stdio', upstream: { ...stdio, ...limits } },
          { path: '/legacy', upstream: { kind: 'sse', url: everything.url, ...limits } },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
})

const longCall = (id: string, progressToken?: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'trigger-long-running-operation',
    arguments: { duration: 4, steps: 4 },
    ...(progressToken !== undefined ? { _meta: { progressToken } } : {}),
  },
})

const cancel = (requestId: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId, reason: 'the user gave up' },
})

/** The JSON-RPC messages in an event stream's text. */
const messagesIn = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line.length > 6)
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>)

describe.each(['/stdio', '/legacy'])('a call cancelled on %s', (path) => {
  it('ends at once before its answer began, and its id can be used again', async () => {
    const connected = await connectAs(serve.routes[path]!, ADA)
    const url = serve.routes[path]!
    try {
      const started = Date.now()
      const call = postInSession(url, connected, longCall('c1'))
      await new Promise((done) => setTimeout(done, 300))
      const cancelled = await postInSession(url, connected, cancel('c1'))
      expect(cancelled.status).toBe(202)
      const res = await call
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      // Nothing to read and no event id to resume from: the client stops waiting, nothing more.
      expect(await res.text()).toBe('')
      expect(Date.now() - started).toBeLessThan(2000)
      // The id is free again: a new call with it gets its own answer.
      const again = await postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 'c1',
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'after the cancel' } },
      })
      expect(again.status).toBe(200)
      const answer = (await again.json()) as { id: string; result: { content: unknown } }
      expect(answer.id).toBe('c1')
      expect(JSON.stringify(answer.result.content)).toContain('after the cancel')
    } finally {
      await connected.client.close()
    }
  }, 30_000)

  it('ends its stream with an error answer once the answer had become a stream', async () => {
    const connected = await connectAs(serve.routes[path]!, ADA)
    const url = serve.routes[path]!
    try {
      const res = await postInSession(url, connected, longCall('c2', 'p2'))
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      const reader = res.body!.getReader()
      const decoder = new TextDecoder()
      let before = ''
      while (!before.includes('notifications/progress')) {
        const chunk = await reader.read()
        expect(chunk.done).toBe(false)
        before += decoder.decode(chunk.value, { stream: true })
      }
      const cancelledAt = Date.now()
      expect((await postInSession(url, connected, cancel('c2'))).status).toBe(202)
      let after = ''
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        after += decoder.decode(chunk.value, { stream: true })
      }
      // The stream ended within a moment, not at the 8 s deadline or the 4 s operation's end.
      expect(Date.now() - cancelledAt).toBeLessThan(1000)
      const rest = messagesIn(after)
      expect(rest.at(-1)).toEqual({
        jsonrpc: '2.0',
        id: 'c2',
        error: { code: -32603, message: 'the request was cancelled by the client' },
      })
      // No answer of the server's for it, before or after.
      expect(rest.filter((m) => m.id === 'c2')).toHaveLength(1)
    } finally {
      await connected.client.close()
    }
  }, 30_000)

  it("frees the call's maxInFlight slot: the SDK client's next call is served at once", async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      const leaving = new AbortController()
      const first = client
        .callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 4, steps: 4 } },
          undefined,
          { signal: leaving.signal },
        )
        .catch((e: unknown) => e)
      await new Promise((done) => setTimeout(done, 300))
      // The SDK client sends notifications/cancelled for the call (MCP cancellation).
      leaving.abort('the user gave up')
      expect(String(await first)).toContain('the user gave up')
      const started = Date.now()
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'next' } })
      expect(JSON.stringify(echo.content)).toContain('next')
      expect(Date.now() - started).toBeLessThan(1000)
    } finally {
      await client.close()
    }
  }, 30_000)
})
