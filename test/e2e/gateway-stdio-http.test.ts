/**
 * The Streamable HTTP a stdio route speaks to its clients (spec 2025-11-25, Transports §Streamable
 * HTTP), served by the gateway itself: a call the process only answers gets one JSON body; a call
 * that takes longer than a second gets an event stream that opens with a resumable event id; the
 * header and method checks answer as the spec says. The MCP server is
 * `@modelcontextprotocol/server-everything` over stdio.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, serverEntry } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const VERSION = '2025-11-25'

let serve: RunningServe
let url: string

beforeAll(async () => {
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          {
            path: '/everything',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
            },
          },
          {
            path: '/capped',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
              maxInFlight: 1,
            },
          },
        ],
      },
    },
  })
  url = serve.routes['/everything']!
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

/** A session opened with the SDK client, then left by it (no DELETE): raw requests follow. */
async function openSession(at = url) {
  const { client, provider, transport } = await connectAs(at, ADA)
  const session = { token: provider.saved!.access_token, id: transport.sessionId! }
  await client.close()
  return session
}

const inSession = (session: { id: string }, version = VERSION) => ({
  'mcp-session-id': session.id,
  'mcp-protocol-version': version,
})

/** Batches went in MCP 2025-06-18 (the gateway refuses them from then on): sent as 2025-03-26. */
const BATCHING = '2025-03-26'

const echo = (id: number, message = 'hi') => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { message } },
})

/** A call that takes `seconds` and sends no progress (no progress token). */
const slow = (id: number, seconds: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: 2 } },
})

describe('a stdio route answers in the form the call needs', () => {
  it('answers a call the process only answers with one JSON body of its own length', async () => {
    const session = await openSession()
    const res = await post(url, session.token, echo(1), inSession(session))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(res.headers.get('mcp-session-id')).toBe(session.id)
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength)
    const answer = JSON.parse(new TextDecoder().decode(bytes)) as {
      id: number
      result: { content: { text: string }[] }
    }
    expect(answer.id).toBe(1)
    expect(answer.result.content[0]!.text).toBe('Echo: hi')
  }, 30_000)

  it('answers a batch with an array, and a POST of notifications alone with 202', async () => {
    const session = await openSession()
    const res = await post(
      url,
      session.token,
      [echo(2, 'a'), echo(3, 'b')],
      inSession(session, BATCHING),
    )
    expect(res.headers.get('content-type')).toBe('application/json')
    const answers = (await res.json()) as { id: number }[]
    expect(Array.isArray(answers)).toBe(true)
    expect(answers.map((a) => a.id).sort()).toEqual([2, 3])
    // A one-element batch is still a batch.
    const one = await post(url, session.token, [echo(4)], inSession(session, BATCHING))
    expect(((await one.json()) as unknown[]).length).toBe(1)
    const note = await post(
      url,
      session.token,
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      inSession(session),
    )
    expect(note.status).toBe(202)
    expect(await note.text()).toBe('')
  }, 30_000)

  it('streams a call that takes longer than a second, from a first event id the client can resume from', async () => {
    const session = await openSession()
    const res = await post(url, session.token, slow(5, 2), inSession(session))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    // The priming event: an id and no data (spec 2025-11-25 §Resumability and Redelivery).
    const primed = /^id: (\S+)\ndata: \n\n$/.exec(first)
    expect(primed).not.toBeNull()
    await reader.cancel() // the connection drops before the answer
    const resumed = await fetch(url, {
      headers: {
        authorization: `Bearer ${session.token}`,
        accept: 'text/event-stream',
        ...inSession(session),
        'last-event-id': primed![1]!,
      },
    })
    expect(resumed.status).toBe(200)
    const text = await resumed.text() // ends once the answer is in
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as { id?: number; result?: unknown })
    expect(data).toHaveLength(1)
    expect(data[0]!.id).toBe(5)
    expect(data[0]!.result).toBeDefined()
  }, 30_000)

  it("resumes a batch's stream until its last answer, not its first", async () => {
    const session = await openSession()
    const res = await post(url, session.token, [echo(7), slow(8, 2)], inSession(session, BATCHING))
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.getReader()
    let seen = ''
    while (!seen.includes('Echo: hi')) seen += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel() // dropped after the first answer, before the second
    const ids = [...seen.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]!)
    expect(ids).toHaveLength(1) // the held echo answer (no priming event before 2025-11-25)
    const resumed = await fetch(url, {
      headers: {
        authorization: `Bearer ${session.token}`,
        accept: 'text/event-stream',
        ...inSession(session, BATCHING),
        'last-event-id': ids[0]!,
      },
    })
    const rest = await resumed.text() // ends once the batch's last answer is in
    expect(rest).toContain('"id":8')
    expect(rest).not.toContain('Echo: hi')
  }, 30_000)

  it('sends no priming event to a client older than 2025-11-25: its stream starts with the answer', async () => {
    const session = await openSession()
    const res = await post(url, session.token, slow(6, 1.5), inSession(session, '2025-06-18'))
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const text = await res.text()
    expect(text.startsWith('event: message\n')).toBe(true)
    expect(text).not.toContain('data: \n') // no event without data
    expect(text).toContain('"id":6')
  }, 30_000)
})

describe('a stdio route checks requests as the Streamable HTTP transport says', () => {
  it('refuses what the spec refuses, with the status it names, and the session goes on', async () => {
    const session = await openSession()
    const call = (headers: Record<string, string>, body: unknown = echo(10)) =>
      fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${session.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...inSession(session),
          ...headers,
        },
        body: JSON.stringify(body),
      })
    const notAcceptable = await call({ accept: 'application/json' })
    expect(notAcceptable.status).toBe(406)
    const wrongType = await call({ 'content-type': 'text/plain' })
    expect(wrongType.status).toBe(415)
    const oldVersion = await call({ 'mcp-protocol-version': '1999-01-01' })
    expect(oldVersion.status).toBe(400)
    expect(await oldVersion.text()).toContain('MCP-Protocol-Version')
    const again = await call(
      {},
      {
        jsonrpc: '2.0',
        id: 11,
        method: 'initialize',
        params: {
          protocolVersion: VERSION,
          capabilities: {},
          clientInfo: { name: 't', version: '1' },
        },
      },
    )
    expect(again.status).toBe(400)
    for (const res of [notAcceptable, wrongType, again]) {
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600)
    }
    const fine = await call({})
    expect(fine.status).toBe(200)
    expect(((await fine.json()) as { id: number }).id).toBe(10)
  }, 30_000)

  it('refuses a request whose id is in flight in the session, and the first call still gets its answer', async () => {
    const session = await openSession()
    const first = post(url, session.token, slow(20, 0.5), inSession(session))
    await new Promise((done) => setTimeout(done, 100))
    const twin = await post(url, session.token, echo(20), inSession(session))
    expect(twin.status).toBe(400)
    expect(await twin.text()).toContain('in flight')
    const twice = await post(url, session.token, [echo(21), echo(21)], inSession(session, BATCHING))
    expect(twice.status).toBe(400)
    const answer = (await (await first).json()) as { id: number; result?: unknown }
    expect(answer.id).toBe(20)
    expect(answer.result).toBeDefined()
  }, 30_000)

  it('refuses a batch of more than 100 messages', async () => {
    const session = await openSession()
    const batch = Array.from({ length: 101 }, (_, i) => echo(100 + i))
    const res = await post(url, session.token, batch, inSession(session, BATCHING))
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('at most 100')
    const hundred = await post(url, session.token, batch.slice(1), inSession(session, BATCHING))
    expect(((await hundred.json()) as unknown[]).length).toBe(100)
  }, 30_000)

  it('frees the in-flight slot of a call whose client left while it was waiting', async () => {
    const capped = serve.routes['/capped']!
    const session = await openSession(capped)
    const leaving = new AbortController()
    const call = post(capped, session.token, slow(50, 3), inSession(session), leaving.signal)
    await new Promise((done) => setTimeout(done, 300))
    leaving.abort()
    await expect(call).rejects.toThrow()
    await new Promise((done) => setTimeout(done, 100))
    // maxInFlight 1: the slot is free again long before the abandoned call would have ended.
    const next = await post(capped, session.token, echo(51), inSession(session))
    expect(next.status).toBe(200)
    expect(((await next.json()) as { id: number }).id).toBe(51)
  }, 30_000)

  it('keeps one GET stream per session, and ends the session on DELETE', async () => {
    const session = await openSession()
    const headers = { authorization: `Bearer ${session.token}`, ...inSession(session) }
    const noStream = await fetch(url, { headers: { ...headers, accept: 'application/json' } })
    expect(noStream.status).toBe(406)
    const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } })
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const second = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } })
    expect(second.status).toBe(409)
    const gone = await fetch(url, { method: 'DELETE', headers })
    expect(gone.status).toBe(200)
    // The GET stream ends with the session, and the session is no more.
    expect(await stream.text()).toBe('')
    const after = await post(url, session.token, echo(12), inSession(session))
    expect(after.status).toBe(404)
  }, 30_000)
})
