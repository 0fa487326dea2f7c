/**
 * The session layer of stdio and legacy SSE routes, driven directly: what reaches the MCP server
 * (only messages the session accepted), and what its streams do while idle. The end-to-end
 * behaviour is in test/e2e/gateway-stdio-http.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { EventBuffer } from '../../src/gateway/event-buffer.js'
import type { RPCMessage } from '../../src/gateway/messages.js'
import { MAX_BATCH, ServedSession } from '../../src/gateway/served-session.js'

const URL = 'http://127.0.0.1/mcp'

function session(keepAliveMs?: number) {
  const received: { message: RPCMessage; tag: string | undefined }[] = []
  const served = new ServedSession<string>({
    id: 's1',
    events: new EventBuffer({ maxEvents: 16, maxBytes: 65536 }),
    onMessage: (message, tag) => received.push({ message, tag }),
    onClose: () => undefined,
    ...(keepAliveMs !== undefined ? { keepAliveMs } : {}),
  })
  return { served, received }
}

const post = (headers: Record<string, string> = {}) =>
  new Request(URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
  })

const call = (id: number): RPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/list' })

describe('ServedSession', () => {
  it('hands the server only the messages of a POST it accepted, each with its tag', async () => {
    const { served, received } = session()
    const refused = await served.handle(
      post({ accept: 'application/json' }),
      [call(1)],
      undefined,
      'a',
    )
    expect(refused.status).toBe(406)
    const tooMany = Array.from({ length: MAX_BATCH + 1 }, (_, i) => call(100 + i))
    expect((await served.handle(post(), tooMany, undefined, 'b')).status).toBe(400)
    expect(received).toEqual([])
    const answered = served.handle(post(), [call(2)], undefined, 'c')
    expect(received).toEqual([{ message: call(2), tag: 'c' }])
    served.send({ jsonrpc: '2.0', id: 2, result: { tools: [] } })
    const res = await answered
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 2, result: { tools: [] } })
  })

  it('keeps an idle stream alive with comment lines, and stops when the stream ends', async () => {
    const { served } = session(20)
    const get = await served.handle(new Request(URL, { headers: { accept: 'text/event-stream' } }))
    const reader = get.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first).toBe(': keepalive\n\n')
    await served.close()
    // Whatever was queued, the stream then ends: no keep-alive outlives it.
    for (;;) {
      const next = await reader.read()
      if (next.done) break
    }
    expect(get.headers.get('content-type')).toBe('text/event-stream')
  })

  it('answers a POST whose client left with 499 at once, and keeps its ids taken until answered', async () => {
    const { served } = session()
    const left = new AbortController()
    const waiting = served.handle(
      new Request(URL, { method: 'POST', headers: post().headers, signal: left.signal }),
      [call(3)],
    )
    left.abort()
    expect((await waiting).status).toBe(499)
    // Its id is still the process's to answer: a new request with it is refused ...
    expect((await served.handle(post(), [call(3)])).status).toBe(400)
    served.send({ jsonrpc: '2.0', id: 3, result: { late: true } })
    // ... and once answered (the answer dropped), the id is free again.
    const next = served.handle(post(), [call(3)])
    served.send({ jsonrpc: '2.0', id: 3, result: { fresh: true } })
    expect(await (await next).json()).toEqual({ jsonrpc: '2.0', id: 3, result: { fresh: true } })
  })
})
