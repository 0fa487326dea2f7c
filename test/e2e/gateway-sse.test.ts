/**
 * `gatehouse serve` in front of a legacy HTTP+SSE server (MCP 2024-11-05):
 * `@modelcontextprotocol/server-everything` on its own `sse` transport. The official SDK client
 * speaks Streamable HTTP to the gateway; the gateway opens one upstream event stream per session.
 * Tools, progress, resources and prompts pass; policy filters `tools/list`; sessions stay their
 * owner's; a call the server does not answer in time becomes a JSON-RPC error, and its late answer
 * and progress never reach a later call that reuses its id and progress token.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { OAuthError } from '../../src/errors.js'
import { createSSEUpstream } from '../../src/gateway/sse-upstream.js'
import type { UpstreamCall } from '../../src/gateway/upstream.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { connectAs, post, postInSession, startEverythingSSE } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }

const KEY = 'sse-gateway-key-0123456789'

let everything: Awaited<ReturnType<typeof startEverythingSSE>>
let serve: RunningServe
let recorder: Server
const seen: { method: string; headers: IncomingHttpHeaders }[] = []

/** A legacy SSE server made with the SDK (its SSEServerTransport) that records request headers. */
async function startSSERecorder(): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const transports = new Map<string, SSEServerTransport>()
  recorder = createServer((req, res) => {
    seen.push({ method: req.method ?? '', headers: req.headers })
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (req.method === 'GET' && url.pathname === '/sse') {
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      const transport = new SSEServerTransport('/message', res)
      transports.set(transport.sessionId, transport)
      const server = new McpServer({ name: 'sse-recorder', version: '1' })
      server.registerTool('noop', { description: 'does nothing' }, () => ({
        content: [{ type: 'text', text: 'ok' }],
      }))
      void server.connect(transport)
      return
    }
    const transport = transports.get(url.searchParams.get('sessionId') ?? '')
    if (req.method === 'POST' && url.pathname === '/message' && transport) {
      void transport.handlePostMessage(req, res)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((done) => recorder.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/sse`
}

let lateServer: Server
/**
 * What the late answerer saw: its `tools/call` ids, the cancellations it ignored, and the progress
 * tokens it reported progress under.
 */
const late = {
  callIDs: [] as unknown[],
  cancelled: [] as unknown[],
  progressTokens: [] as unknown[],
  /** Called when the `second` call arrives: the `first` one answers then. */
  secondArrived: (): void => undefined,
}

/**
 * A legacy SSE server (the SDK's) whose `wait` tool answers whatever happens: it never sees a
 * cancellation (they are recorded and dropped before the SDK would act on one), as a server whose
 * answer was already on its way would not. The call labelled `first` reports progress and answers
 * 0.1 s after the call labelled `second` arrives; `second` answers after 1 s.
 */
async function startLateAnswerer(): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const transports = new Map<string, SSEServerTransport>()
  lateServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (req.method === 'GET' && url.pathname === '/sse') {
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      const transport = new SSEServerTransport('/message', res)
      transports.set(transport.sessionId, transport)
      const server = new McpServer({ name: 'late answerer', version: '1' })
      server.registerTool(
        'wait',
        { description: 'answers late', inputSchema: { label: z.string() } },
        async ({ label }, extra) => {
          if (label === 'first') {
            await new Promise<void>((arrived) => (late.secondArrived = arrived))
            await new Promise((done) => setTimeout(done, 100))
            const progressToken = extra._meta?.progressToken
            if (progressToken !== undefined) {
              late.progressTokens.push(progressToken)
              await extra.sendNotification({
                method: 'notifications/progress',
                params: { progressToken, progress: 1, total: 1 },
              })
            }
          } else {
            late.secondArrived()
            await new Promise((done) => setTimeout(done, 1000))
          }
          return { content: [{ type: 'text', text: `answer to ${label}` }] }
        },
      )
      void server.connect(transport)
      return
    }
    const transport = transports.get(url.searchParams.get('sessionId') ?? '')
    if (req.method !== 'POST' || url.pathname !== '/message' || !transport) {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const message = JSON.parse(Buffer.concat(chunks).toString()) as {
        id?: unknown
        method?: string
        params?: { requestId?: unknown }
      }
      if (message.method === 'tools/call') late.callIDs.push(message.id)
      if (message.method === 'notifications/cancelled') {
        late.cancelled.push(message.params?.requestId)
        res.writeHead(202).end('Accepted')
        return
      }
      void transport.handlePostMessage(req, res, message)
    })
  })
  await new Promise<void>((done) => lateServer.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(lateServer.address() as AddressInfo).port}/sse`
}

beforeAll(async () => {
  everything = await startEverythingSSE()
  const recorderUrl = await startSSERecorder()
  const lateUrl = await startLateAnswerer()
  serve = await startServe({
    port: 0,
    store: 'memory',
    env: { SSE_KEY: KEY },
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password },
        { user: BOB.username, password: BOB.password },
      ],
    },
    config: {
      gateway: {
        routes: [
          {
            path: '/legacy',
            upstream: { kind: 'sse', url: everything.url },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            tools: { 'get-sum': { scopes: ['mcp:admin'] } },
          },
          { path: '/slow', upstream: { kind: 'sse', url: everything.url, timeoutSeconds: 1 } },
          {
            path: '/rec',
            upstream: {
              kind: 'sse',
              url: recorderUrl,
              credential: { kind: 'header', name: 'X-Api-Key', valueFromEnv: 'SSE_KEY' },
              identityHeaders: {},
            },
          },
          { path: '/late', upstream: { kind: 'sse', url: lateUrl, timeoutSeconds: 3 } },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
  recorder.closeAllConnections()
  await new Promise((done) => recorder.close(done))
  lateServer.closeAllConnections()
  await new Promise((done) => lateServer.close(done))
})

describe('gatehouse serve → server-everything over legacy HTTP+SSE', () => {
  it('passes tools, progress, resources and prompts through; tools/list is filtered', async () => {
    const { client } = await connectAs(serve.routes['/legacy']!, ADA)
    try {
      expect(client.getServerVersion()?.name).toBeTruthy()
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).not.toContain('get-sum')
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'over sse' } })
      expect(JSON.stringify(echo.content)).toContain('over sse')
      const progress: number[] = []
      const long = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      )
      expect(long.isError).toBeFalsy()
      expect(progress).toEqual([1, 2, 3])
      const resources = await client.listResources()
      const first = resources.resources[0]!
      expect((await client.readResource({ uri: first.uri })).contents[0]!.uri).toBe(first.uri)
      const prompt = await client.getPrompt({ name: 'simple-prompt' })
      expect(prompt.messages.length).toBeGreaterThan(0)
      await client.ping()
    } finally {
      await client.close()
    }
  }, 60_000)

  it("keeps each session its owner's: another user with the session id gets 404", async () => {
    const ada = await connectAs(serve.routes['/legacy']!, ADA)
    const bob = await connectAs(serve.routes['/legacy']!, BOB)
    try {
      const res = await post(
        serve.routes['/legacy']!,
        bob.provider.saved!.access_token,
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { 'mcp-session-id': ada.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      )
      expect(res.status).toBe(404)
      // Both sessions still work, each on its own upstream stream.
      expect((await ada.client.listTools()).tools.length).toBeGreaterThan(0)
      expect((await bob.client.listTools()).tools.length).toBeGreaterThan(0)
      expect(ada.transport.sessionId).not.toBe(bob.transport.sessionId)
    } finally {
      await ada.client.close()
      await bob.client.close()
    }
  }, 60_000)

  it('answers a call the server does not answer in time with a JSON-RPC error and keeps serving', async () => {
    const { client } = await connectAs(serve.routes['/slow']!, ADA)
    try {
      const started = Date.now()
      const late = await client
        .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 1 } })
        .catch((e: unknown) => e)
      expect(late).toBeInstanceOf(McpError)
      expect((late as McpError).message).toContain('did not answer in time')
      expect(Date.now() - started).toBeLessThan(2500)
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'after' } })
      expect(JSON.stringify(echo.content)).toContain('after')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('never gives the late answer or progress of a call it gave up on to a later call with the same id and token', async () => {
    const url = serve.routes['/late']!
    const connected = await connectAs(url, ADA)
    const wait = (label: string) =>
      postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 'same',
        method: 'tools/call',
        params: { name: 'wait', arguments: { label }, _meta: { progressToken: 'same' } },
      }).then((res) => res.text())
    try {
      // The gateway gives up on the first call at 3 s. The server reports progress for it and
      // answers it only once the second call (same client id and progress token) waits.
      expect(await wait('first')).toContain('the MCP server did not answer in time')
      const second = await wait('second')
      expect(second).toContain('answer to second')
      expect(second).not.toContain('answer to first')
      expect(second).not.toContain('notifications/progress')
      // The server knew the two calls under two ids of the session's, was told of the first
      // one's cancellation under its own, and reported the first one's progress under that id.
      expect(late.callIDs).toHaveLength(2)
      expect(new Set(late.callIDs).size).toBe(2)
      expect(late.callIDs).not.toContain('same')
      expect(late.cancelled).toEqual([late.callIDs[0]])
      expect(late.progressTokens).toEqual([late.callIDs[0]])
    } finally {
      await connected.client.close()
    }
  }, 60_000)

  it('never gives the late answer of a call the client cancelled to a later call with the same id', async () => {
    const url = serve.routes['/late']!
    const connected = await connectAs(url, ADA)
    const wait = (label: string) =>
      postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 'again',
        method: 'tools/call',
        params: { name: 'wait', arguments: { label } },
      })
    try {
      const before = late.callIDs.length
      const first = wait('first')
      await new Promise((done) => setTimeout(done, 300))
      const cancel = {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 'again' },
      }
      expect((await postInSession(url, connected, cancel)).status).toBe(202)
      expect(await (await first).text()).toBe('')
      // The server ignores the cancellation and answers the first call once the second waits.
      const second = await (await wait('second')).text()
      expect(second).toContain('answer to second')
      expect(second).not.toContain('answer to first')
      expect(late.cancelled.at(-1)).toBe(late.callIDs[before])
    } finally {
      await connected.client.close()
    }
  }, 60_000)

  it("sends the route's credential and identity headers on the stream and every message, never the client's token", async () => {
    const { client, provider } = await connectAs(serve.routes['/rec']!, ADA)
    try {
      const result = await client.callTool({ name: 'noop', arguments: {} })
      expect(JSON.stringify(result.content)).toContain('ok')
      const token = provider.saved!.access_token
      expect(seen.map((r) => r.method)).toContain('GET')
      expect(seen.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(3)
      for (const { headers } of seen) {
        expect(headers['x-api-key']).toBe(KEY)
        expect(headers['x-gatehouse-subject']).toBe('ada')
        expect(headers.authorization).toBeUndefined()
        expect(JSON.stringify(headers)).not.toContain(token)
      }
    } finally {
      await client.close()
    }
  }, 60_000)

  it("carries the caller's traceparent on the upstream stream and messages: same trace, a new span id", async () => {
    const { client, provider } = await connectAs(serve.routes['/rec']!, BOB)
    await client.close()
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const before = seen.length
    const res = await post(
      serve.routes['/rec']!,
      provider.saved!.access_token,
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'trace', version: '1' },
        },
      },
      { traceparent: incoming },
    )
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('sse-recorder')
    // Only this request's upstream traffic: a late request of the session closed above (its own
    // trace) may be recorded after `before`.
    const sent = seen
      .slice(before)
      .map((r) => [r.method, r.headers.traceparent])
      .filter(([, traceparent]) => traceparent?.includes('4bf92f3577b34da6a3ce929d0e0e4736'))
    expect(sent.map(([m]) => m)).toEqual(['GET', 'POST'])
    for (const [, traceparent] of sent) {
      expect(traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
      expect(traceparent).not.toBe(incoming)
    }
  }, 60_000)

  describe('the upstream itself (what the route gives it: a call with opened/ended)', () => {
    const token = {
      token: 't',
      clientId: 'c',
      scopes: [],
      subject: 'ada',
      claims: {},
    } as AccessToken
    const accept = 'application/json, text/event-stream'
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    }
    const record = { opened: [] as string[], ended: [] as string[] }
    const call = (
      body: unknown,
      headers: Record<string, string> = {},
      sessionId?: string,
    ): UpstreamCall => {
      const bytes = new TextEncoder().encode(JSON.stringify(body))
      return {
        request: new Request('http://127.0.0.1/x', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept,
            'mcp-protocol-version': '2025-06-18',
            ...(sessionId !== undefined ? { 'mcp-session-id': sessionId } : {}),
            ...headers,
          },
          body: bytes,
        }),
        token,
        body: bytes,
        messages: [body as never],
        ...(sessionId !== undefined ? { sessionId } : {}),
        opened: (id) => (record.opened.push(id), Promise.resolve(true)),
        ended: (id) => (record.ended.push(id), Promise.resolve()),
      }
    }

    /** The legacy SSE upstream in front of the recorder, with the options a test varies. */
    const upstreamOf = (
      options: Partial<Parameters<typeof createSSEUpstream>[0]> &
        Pick<Parameters<typeof createSSEUpstream>[0], 'credential'>,
    ) =>
      createSSEUpstream({
        url: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/sse`,
        timeoutMs: 5000,
        idleSeconds: 60,
        maxSessions: 10,
        ...options,
      })

    it('forgets the binding of a session the idle sweep ends; a failed initialize does not keep a slot', async () => {
      const upstream = upstreamOf({
        idleSeconds: 1,
        maxSessions: 1,
        credential: () => [],
      })
      try {
        // Refused (no text/event-stream in Accept) before any session is opened.
        const refused = await upstream.handle(call(init, { accept: 'application/json' }))
        expect(refused.status).toBe(406)
        const ok = await upstream.handle(call(init))
        expect(ok.status).toBe(200)
        const id = ok.headers.get('mcp-session-id')!
        expect(record.opened).toEqual([id])
        for (let i = 0; i < 40 && record.ended.length === 0; i++) {
          await new Promise((done) => setTimeout(done, 100))
        }
        expect(record.ended).toEqual([id])
      } finally {
        await upstream.close()
      }
    }, 30_000)

    it('opens no session when its owner cannot be recorded, and forgets no binding it does not own', async () => {
      const upstream = upstreamOf({ maxSessions: 1, credential: () => [] })
      const endedBefore = record.ended.length
      try {
        const failing = { ...call(init), opened: () => Promise.reject(new Error('store down')) }
        await expect(upstream.handle(failing)).rejects.toThrow('store down')
        const another = { ...call(init), opened: () => Promise.resolve(false) }
        expect((await upstream.handle(another)).status).toBe(500)
        // Neither took the one slot, and neither removed a binding.
        expect(record.ended.length).toBe(endedBefore)
        const ok = await upstream.handle(call(init))
        expect(ok.status).toBe(200)
      } finally {
        await upstream.close()
      }
    }, 30_000)

    it("gets the caller's credential once per client message, and that message's POST carries it", async () => {
      let calls = 0
      const upstream = upstreamOf({
        // Each credential it gives is told apart by a header the recorder sees.
        credential: () => [['x-credential', `fetch-${String(++calls)}`]],
      })
      try {
        const ok = await upstream.handle(call(init))
        expect(await ok.text()).toContain('sse-recorder')
        // The initialize's credential, then the upstream stream's own.
        expect(calls).toBe(2)
        const methodsOf = (credential: string) =>
          seen.filter((r) => r.headers['x-credential'] === credential).map((r) => r.method)
        expect(methodsOf('fetch-1')).toEqual(['POST'])
        expect(methodsOf('fetch-2')).toEqual(['GET'])
        const id = ok.headers.get('mcp-session-id')!
        const listed = await upstream.handle(
          call({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, {}, id),
        )
        expect(await listed.text()).toContain('noop')
        expect(calls).toBe(3)
        expect(methodsOf('fetch-3')).toEqual(['POST'])
      } finally {
        await upstream.close()
      }
    }, 30_000)

    it('answers 502 to an initialize whose credential cannot be had, audited once', async () => {
      const failures: unknown[] = []
      const upstream = upstreamOf({
        credential: () => {
          throw new Error('the secret store is down')
        },
        onCredentialFailure: (_t, error) => failures.push(error),
      })
      try {
        const refused = await upstream.handle(call(init))
        expect(refused.status).toBe(502)
        expect(JSON.stringify(await refused.json())).toContain('the MCP server is unavailable')
        expect(failures).toHaveLength(1)
      } finally {
        await upstream.close()
      }
    }, 30_000)

    it('audits a credential that fails mid-session and lets the route answer 401 invalid_token', async () => {
      let fail = false
      const failures: unknown[] = []
      const upstream = upstreamOf({
        credential: () => {
          if (fail)
            throw new OAuthError('invalid_token', 'the grant was revoked', {
              reason: 'grant_revoked',
            })
          return [['x-api-key', KEY]]
        },
        onCredentialFailure: (_t, error) => failures.push(error),
      })
      try {
        const ok = await upstream.handle(call(init))
        expect(ok.status).toBe(200)
        const id = ok.headers.get('mcp-session-id')!
        fail = true
        const refused = await upstream
          .handle(call({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, {}, id))
          .catch((e: unknown) => e)
        expect(refused).toBeInstanceOf(OAuthError)
        expect((refused as OAuthError).code).toBe('invalid_token')
        expect(failures.length).toBeGreaterThanOrEqual(1)
        expect((failures[0] as OAuthError).reason).toBe('grant_revoked')
      } finally {
        await upstream.close()
      }
    }, 30_000)
  })
})
