/**
 * MCP 2026-07-28 clients through an HTTP route: no sessions, no `initialize`, the version and
 * `Mcp-Method` on every request, and change notifications on the stream of a
 * `subscriptions/listen` request in place of the `GET` stream. The client is the MCP TypeScript
 * SDK 2.x (`@modelcontextprotocol/client`) pinned to 2026-07-28; the server is built with the SDK
 * 2.x's own 2026-07-28 handler (`createMcpHandler`, answers as event streams). A listen stream
 * outlives `timeoutSeconds` and holds no `maxInFlight` slot; the resources it subscribes to pass
 * policy as `resources/subscribe` does; a list filtered per caller is marked private to its
 * caller; a call past its deadline is cancelled by closing its stream, as the revision says.
 * Stdio routes, whose servers speak 2025, are in gateway-translate.test.ts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { post } from '../helpers/gateway.js'
import {
  MODERN,
  modernClient as signIn,
  modernPost as rawModern,
} from '../helpers/modern-client.js'

const ADA = { username: 'ada', password: 'lovelace' }

let serve: RunningServe
let upstream: Server
let handler: ReturnType<typeof createMcpHandler>
/** What reached the server: each POST's `Mcp-Method` header and body. */
const seen: { method: string | null; body: string }[] = []
/** Calls of the `wait` tool whose cancellation reached the server. */
const aborted: string[] = []

function modernServer(): McpServer {
  const server = new McpServer(
    { name: 'modern', version: '1.0.0' },
    // The server says its tool list may be shared between users; the gateway filters it per user.
    { cacheHints: { 'tools/list': { ttlMs: 60_000, cacheScope: 'public' } } },
  )
  server.registerTool(
    'echo',
    { description: 'echoes', inputSchema: z.object({ message: z.string() }) },
    ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  )
  server.registerTool('purge', { description: 'needs mcp:admin at the gateway' }, () => ({
    content: [{ type: 'text', text: 'purged' }],
  }))
  server.registerTool('wait', { description: 'waits until it is cancelled' }, async (ctx) => {
    await new Promise<void>((done) => {
      const timer = setTimeout(done, 10_000)
      ctx.mcpReq.signal.addEventListener('abort', () => {
        aborted.push(String(ctx.mcpReq.id))
        clearTimeout(timer)
        done()
      })
    })
    return { content: [{ type: 'text', text: 'waited' }] }
  })
  for (const uri of ['file:///public/readme', 'file:///secret/keys', 'file:///hr/salaries']) {
    server.registerResource(uri, uri, {}, () => ({ contents: [{ uri, text: 'contents' }] }))
  }
  return server
}

beforeAll(async () => {
  handler = createMcpHandler(() => modernServer(), { legacy: 'reject', responseMode: 'sse' })
  upstream = createServer(
    toNodeHandler(async (request) => {
      seen.push({ method: request.headers.get('mcp-method'), body: await request.clone().text() })
      return handler.fetch(request)
    }),
  )
  await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done))
  const url = `http://127.0.0.1:${String((upstream.address() as AddressInfo).port)}/mcp`
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          {
            path: '/few',
            upstream: { kind: 'http', url, maxStreamsPerCaller: 2 },
          },
          {
            path: '/modern',
            upstream: { kind: 'http', url, timeoutSeconds: 2, maxInFlight: 1 },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            tools: { purge: { scopes: ['mcp:admin'] } },
            resources: {
              'file:///secret/*': { scopes: ['mcp:admin'] },
              'file:///hr/*': { subjects: ['nobody'] },
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await handler.close()
  upstream.close()
})

/** A 2.x client pinned to 2026-07-28, signed in through the gateway (and its token). */
const modernClient = (path = '/modern') => signIn(serve.routes[path]!, ADA)

/** A raw 2026-07-28 request, as SDK clients send it. */
const modernPost = (
  token: string,
  id: number,
  method: string,
  params: Record<string, unknown>,
  path = '/modern',
  signal?: AbortSignal,
) => rawModern(serve.routes[path]!, token, { id, method, params, ...(signal ? { signal } : {}) })

describe('MCP 2026-07-28 clients through the gateway', () => {
  it('negotiates 2026-07-28, and lists and calls tools under policy, the list private to it', async () => {
    const { client } = await modernClient()
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN)
      const tools = (await client.listTools()) as { tools: { name: string }[]; cacheScope?: string }
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['echo', 'wait'])
      // Filtered for this caller: no shared cache may hand it to another user.
      expect(tools.cacheScope).toBe('private')
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'modern' } })
      expect(JSON.stringify(echo.content)).toContain('modern')
      expect(seen.map((s) => s.method)).toContain('tools/call')
      expect(seen.some((s) => s.body.includes('"method":"initialize"'))).toBe(false)
    } finally {
      await client.close()
    }
  }, 30_000)

  it('keeps a listen stream open past timeoutSeconds, without holding a maxInFlight slot', async () => {
    const { client } = await modernClient()
    try {
      let told: () => void = () => undefined
      const changed = new Promise<void>((done) => (told = done))
      client.setNotificationHandler('notifications/tools/list_changed', () => {
        told()
      })
      const subscription = await client.listen({ toolsListChanged: true })
      // maxInFlight is 1 and the listen stream is open: calls are still served.
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'meanwhile' } })
      expect(JSON.stringify(echo.content)).toContain('meanwhile')
      // Past the route's 2 s deadline, the stream still carries the server's notifications.
      await new Promise((done) => setTimeout(done, 2500))
      handler.notify.toolsChanged()
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<'late'>((done) => {
        timer = setTimeout(() => {
          done('late')
        }, 3000)
      })
      expect(await Promise.race([changed.then(() => 'told' as const), late])).toBe('told')
      clearTimeout(timer)
      await subscription.close()
    } finally {
      await client.close()
    }
  }, 30_000)

  it('checks the resources a listen stream subscribes to, as it checks resources/subscribe', async () => {
    const { client, token } = await modernClient()
    await client.close()
    const listen = (id: number, uris: unknown) =>
      modernPost(token, id, 'subscriptions/listen', {
        notifications: { resourceSubscriptions: uris },
      })
    // A resource more scope would open: the step-up challenge adds that scope to the caller's
    // (SEP-2350 accumulation).
    const secret = await listen(1, ['file:///public/readme', 'file:///secret/keys'])
    expect(secret.status).toBe(403)
    expect(secret.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*scope="mcp:read mcp:admin"/,
    )
    // A resource no scope opens: a JSON-RPC error, the stream never opens.
    const hr = await listen(2, ['file:///hr/salaries'])
    expect(await hr.json()).toMatchObject({ id: 2, error: { code: -32003 } })
    // 2026-07-28 has no batches: a listen in one would slip the rules that read one message.
    const batch = await post(
      serve.routes['/modern']!,
      token,
      [
        { jsonrpc: '2.0', id: 6, method: 'tools/list' },
        { jsonrpc: '2.0', id: 7, method: 'subscriptions/listen', params: { notifications: {} } },
      ],
      { 'mcp-protocol-version': MODERN },
    )
    expect(batch.status).toBe(400)
    expect(await batch.json()).toMatchObject({ error: { code: -32600 } })
    expect(seen.some((s) => s.body.startsWith('[') && s.body.includes('"id":7'))).toBe(false)
    // URIs that are not strings are refused before policy and the server see them.
    const malformed = await listen(3, [['file:///secret/keys']])
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ id: 3, error: { code: -32602 } })
    // A second spelling of the list, which a server matching names without case would read.
    const twice = await post(
      serve.routes['/modern']!,
      token,
      '{"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{"notifications":' +
        '{"resourceSubscriptions":["file:///public/readme"],' +
        '"ResourceSubscriptions":["file:///secret/keys"]}}}',
      { 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
    )
    expect(twice.status).toBe(400)
    expect(await twice.json()).toMatchObject({ error: { code: -32600 } })
    expect(seen.some((s) => s.body.includes('file:///secret/keys'))).toBe(false)
    // One the caller may read: the server acknowledges the subscription on the stream.
    const leaving = new AbortController()
    const readme = await post(
      serve.routes['/modern']!,
      token,
      {
        jsonrpc: '2.0',
        id: 4,
        method: 'subscriptions/listen',
        params: {
          notifications: { resourceSubscriptions: ['file:///public/readme'] },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
      leaving.signal,
    )
    expect(readme.status).toBe(200)
    const reader = readme.body!.getReader()
    let text = ''
    while (!text.includes('notifications/subscriptions/acknowledged')) {
      text += new TextDecoder().decode((await reader.read()).value)
    }
    leaving.abort()
  }, 30_000)

  it('cancels a call past its deadline by closing its stream, with no notifications/cancelled', async () => {
    const { client } = await modernClient()
    try {
      const before = seen.length
      const started = Date.now()
      const late = await client.callTool({ name: 'wait', arguments: {} }).catch((e: unknown) => e)
      expect(String(late)).toContain('the MCP server did not answer in time')
      expect(Date.now() - started).toBeLessThan(4000)
      // The server saw its client leave: that is the cancellation from 2026-07-28 on.
      await expect.poll(() => aborted.length, { timeout: 3000 }).toBe(1)
      await new Promise((done) => setTimeout(done, 300))
      const after = seen.slice(before).map((s) => s.body)
      expect(after.some((b) => b.includes('notifications/cancelled'))).toBe(false)
    } finally {
      await client.close()
    }
  }, 30_000)

  it('caps the listen streams one caller keeps open (maxStreamsPerCaller)', async () => {
    const { client, token } = await modernClient('/few')
    await client.close()
    const filter = { notifications: { toolsListChanged: true } }
    const leaving = [new AbortController(), new AbortController()]
    const listen = (id: number, signal?: AbortSignal) =>
      modernPost(token, id, 'subscriptions/listen', filter, '/few', signal)
    try {
      for (const [i, controller] of leaving.entries()) {
        expect((await listen(i, controller.signal)).status).toBe(200)
      }
      const third = await listen(3)
      expect(third.status).toBe(429)
      expect(third.headers.get('retry-after')).toBe('5')
      expect(await third.json()).toMatchObject({ id: 3, error: { code: -32029 } })
      // A plain GET stream is one too; a resume (Last-Event-ID) may go past the cap, as it takes
      // over a stream that may still look open (this server offers no GET stream: 405).
      const get = (headers: Record<string, string> = {}) =>
        fetch(serve.routes['/few']!, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
        })
      expect((await get()).status).toBe(429)
      expect((await get({ 'last-event-id': 'any' })).status).toBe(405)
      // Calls are not streams: they are served while the caller holds its two.
      const call = await modernPost(token, 4, 'tools/list', {}, '/few')
      expect(call.status).toBe(200)
      await call.body?.cancel()
      // One closed by its client: the caller may open another.
      leaving[0]!.abort()
      let again: Response | undefined
      await expect
        .poll(
          async () => {
            await again?.body?.cancel()
            again = await listen(5)
            return again.status
          },
          { timeout: 3000 },
        )
        .toBe(200)
      await again?.body?.cancel()
    } finally {
      for (const controller of leaving) controller.abort()
    }
  }, 30_000)

  // Last: it leaves the gateway draining.
  it('does not let an open listen stream hold up a drain, and refuses new ones while draining', async () => {
    const { client, token } = await modernClient()
    try {
      await client.listen({ toolsListChanged: true })
      const started = Date.now()
      // drainSeconds is 30: a drain that waited for the listen stream would take that long.
      await serve.gateway.drain()
      expect(Date.now() - started).toBeLessThan(2000)
      const refused = await modernPost(token, 9, 'subscriptions/listen', {
        notifications: { toolsListChanged: true },
      })
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBe('5')
    } finally {
      await client.close()
    }
  }, 60_000)
})
