/**
 * Ways around a route's policy that a review found, each closed: what the gateway reads of a
 * request must be what the MCP server reads, and an answer that policy filters must reach the
 * client filtered however it travels. Through `gatehouse serve` to
 * `@modelcontextprotocol/server-everything` over Streamable HTTP (its own transport), and to a
 * recording upstream that shows what crosses the gateway.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type Server as HTTPServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  post,
  postInSession,
  serveRoutes,
  startEverythingHTTP,
  startRecorder,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let recorder: Awaited<ReturnType<typeof startRecorder>>
let serve: RunningServe
let reuser: HTTPServer
/** Resolves when the `reuser` server's tools/call handler starts (it lets tools/list answer). */
let callArrived: () => void = () => undefined

/**
 * An MCP SDK 1.x server whose `tools/list` answers only once a `tools/call` has arrived: the SDK
 * keeps one stream per request id, so a call under the list's id, in another POST of the same
 * session, takes the list's answer onto its own stream.
 */
async function startReuser(): Promise<string> {
  const transports = new Map<string, StreamableHTTPServerTransport>()
  reuser = createServer((req, res) => {
    const sid = req.headers['mcp-session-id']
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined
    const ready = transport
      ? Promise.resolve()
      : (async () => {
          const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
            sessionIdGenerator: randomUUID,
            onsessioninitialized: (id): void => {
              transports.set(id, created)
            },
          })
          transport = created
          // The low-level server: its tools/list handler is the test's own (the waiting one).
          // eslint-disable-next-line @typescript-eslint/no-deprecated
          const server = new Server(
            { name: 'reuser', version: '1' },
            { capabilities: { tools: {} } },
          )
          server.setRequestHandler(ListToolsRequestSchema, async () => {
            const arrived = new Promise<void>((resolve) => (callArrived = resolve))
            await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 5000))])
            return {
              tools: ['echo', 'secret-admin-tool'].map((name) => ({
                name,
                inputSchema: { type: 'object' as const },
              })),
            }
          })
          server.setRequestHandler(CallToolRequestSchema, async () => {
            callArrived()
            await new Promise((resolve) => setTimeout(resolve, 300))
            return { content: [{ type: 'text' as const, text: 'called' }] }
          })
          await server.connect(created)
        })()
    void ready.then(() => transport!.handleRequest(req, res))
  })
  await new Promise<void>((done) => reuser.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${String((reuser.address() as AddressInfo).port)}/mcp`
}

beforeAll(async () => {
  const [started, rec, reuserUrl] = await Promise.all([
    startEverythingHTTP(),
    startRecorder(),
    startReuser(),
  ])
  ;[everything, recorder] = [started, rec]
  serve = await serveRoutes(
    [
      {
        path: '/reuse',
        upstream: { kind: 'http', url: reuserUrl },
        tools: { 'secret-admin-tool': { subjects: ['nobody'] } },
      },
      {
        path: '/mcp',
        upstream: { kind: 'http', url: everything.url },
        tools: { 'get-env': { subjects: ['nobody'] } },
        prompts: { 'completable-prompt': { subjects: ['nobody'] } },
        resources: { 'demo://resource/dynamic/*': { subjects: ['nobody'] } },
      },
      // The same server with no rules: what the requests above get when policy allows them.
      { path: '/open', upstream: { kind: 'http', url: everything.url } },
      { path: '/rec', upstream: { kind: 'http', url: recorder.url } },
    ],
    [ADA],
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  ;(reuser as HTTPServer | undefined)?.closeAllConnections()
  ;(reuser as HTTPServer | undefined)?.close()
  await Promise.all([
    (everything as typeof everything | undefined)?.stop(),
    (recorder as typeof recorder | undefined)?.stop(),
  ])
})

/** The JSON-RPC messages of an answer, whether it came as JSON or as an event stream. */
async function messagesOf(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text()
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const parsed = JSON.parse(text) as unknown
    return (Array.isArray(parsed) ? parsed : [parsed]) as Record<string, unknown>[]
  }
  return eventData(text).map((data) => JSON.parse(data) as Record<string, unknown>)
}

/** The `data` of each event in an event-stream text. */
function eventData(text: string): string[] {
  return text
    .split('\n\n')
    .map((event) =>
      event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('\n'),
    )
    .filter((data) => data !== '')
}

describe('gatehouse serve: policy cannot be read around', () => {
  it('refuses a batch with two requests of one id: a ping could not take the tools/list answer unfiltered', async () => {
    const url = serve.routes['/mcp']!
    const ada = await connectAs(url, ADA)
    try {
      const token = ada.provider.saved!.access_token
      const session = {
        'mcp-session-id': ada.transport.sessionId!,
        'mcp-protocol-version': '2025-03-26',
      }
      const same = await post(
        url,
        token,
        [
          { jsonrpc: '2.0', id: 5, method: 'tools/list' },
          { jsonrpc: '2.0', id: 5, method: 'ping' },
        ],
        session,
      )
      expect(same.status).toBe(400)
      expect(((await same.json()) as { error: { code: number } }).error.code).toBe(-32600)
      // `5` and `"5"` are one id to a server that keys calls by the id's text.
      const spelled = await post(
        url,
        token,
        [
          { jsonrpc: '2.0', id: 5, method: 'tools/list' },
          { jsonrpc: '2.0', id: '5', method: 'ping' },
        ],
        session,
      )
      expect(spelled.status).toBe(400)
      expect(((await spelled.json()) as { error: { code: number } }).error.code).toBe(-32600)
      // Two ids: the batch goes through, and the list is filtered.
      const apart = await post(
        url,
        token,
        [
          { jsonrpc: '2.0', id: 6, method: 'tools/list' },
          { jsonrpc: '2.0', id: 7, method: 'ping' },
        ],
        session,
      )
      expect(apart.status).toBe(200)
      const answers = await messagesOf(apart)
      const list = answers.find((m) => m.id === 6) as { result: { tools: { name: string }[] } }
      const names = list.result.tools.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).not.toContain('get-env')
    } finally {
      await ada.client.close()
    }
  })

  it('refuses a request reusing the id of one the session still has in flight, and frees the id with its answer', async () => {
    const url = serve.routes['/reuse']!
    const ada = await connectAs(url, ADA)
    try {
      const token = ada.provider.saved!.access_token
      const session = {
        'mcp-session-id': ada.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }
      const call = (id: number) => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      })
      // The server holds the list until a call arrives. A call under the list's id would take
      // the list's answer onto its own stream (the SDK keeps one stream per id): refused.
      const list = post(url, token, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, session)
      await new Promise((resolve) => setTimeout(resolve, 200))
      const reused = await post(url, token, call(5), session)
      expect(reused.status).toBe(400)
      expect(await reused.json()).toMatchObject({
        id: 5,
        error: {
          code: -32600,
          message: 'Invalid Request: a request with this id is in flight',
        },
      })
      // Another id passes; the list then answers on its own stream, filtered.
      const other = await post(url, token, call(6), session)
      expect(other.status).toBe(200)
      expect(await other.text()).toContain('called')
      const listed = await (await list).text()
      expect(listed).toContain('echo')
      expect(listed).not.toContain('secret-admin-tool')
      // Answered, id 5 is free again (the gateway forgets it; the server decides what it allows).
      const again = await post(url, token, call(5), session)
      expect(again.status).toBe(200)
      expect(await again.text()).toContain('called')
    } finally {
      await ada.client.close()
    }
  })

  it('filters the list answers a stream resumed with Last-Event-ID replays', async () => {
    const url = serve.routes['/mcp']!
    const ada = await connectAs(url, ADA)
    try {
      // An answer's event id: where the server's event store resumes from.
      const ping = await postInSession(url, ada, { jsonrpc: '2.0', id: 900, method: 'ping' })
      const lastEventId = [...(await ping.text()).matchAll(/^id: ?(.+)$/gm)].at(-1)?.[1]
      expect(lastEventId).toBeDefined()
      const listed = await postInSession(url, ada, {
        jsonrpc: '2.0',
        id: 901,
        method: 'tools/list',
      })
      expect(JSON.stringify(await messagesOf(listed))).not.toContain('get-env')

      const resumed = await fetch(url, {
        headers: {
          authorization: `Bearer ${ada.provider.saved!.access_token}`,
          accept: 'text/event-stream',
          'mcp-session-id': ada.transport.sessionId!,
          'mcp-protocol-version': '2025-06-18',
          'last-event-id': lastEventId!,
        },
      })
      expect(resumed.status).toBe(200)
      // Read until the replayed tools/list answer has come (the stream itself stays open).
      const reader = resumed.body!.getReader()
      const decoder = new TextDecoder()
      let text = ''
      const replayed = () =>
        eventData(text)
          .map(
            (data) => JSON.parse(data) as { id?: unknown; result?: { tools?: { name: string }[] } },
          )
          .find((m) => m.id === 901)
      const until = Date.now() + 10_000
      while (replayed() === undefined && Date.now() < until) {
        const { done, value } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      await reader.cancel().catch(() => undefined)
      const names = replayed()?.result?.tools?.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).not.toContain('get-env')
    } finally {
      await ada.client.close()
    }
  })

  it('applies the prompt and resource rules to completion/complete, and refuses one naming nothing', async () => {
    const guarded = serve.routes['/mcp']!
    const open = serve.routes['/open']!
    const [ada, adaOpen] = [await connectAs(guarded, ADA), await connectAs(open, ADA)]
    try {
      const prompt = {
        jsonrpc: '2.0',
        id: 2,
        method: 'completion/complete',
        params: {
          ref: { type: 'ref/prompt', name: 'completable-prompt' },
          argument: { name: 'name', value: '' },
          context: { arguments: { department: 'Engineering' } },
        },
      }
      const template = {
        jsonrpc: '2.0',
        id: 3,
        method: 'completion/complete',
        params: {
          ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
          argument: { name: 'resourceId', value: '' },
        },
      }
      // Where no rule applies, the server completes the prompt's argument.
      const allowed = await messagesOf(await postInSession(open, adaOpen, prompt))
      expect(JSON.stringify(allowed)).toContain('Alice')
      // Where the prompt or the template is denied, so is completing it.
      for (const request of [prompt, template]) {
        const [denied] = await messagesOf(await postInSession(guarded, ada, request))
        expect((denied as { error?: { code: number } }).error?.code).toBe(-32003)
        expect(JSON.stringify(denied)).not.toContain('Alice')
      }
      // A ref that names no prompt or template, or names one with a Go-folded twin member.
      const nothing = await postInSession(guarded, ada, {
        ...prompt,
        params: { ...prompt.params, ref: { type: 'ref/prompt' } },
      })
      expect(nothing.status).toBe(400)
      expect(((await nothing.json()) as { error: { code: number } }).error.code).toBe(-32602)
      const folded = await post(
        guarded,
        ada.provider.saved!.access_token,
        '{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"simple-prompt","Name":"completable-prompt"},"argument":{"name":"name","value":""}}}',
        { 'mcp-session-id': ada.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      )
      expect(folded.status).toBe(400)
      expect(((await folded.json()) as { error: { code: number } }).error.code).toBe(-32600)
    } finally {
      await ada.client.close()
      await adaOpen.client.close()
    }
  })

  it('takes only UTF-8 JSON (415 for any other charset) and tells the server it is exactly that', async () => {
    const url = serve.routes['/rec']!
    const rec = await connectAs(url, ADA)
    try {
      const token = rec.provider.saved!.access_token
      const session = {
        'mcp-session-id': rec.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }
      // UTF-7: to a server that decodes by the stated charset, `+ACI-` is a quote, and this body
      // names another tool than the one the gateway read.
      const smuggled =
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"noop","arguments":{},"x":"+ACI-,+ACI-name+ACI-:+ACI-get-env"}}'
      for (const type of [
        'application/json; charset=utf-7',
        'application/json; charset=utf-8; charset=utf-7',
        'text/plain',
        'application/json; boundary=x',
      ]) {
        const refused = await post(url, token, smuggled, { ...session, 'content-type': type })
        expect(refused.status).toBe(415)
        expect(((await refused.json()) as { error: { code: number } }).error.code).toBe(-32600)
      }
      // Every body that reached the server was stated as plain JSON: none of these did.
      const stated = recorder.seen.map((h) => h['content-type']).filter((t) => t !== undefined)
      expect(stated.filter((t) => t !== 'application/json')).toEqual([])
      // UTF-8 spelled any way passes, and reaches the server as plain `application/json`.
      const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'noop' } }
      for (const type of ['application/json; charset="UTF-8"', 'Application/JSON;charset=utf-8']) {
        const sent = await post(url, token, call, { ...session, 'content-type': type })
        expect(sent.status).toBe(200)
        expect(recorder.seen.at(-1)?.['content-type']).toBe('application/json')
      }
    } finally {
      await rec.client.close()
    }
  })
})
