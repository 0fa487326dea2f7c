/**
 * `Last-Event-ID` resumption through `gatehouse serve` (spec 2025-11-25, Streamable HTTP
 * §Resumability and Redelivery). On stdio and legacy SSE routes the gateway serves the client side
 * itself: its events carry ids, a bounded per-session buffer keeps the recent ones, and a `GET`
 * with `Last-Event-ID` gets the events after it on that stream, exactly once; an id of another
 * session replays nothing. On HTTP routes the header goes to the server, which resumes itself.
 * The MCP server is `@modelcontextprotocol/server-everything` (over stdio, its legacy SSE transport
 * and its own Streamable HTTP transport, which keeps an event store).
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  post,
  serverEntry,
  startEverythingHTTP,
  startEverythingSSE,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }
const VERSION = '2025-11-25'

let sse: Awaited<ReturnType<typeof startEverythingSSE>>
let http: Awaited<ReturnType<typeof startEverythingHTTP>>
let serve: RunningServe

const stdio = {
  kind: 'stdio',
  command: process.execPath,
  args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
} as const

beforeAll(async () => {
  sse = await startEverythingSSE()
  http = await startEverythingHTTP()
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password },
        { user: BOB.username, password: BOB.password },
      ],
    },
    config: {
      gateway: {
        routes: [
          { path: '/stdio', upstream: stdio },
          { path: '/legacy', upstream: { kind: 'sse', url: sse.url } },
          { path: '/http', upstream: { kind: 'http', url: http.url } },
          {
            path: '/tiny',
            upstream: { ...stdio, eventBuffer: { maxEvents: 4, maxBytes: 4096 } },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (sse as typeof sse | undefined)?.stop()
  await (http as typeof http | undefined)?.stop()
})

interface Event {
  id: string | undefined
  message: { id?: unknown; method?: string; params?: { progress?: number }; result?: unknown }
}

/** Reads SSE events until `enough` says so, the stream ends, or `ms` pass. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  enough: (events: Event[]) => boolean,
  ms = 10_000,
): Promise<{ events: Event[]; ended: boolean }> {
  const events: Event[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  const deadline = Date.now() + ms
  while (!enough(events)) {
    const left = deadline - Date.now()
    if (left <= 0) return { events, ended: false }
    let timer: ReturnType<typeof setTimeout> | undefined
    const next = await Promise.race([
      reader.read(),
      new Promise<'late'>((done) => {
        timer = setTimeout(() => {
          done('late')
        }, left)
      }),
    ]).finally(() => {
      clearTimeout(timer)
    })
    if (next === 'late') return { events, ended: false }
    if (next.done) return { events, ended: true }
    buffer += decoder.decode(next.value, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end !== -1) {
      const lines = buffer.slice(0, end).split('\n')
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim())
      if (data.join('') === '') continue // priming event or keep-alive
      const id = lines
        .find((l) => l.startsWith('id:'))
        ?.slice(3)
        .trim()
      events.push({ id, message: JSON.parse(data.join('\n')) as Event['message'] })
    }
  }
  return { events, ended: false }
}

const progressOf = (events: Event[]) =>
  events
    .filter((e) => e.message.method === 'notifications/progress')
    .map((e) => e.message.params?.progress)
const answered = (id: number) => (events: Event[]) =>
  events.some((e) => e.message.id === id && e.message.result !== undefined)

/** A session opened with the SDK client, then left by it (no DELETE): raw requests follow. */
async function openSession(path: string, user = ADA) {
  const { client, provider, transport } = await connectAs(serve.routes[path]!, user)
  const session = { token: provider.saved!.access_token, id: transport.sessionId! }
  await client.close()
  await new Promise((done) => setTimeout(done, 200)) // its GET stream is let go
  return session
}

function longCall(route: string, session: { token: string; id: string }, id: number) {
  return post(
    serve.routes[route]!,
    session.token,
    {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: 'trigger-long-running-operation',
        arguments: { duration: 1.5, steps: 5 },
        _meta: { progressToken: `p-${String(id)}` },
      },
    },
    { 'mcp-session-id': session.id, 'mcp-protocol-version': VERSION },
  )
}

function resume(route: string, session: { token: string; id: string }, lastEventId: string) {
  return fetch(serve.routes[route]!, {
    headers: {
      authorization: `Bearer ${session.token}`,
      accept: 'text/event-stream',
      'mcp-session-id': session.id,
      'mcp-protocol-version': VERSION,
      'last-event-id': lastEventId,
    },
  })
}

/** Opens a long call, reads two progress events, then drops the connection. */
async function callAndDrop(route: string, session: { token: string; id: string }, id: number) {
  const res = await longCall(route, session, id)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/event-stream')
  const reader = res.body!.getReader()
  const before = await readEvents(reader, (e) => progressOf(e).length >= 2)
  await reader.cancel()
  expect(progressOf(before.events)).toEqual([1, 2])
  const last = before.events.at(-1)!.id
  expect(last).toBeTruthy()
  return { before: before.events, last: last! }
}

describe.each(['/stdio', '/legacy'])('Last-Event-ID on %s (the gateway resumes)', (route) => {
  it('replays the events missed after a drop exactly once, and ends with the answer', async () => {
    const session = await openSession(route)
    const { before, last } = await callAndDrop(route, session, 7)
    // The call finishes while nobody listens.
    await new Promise((done) => setTimeout(done, 1800))
    const res = await resume(route, session, last)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const after = await readEvents(res.body!.getReader(), () => false, 5000)
    expect(after.ended).toBe(true) // the stream's answer is in: the replay ends as it would have
    expect(progressOf(after.events)).toEqual([3, 4, 5])
    expect(answered(7)(after.events)).toBe(true)
    const ids = [...before, ...after.events].map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
  }, 30_000)

  it('replays what was missed, then carries the stream on live until the answer', async () => {
    const session = await openSession(route)
    const { last } = await callAndDrop(route, session, 8)
    const res = await resume(route, session, last)
    expect(res.status).toBe(200)
    const after = await readEvents(res.body!.getReader(), () => false, 5000)
    expect(after.ended).toBe(true)
    expect(progressOf(after.events)).toEqual([3, 4, 5])
    expect(answered(8)(after.events)).toBe(true)
  }, 30_000)

  it("never replays another session's events: its id is unknown here, its session 404", async () => {
    const ada = await openSession(route)
    const { last } = await callAndDrop(route, ada, 9)
    await new Promise((done) => setTimeout(done, 1800))
    const bob = await openSession(route, BOB)
    // Bob's own session with Ada's event id: a fresh stream, nothing of Ada's.
    const mine = await resume(route, bob, last)
    expect(mine.status).toBe(200)
    const mineReader = mine.body!.getReader()
    const seen = await readEvents(mineReader, (e) => e.length > 0, 1000)
    await mineReader.cancel()
    expect(seen.events).toEqual([])
    // Ada's session with Bob's token: not found, like any session that is not his.
    const theirs = await resume(route, { token: bob.token, id: ada.id }, last)
    expect(theirs.status).toBe(404)
    await theirs.body?.cancel()
    // A made-up id on Ada's own session replays nothing either.
    const guessed = await resume(route, ada, `${last.split('.')[0]!}x.1.1`)
    expect(guessed.status).toBe(200)
    const guessedReader = guessed.body!.getReader()
    const none = await readEvents(guessedReader, (e) => e.length > 0, 1000)
    await guessedReader.cancel()
    expect(none.events).toEqual([])
    // Ada's own id still resumes her stream.
    const again = await resume(route, ada, last)
    const rest = await readEvents(again.body!.getReader(), () => false, 5000)
    expect(progressOf(rest.events)).toEqual([3, 4, 5])
    expect(answered(9)(rest.events)).toBe(true)
  }, 30_000)

  it('lets the SDK client resume a dropped call by itself, each progress seen once', async () => {
    const { client, provider } = await connectAs(serve.routes[route]!, ADA)
    await client.close()
    let cut = false
    // A network that drops the first tools/call stream after its second progress event.
    const flaky: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      const body = typeof init?.body === 'string' ? init.body : ''
      if (cut || !body.includes('tools/call') || !res.body) return res
      cut = true
      const reader = res.body.getReader()
      let seen = 0
      const dropped = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read()
          if (done) {
            controller.close()
            return
          }
          controller.enqueue(value)
          seen += new TextDecoder().decode(value).split('notifications/progress').length - 1
          if (seen >= 2) {
            await reader.cancel()
            controller.error(new TypeError('network connection lost'))
          }
        },
      })
      return new Response(dropped, { status: res.status, headers: res.headers })
    }
    const transport = new StreamableHTTPClientTransport(new URL(serve.routes[route]!), {
      authProvider: provider,
      fetch: flaky,
      reconnectionOptions: {
        initialReconnectionDelay: 100,
        maxReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 3,
      },
    })
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js')
    const again = new Client({ name: 'resuming client', version: '1.0.0' })
    await again.connect(transport)
    try {
      const progress: number[] = []
      const result = await again.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 5 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      )
      expect(cut).toBe(true)
      expect(JSON.stringify(result.content)).toContain('Long running operation completed')
      expect(progress).toEqual([1, 2, 3, 4, 5])
    } finally {
      await again.close()
    }
  }, 30_000)
})

describe('the per-session event buffer is bounded (eventBuffer)', () => {
  it('keeps only the newest maxEvents events: a late resume gets what is left', async () => {
    const session = await openSession('/tiny')
    const res = await longCall('/tiny', session, 5)
    const all = await readEvents(res.body!.getReader(), answered(5))
    expect(progressOf(all.events)).toEqual([1, 2, 3, 4, 5])
    // 5 progress and the answer: only the last 4 are kept.
    const late = await resume('/tiny', session, all.events[0]!.id!)
    const kept = await readEvents(late.body!.getReader(), () => false, 5000)
    expect(kept.ended).toBe(true)
    expect(progressOf(kept.events)).toEqual([3, 4, 5])
    expect(answered(5)(kept.events)).toBe(true)
  }, 30_000)

  /**
   * A long call whose progress events carry a `size`-character token (each event about that
   * large: the client's own token goes back in every progress notification).
   */
  async function sizedCall(session: { token: string; id: string }, id: number, size: number) {
    const res = await post(
      serve.routes['/tiny']!,
      session.token,
      {
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'trigger-long-running-operation',
          arguments: { duration: 0.5, steps: 5 },
          _meta: { progressToken: 'x'.repeat(size) },
        },
      },
      { 'mcp-session-id': session.id, 'mcp-protocol-version': VERSION },
    )
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const read = await readEvents(res.body!.getReader(), answered(id))
    expect(progressOf(read.events)).toEqual([1, 2, 3, 4, 5]) // all delivered
    return read.events
  }

  it('drops the oldest events past maxBytes, and keeps none larger than maxBytes', async () => {
    const session = await openSession('/tiny')
    // maxBytes 4096: of five ~1,600-byte progress events and the answer, two and the answer fit.
    const events = await sizedCall(session, 21, 1500)
    const kept = await readEvents(
      (await resume('/tiny', session, events[0]!.id!)).body!.getReader(),
      () => false,
      5000,
    )
    expect(kept.ended).toBe(true)
    expect(progressOf(kept.events)).toEqual([4, 5])
    expect(answered(21)(kept.events)).toBe(true)
    // ~5,000-byte events are delivered (above) but never kept: a resume finds none of them.
    const big = await sizedCall(session, 22, 5000)
    const after = await resume('/tiny', session, big[0]!.id!)
    const reader = after.body!.getReader()
    const none = await readEvents(reader, (e) => progressOf(e).length > 0, 1500)
    await reader.cancel()
    expect(progressOf(none.events)).toEqual([])
  }, 30_000)
})

describe('Last-Event-ID on an HTTP route (the server resumes)', () => {
  it("passes the header on: the server's own event store replays the rest", async () => {
    const session = await openSession('/http')
    const { before, last } = await callAndDrop('/http', session, 11)
    await new Promise((done) => setTimeout(done, 1800))
    const res = await resume('/http', session, last)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const after = await readEvents(reader, answered(11), 5000)
    await reader.cancel()
    expect(progressOf(after.events)).toEqual([3, 4, 5])
    expect(answered(11)(after.events)).toBe(true)
    const ids = [...before, ...after.events].map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
  }, 30_000)
})
