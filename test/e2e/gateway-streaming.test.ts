/**
 * Streaming through the gateway: an SSE answer's first event reaches the client while the upstream
 * is still holding back the rest (no buffering), also when policy rewrites a `tools/list` answer
 * in the stream; a silent upstream ends in a 504 at the route's deadline.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { answerDeadline } from '../../src/gateway/answer-deadline.js'
import { connectAs, post, postInSession } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

/** Most the `flood` method writes; a gateway that did not pause its reading would take it all. */
const FLOOD_BYTES = 64 * 1024 * 1024
const flood = { written: 0 }

/**
 * Answers initialize at once; everything else as SSE: one event now, the answer on `release()`.
 * `flood` streams events as fast as the connection takes them.
 */
function slowSSEServer() {
  const held: { res: ServerResponse; id: number; method: string }[] = []
  /** The answers to `hang`, never written. */
  const hung: ServerResponse[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end() // no standalone stream, no DELETE
        return
      }
      const msg = JSON.parse(body) as { id?: number; method: string }
      if (msg.id === undefined) {
        res.writeHead(202).end()
        return
      }
      if (msg.method === 'initialize') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'mcp-session-id': `s-${String(Math.random())}`,
        })
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: msg.id,
            result: {
              protocolVersion: '2025-06-18',
              capabilities: { tools: {} },
              serverInfo: { name: 'slow', version: '1' },
            },
          }),
        )
        return
      }
      if (msg.method === 'hang') {
        hung.push(res) // never answers
        return
      }
      if (msg.method === 'flood') {
        // Events as fast as the connection takes them, up to FLOOD_BYTES.
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        const event = `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(16 * 1024) } })}\n\n`
        const more = () => {
          while (flood.written < FLOOD_BYTES && !res.destroyed) {
            flood.written += event.length
            if (!res.write(event)) {
              res.once('drain', more)
              return
            }
          }
        }
        more()
        return
      }
      if (msg.method === 'stated-length') {
        // An event stream that states a length (40 bytes), sends 11 and stalls.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': '40' })
        res.write(': waiting\n\n')
        return
      }
      if (msg.method === 'odd-status') {
        res.writeHead(600, { 'content-type': 'application/json' }).end('{}')
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(
        `id: 1\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'first' } })}\n\n`,
      )
      held.push({ res, id: msg.id, method: msg.method })
    })
  })
  return {
    server,
    held,
    hung,
    release() {
      for (const { res, id, method } of held.splice(0)) {
        const result =
          method === 'tools/list'
            ? {
                tools: [
                  { name: 'open', inputSchema: { type: 'object' } },
                  { name: 'secret', inputSchema: { type: 'object' } },
                ],
              }
            : { content: [{ type: 'text', text: 'done' }] }
        res.end(`id: 2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result })}\n\n`)
      }
    },
  }
}

let serve: RunningServe
let slow: ReturnType<typeof slowSSEServer>

beforeAll(async () => {
  slow = slowSSEServer()
  await new Promise<void>((done) => slow.server.listen(0, '127.0.0.1', done))
  const url = `http://127.0.0.1:${String((slow.server.address() as AddressInfo).port)}/mcp`
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          {
            path: '/slow',
            upstream: { kind: 'http', url, timeoutSeconds: 1 },
            tools: { secret: { subjects: ['nobody'] } },
          },
          // The same server with no policy: its answers pass through unparsed.
          { path: '/slow-open', upstream: { kind: 'http', url, timeoutSeconds: 1 } },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  slow.server.closeAllConnections()
  await new Promise((done) => slow.server.close(done))
})

async function firstChunk(
  res: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<string> {
  expect(res.headers.get('content-type')).toContain('text/event-stream')
  const { value } = await reader.read()
  return new TextDecoder().decode(value)
}

async function rest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return text
    text += new TextDecoder().decode(value)
  }
}

describe('streaming through the gateway', () => {
  it('passes each SSE event on as it arrives, and filters a tools/list answer inside the stream', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const headers = {
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }
      const token = provider.saved!.access_token
      for (const method of ['tools/call', 'tools/list']) {
        const params = method === 'tools/call' ? { name: 'open', arguments: {} } : {}
        const res = await post(
          serve.routes['/slow']!,
          token,
          { jsonrpc: '2.0', id: 11, method, params },
          headers,
        )
        const reader = res.body!.getReader()
        // The upstream holds the answer back: only the first event can have arrived.
        const first = await firstChunk(res, reader)
        expect(first).toContain('"first"')
        expect(slow.held).toHaveLength(1)
        slow.release()
        const tail = await rest(reader)
        expect(tail).toContain('"id":11')
        if (method === 'tools/list') {
          expect(tail).toContain('"open"')
          expect(tail).not.toContain('"secret"')
        }
      }
    } finally {
      await client.close()
    }
  }, 60_000)

  it('ends the upstream answer when the client leaves in the middle of the stream', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const aborted = new AbortController()
      const res = await postInSession(
        serve.routes['/slow']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'open', arguments: {} } },
        aborted.signal,
      )
      const reader = res.body!.getReader()
      expect(await firstChunk(res, reader)).toContain('"first"')
      expect(slow.held).toHaveLength(1)
      const upstream = slow.held[0]!.res
      const closed = new Promise<void>((done) => upstream.once('close', done))
      aborted.abort()
      // The gateway closes its request to the MCP server: the held answer's connection closes
      // before the server ever finished it.
      await closed
      expect(upstream.writableFinished).toBe(false)
      slow.held.splice(0)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('ends the upstream call when the client leaves before the server answers at all', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const aborted = new AbortController()
      const before = slow.hung.length
      const answered = postInSession(
        serve.routes['/slow']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 13, method: 'hang' },
        aborted.signal,
      ).catch(() => 'left')
      await expect.poll(() => slow.hung.length, { timeout: 5_000 }).toBe(before + 1)
      const upstream = slow.hung[before]!
      const started = Date.now()
      const closed = new Promise<void>((done) => upstream.once('close', done))
      aborted.abort()
      expect(await answered).toBe('left')
      // Closed by the client's departure, well before the route's 1 s deadline would close it.
      await closed
      expect(Date.now() - started).toBeLessThan(700)
      expect(upstream.writableFinished).toBe(false)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('stops reading from the MCP server while the client is not reading, so nothing piles up', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const aborted = new AbortController()
      flood.written = 0
      const res = await postInSession(
        serve.routes['/slow']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 13, method: 'flood' },
        aborted.signal,
      )
      const reader = res.body!.getReader()
      await reader.read()
      // The client reads nothing more for a while (within the route's one-second deadline).
      await new Promise((done) => setTimeout(done, 600))
      // Socket buffers on both sides and the gateway's few queued chunks: megabytes, never all.
      expect(flood.written).toBeLessThan(FLOOD_BYTES / 3)
      aborted.abort()
    } finally {
      await client.close()
    }
  }, 60_000)

  it('answers 502 with a JSON-RPC error to a status no HTTP response may carry (600)', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const res = await postInSession(
        serve.routes['/slow']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 5, method: 'odd-status' },
      )
      expect(res.status).toBe(502)
      expect(await res.json()).toMatchObject({ id: 5, error: { code: -32603 } })
    } finally {
      await client.close()
    }
  }, 60_000)

  it("drops an event stream's stated length, so the gateway's own timeout event cannot run past it", async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow-open']!, ADA)
    try {
      const res = await postInSession(
        serve.routes['/slow-open']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 6, method: 'stated-length' },
      )
      expect(res.status).toBe(200)
      expect(res.headers.get('content-length')).toBeNull()
      // The whole stream arrives, ended by the deadline's answer for the call.
      const text = await res.text()
      expect(text).toContain(': waiting')
      expect(text).toContain('"id":6')
      expect(text).toContain('-32603')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('answers 504 with a JSON-RPC error when the upstream does not answer in time', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const res = await postInSession(
        serve.routes['/slow']!,
        { provider, transport },
        { jsonrpc: '2.0', id: 4, method: 'hang' },
      )
      expect(res.status).toBe(504)
      expect(await res.json()).toMatchObject({ id: 4, error: { code: -32603 } })
    } finally {
      await client.close()
    }
  }, 60_000)

  it("restarts the clock only on progress for the calls' own progress tokens", async () => {
    const encoder = new TextEncoder()
    const progress = (token: string) =>
      encoder.encode(
        `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } })}\n\n`,
      )
    const run = async (token: string) => {
      const cancelled: (string | number)[][] = []
      const upstream = new TransformStream<Uint8Array, Uint8Array>()
      const deadline = answerDeadline(upstream.readable, {
        ids: [3],
        progressTokens: ['mine'],
        timeoutMs: 300,
        maxMs: 5000,
        onTimeout: (ids) => cancelled.push(ids),
      })
      const writer = upstream.writable.getWriter()
      void new Response(deadline.body).text().catch(() => undefined)
      // Progress every 100 ms for 0.7 s: well within 300 ms each, if it counts.
      for (let i = 0; i < 7; i++) {
        await writer.write(progress(token)).catch(() => undefined)
        await new Promise((done) => setTimeout(done, 100))
      }
      deadline.stop()
      await writer.close().catch(() => undefined)
      return cancelled
    }
    expect(await run('mine')).toEqual([])
    expect(await run('another call')).toEqual([[3]])
  })

  it('sees an answer whose member names are written with \\u escapes, and does not fail it later', async () => {
    const encoder = new TextEncoder()
    const run = async (answer: string) => {
      const cancelled: (string | number)[][] = []
      const upstream = new TransformStream<Uint8Array, Uint8Array>()
      const deadline = answerDeadline(upstream.readable, {
        ids: [5],
        progressTokens: [],
        timeoutMs: 200,
        maxMs: 200,
        onTimeout: (ids) => cancelled.push(ids),
      })
      const writer = upstream.writable.getWriter()
      const read = new Response(deadline.body).text()
      // A log message that mentions "result" is no answer; then the answer itself.
      await writer.write(
        encoder.encode(
          `data: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\\"result\\""}}\n\n${answer}`,
        ),
      )
      await new Promise((done) => setTimeout(done, 400))
      await writer.close().catch(() => undefined)
      const text = await read
      deadline.stop()
      return { cancelled, text }
    }
    const escaped = await run('data: {"jsonrpc":"2.0","id":5,"r\\u0065sult":{}}\n\n')
    expect(escaped.cancelled).toEqual([])
    expect(escaped.text).not.toContain('did not answer in time')
    // The same stream without the answer fails the call: the clock was running.
    const none = await run('')
    expect(none.cancelled).toEqual([[5]])
    expect(none.text).toContain('did not answer in time')
  })

  it('fails the open calls like a timeout when an event never ends, instead of keeping it all', async () => {
    const cancelled: (string | number)[][] = []
    const upstream = new TransformStream<Uint8Array, Uint8Array>()
    const deadline = answerDeadline(upstream.readable, {
      ids: [7],
      progressTokens: [],
      timeoutMs: 60_000,
      maxMs: 60_000,
      maxEventChars: 1000,
      onTimeout: (ids) => cancelled.push(ids),
    })
    const encoder = new TextEncoder()
    const writer = upstream.writable.getWriter()
    const read = new Response(deadline.body).text()
    // An upstream that streams one event forever (never "\n\n").
    for (let i = 0; i < 5; i++) {
      await writer.write(encoder.encode(`data: ${'x'.repeat(300)}`)).catch(() => undefined)
    }
    await writer.close().catch(() => undefined)
    const text = await read
    expect(cancelled).toEqual([[7]])
    expect(text).toContain('"id":7')
    expect(text).toContain('the MCP server did not answer in time')
    deadline.stop()
  })
})
