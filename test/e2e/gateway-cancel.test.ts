/**
 * A call the client cancels (MCP cancellation: `notifications/cancelled` naming its id) ends at
 * the gateway at once, and the server is told. On stdio and legacy SSE routes, where the gateway
 * itself waits for the server's answer, its POST stops waiting (an empty event stream when no
 * answer had begun, an error answer that ends the stream when one had), and an answer that
 * still comes reaches no later call. On an HTTP route its event stream ends with that error answer, though the server (the
 * MCP SDK 1.x) leaves it open. Either way its `maxInFlight` slot is free. The MCP server is
 * `@modelcontextprotocol/server-everything` (its `trigger-long-running-operation` tool), over
 * stdio, its own legacy SSE transport and its own Streamable HTTP transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  postInSession,
  serverEntry,
  startEverythingHTTP,
  startEverythingSSE,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingSSE>>
let everythingHTTP: Awaited<ReturnType<typeof startEverythingHTTP>>
let serve: RunningServe

/**
 * A stdio MCP server that answers each `tools/call` after `arguments.delay` ms with
 * `answer to <label>`, and ignores cancellations, as a server whose answer is already on its way.
 */
const LATE_ANSWERER = `
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n')
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line)
  if (m.method === 'initialize') {
    const result = { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'late', version: '1' } }
    send({ jsonrpc: '2.0', id: m.id, result })
  } else if (m.method === 'tools/call') {
    const { label, delay } = m.params.arguments
    const result = { content: [{ type: 'text', text: 'answer to ' + label }] }
    setTimeout(() => send({ jsonrpc: '2.0', id: m.id, result }), delay)
  }
})
`

beforeAll(async () => {
  ;[everything, everythingHTTP] = await Promise.all([startEverythingSSE(), startEverythingHTTP()])
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
          { path: '/http', upstream: { kind: 'http', url: everythingHTTP.url, ...limits } },
          {
            path: '/late',
            upstream: { kind: 'stdio', command: process.execPath, args: ['-e', LATE_ANSWERER] },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
  await (everythingHTTP as typeof everythingHTTP | undefined)?.stop()
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

/** Reads a stream to its end; how long that took after `from`. */
async function rest(reader: ReadableStreamDefaultReader<Uint8Array>, from: number) {
  const decoder = new TextDecoder()
  let text = ''
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += decoder.decode(chunk.value, { stream: true })
  }
  return { text, took: Date.now() - from }
}

describe.each(['/stdio', '/legacy'])('a call cancelled on %s', (path) => {
  it('ends at once before its answer began, and the session goes on', async () => {
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
      // The session goes on: the next call is answered.
      const again = await postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 'c1-next',
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'after the cancel' } },
      })
      expect(again.status).toBe(200)
      const answer = (await again.json()) as { id: string; result: { content: unknown } }
      expect(answer.id).toBe('c1-next')
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
      const after = await rest(reader, cancelledAt)
      // The stream ended within a moment, not at the 8 s deadline or the 4 s operation's end.
      expect(after.took).toBeLessThan(1000)
      const messages = messagesIn(after.text)
      expect(messages.at(-1)).toEqual({
        jsonrpc: '2.0',
        id: 'c2',
        error: { code: -32603, message: 'the request was cancelled by the client' },
      })
      // No answer of the server's for it, before or after.
      expect(messages.filter((m) => m.id === 'c2')).toHaveLength(1)
    } finally {
      await connected.client.close()
    }
  }, 30_000)
})

describe('a call cancelled on a stdio route whose server answers it anyway', () => {
  it('never gives that late answer to a later call with the same id', async () => {
    const connected = await connectAs(serve.routes['/late']!, ADA)
    const url = serve.routes['/late']!
    const wait = (label: string, delay: number) =>
      postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 'again',
        method: 'tools/call',
        params: { name: 'wait', arguments: { label, delay } },
      })
    try {
      const first = wait('first', 1000)
      await new Promise((done) => setTimeout(done, 300))
      expect((await postInSession(url, connected, cancel('again'))).status).toBe(202)
      expect(await (await first).text()).toBe('')
      // The first answer comes at 1 s, while the second call (the same id) waits until 2.3 s.
      const second = await (await wait('second', 2000)).text()
      expect(second).toContain('answer to second')
      expect(second).not.toContain('answer to first')
    } finally {
      await connected.client.close()
    }
  }, 30_000)
})

describe('a call cancelled on an HTTP route', () => {
  it('ends its stream at once, though the server leaves it open', async () => {
    const connected = await connectAs(serve.routes['/http']!, ADA)
    const url = serve.routes['/http']!
    try {
      // The MCP SDK 1.x server answers a call with an event stream and, once the call is
      // cancelled, sends no answer and leaves that stream open.
      const res = await postInSession(url, connected, longCall('h1'))
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      const reader = res.body!.getReader()
      await new Promise((done) => setTimeout(done, 300))
      const cancelledAt = Date.now()
      expect((await postInSession(url, connected, cancel('h1'))).status).toBe(202)
      const after = await rest(reader, cancelledAt)
      expect(after.took).toBeLessThan(1000)
      expect(messagesIn(after.text)).toEqual([
        {
          jsonrpc: '2.0',
          id: 'h1',
          error: { code: -32603, message: 'the request was cancelled by the client' },
        },
      ])
    } finally {
      await connected.client.close()
    }
  }, 30_000)
})

describe.each(['/stdio', '/legacy', '/http'])(
  'the maxInFlight slot of a call cancelled on %s',
  (path) => {
    it("is free again at once: the SDK client's next call is served", async () => {
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
        // The SDK client sends notifications/cancelled for the call (MCP cancellation) and gives
        // up on it at once, so its next call may overtake the cancellation: it is tried again while
        // the route is busy, for at most 1.5 s (the cancelled call would hold the slot for 8 s).
        leaving.abort('the user gave up')
        expect(String(await first)).toContain('the user gave up')
        const started = Date.now()
        let echo: unknown
        do {
          echo = await client
            .callTool({ name: 'echo', arguments: { message: 'next' } })
            .catch((e: unknown) => e)
        } while (String(echo).includes('-32030') && Date.now() - started < 1500)
        expect(echo).toHaveProperty('content')
        expect(JSON.stringify((echo as { content: unknown }).content)).toContain('next')
      } finally {
        await client.close()
      }
    }, 30_000)
  },
)
