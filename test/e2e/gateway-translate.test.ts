/**
 * MCP 2026-07-28 clients in front of stdio servers that speak only the 2025 protocol: the gateway
 * translates (`modernClients: translate`, the default). The client is the MCP TypeScript SDK 2.x
 * pinned to 2026-07-28 (no `initialize`, no session); the server is
 * `@modelcontextprotocol/server-everything` from the registry (MCP SDK 1.x, stdio), shared between
 * users and one per user. Its questions for the client (sampling, elicitation) come back to the
 * client as `input_required` answers and its answers go back on the retry; its progress streams;
 * lists get the cache hints that revision requires, and policy still filters them. List changes
 * reach `subscriptions/listen` streams (a small MCP SDK 1.x server that adds a tool when asked:
 * server-everything never changes its lists). Bad input: a version the gateway does not speak,
 * a header that differs from the body, another user's `requestState`, a route set to `refuse`.
 */
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { connectAs, serveRoutes, serverEntry } from '../helpers/gateway.js'
import {
  MODERN,
  modernClient as signIn,
  modernPost as rawModern,
  type ModernRequest,
} from '../helpers/modern-client.js'

const require = createRequire(import.meta.url)
const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }
const everything = {
  kind: 'stdio' as const,
  command: process.execPath,
  args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
}
/**
 * A small 2025-only stdio server (MCP SDK 1.x) for what server-everything does not do: `grow` adds
 * a tool (its list changes), `wait` runs until cancelled and `cancelled` says which calls were,
 * `ask` asks the client a question and tells what came back, `log` sends a log message, `touch`
 * updates a resource (`note://a` unless told) and `subscriptions` says which (un)subscriptions
 * reached it.
 */
const SMALL = `
const { McpServer } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'))})
const { StdioServerTransport } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/server/stdio.js'))})
const { z } = require(${JSON.stringify(require.resolve('zod'))})
const { SubscribeRequestSchema, UnsubscribeRequestSchema } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/types.js'))})
const server = new McpServer({ name: 'small', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { subscribe: true }, logging: {} } })
let n = 0
const cancelled = []
server.registerTool('grow', { description: 'adds a tool' }, async () => {
  n++
  server.registerTool('grown-' + n, { description: 'grown' }, async () => ({ content: [] }))
  return { content: [{ type: 'text', text: 'grew ' + n }] }
})
server.registerTool('wait', { description: 'waits until cancelled' }, (extra) => new Promise((done) => {
  const timer = setTimeout(() => done({ content: [{ type: 'text', text: 'waited' }] }), 1500)
  extra.signal.addEventListener('abort', () => { clearTimeout(timer); cancelled.push(String(extra.requestId)); done({ content: [] }) })
}))
server.registerTool('cancelled', { description: 'the cancelled calls' }, async () => ({ content: [{ type: 'text', text: JSON.stringify(cancelled) }] }))
server.registerTool('ask', { description: 'asks the client' }, async () => {
  try {
    const answer = await server.server.elicitInput({ message: 'name?', requestedSchema: { type: 'object', properties: {} } })
    return { content: [{ type: 'text', text: 'answered ' + answer.action }] }
  } catch (error) {
    return { content: [{ type: 'text', text: 'failed: ' + error.message }] }
  }
})
const subscriptions = []
server.registerResource('note', 'note://a', {}, async () => ({ contents: [{ uri: 'note://a', text: 'a' }] }))
server.server.setRequestHandler(SubscribeRequestSchema, async (r) => { subscriptions.push('+' + r.params.uri); return {} })
server.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => { subscriptions.push('-' + r.params.uri); return {} })
server.registerTool('touch', { description: 'updates a resource', inputSchema: { uri: z.string().optional() } }, async ({ uri }) => {
  await server.server.sendResourceUpdated({ uri: uri || 'note://a' })
  return { content: [{ type: 'text', text: 'touched' }] }
})
server.registerTool('subscriptions', { description: 'subscribe and unsubscribe calls' }, async () => ({ content: [{ type: 'text', text: JSON.stringify(subscriptions) }] }))
server.registerTool('ask-slowly', { description: 'asks, reporting progress while it waits' }, async (extra) => {
  let n = 0
  const ticking = setInterval(() => {
    const progressToken = extra._meta && extra._meta.progressToken
    if (progressToken !== undefined) extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: ++n } })
  }, 200)
  try {
    const answer = await server.server.elicitInput({ message: 'name?', requestedSchema: { type: 'object', properties: {} } })
    return { content: [{ type: 'text', text: 'answered ' + answer.action }] }
  } catch (error) {
    return { content: [{ type: 'text', text: 'failed: ' + error.message }] }
  } finally {
    clearInterval(ticking)
  }
})
const peeked = []
server.registerTool('peek', { description: 'asks for roots without waiting, answers soon after' }, async () => {
  server.server.listRoots().then(() => peeked.push('answered'), (error) => peeked.push('refused: ' + error.message))
  await new Promise((done) => setTimeout(done, 100))
  return { content: [{ type: 'text', text: 'the real answer' }] }
})
server.registerTool('peeked', { description: 'what came of the roots questions' }, async () => ({ content: [{ type: 'text', text: JSON.stringify(peeked) }] }))
server.registerTool('die', { description: 'exits' }, async () => process.exit(3))
server.registerTool('log', { description: 'logs to whoever listens' }, async () => {
  await server.sendLoggingMessage({ level: 'info', data: 'a log line' })
  return { content: [{ type: 'text', text: 'logged' }] }
})
server.connect(new StdioServerTransport())
`

let serve: RunningServe

beforeAll(async () => {
  serve = await serveRoutes(
    [
      // Nobody may use get-env: it is hidden from the list and refused.
      { path: '/shared', upstream: everything, tools: { 'get-env': { subjects: ['nobody'] } } },
      { path: '/mine', upstream: { ...everything, mode: 'user' } },
      { path: '/refuse', upstream: { ...everything, modernClients: 'refuse' } },
      {
        path: '/small',
        upstream: { kind: 'stdio', command: process.execPath, args: ['-e', SMALL] },
        resources: { 'note://secret*': { subjects: ['nobody'] } },
      },
      {
        // A process that takes longer to start than a user's process may stay idle.
        path: '/slow-start',
        upstream: {
          kind: 'stdio',
          command: process.execPath,
          args: ['-e', `setTimeout(() => { ${SMALL} }, 2500)`],
          mode: 'user',
          idleSeconds: 1,
        },
      },
      {
        path: '/short-idle',
        upstream: { kind: 'stdio', command: process.execPath, args: ['-e', SMALL], idleSeconds: 1 },
      },
      {
        path: '/peek',
        upstream: { kind: 'stdio', command: process.execPath, args: ['-e', SMALL] },
      },
      {
        path: '/restarting',
        upstream: { kind: 'stdio', command: process.execPath, args: ['-e', SMALL] },
      },
      {
        path: '/quick',
        upstream: {
          kind: 'stdio',
          command: process.execPath,
          args: ['-e', SMALL],
          timeoutSeconds: 1,
        },
      },
      {
        path: '/one',
        upstream: {
          kind: 'stdio',
          command: process.execPath,
          args: ['-e', SMALL],
          mode: 'user',
          maxProcesses: 1,
          idleSeconds: 1,
        },
      },
    ],
    [ADA, GRACE],
    // Every test signs a new client in (a registration each).
    { rateLimits: { registrationsPerMinute: 100 } },
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

/** A 2.x client signed in through the gateway, pinned to 2026-07-28 unless `mode` says `auto`. */
const modernClient = (path: string, user = ADA, mode: 'auto' | { pin: string } = { pin: MODERN }) =>
  signIn(serve.routes[path]!, user, { mode, capabilities: { sampling: {}, elicitation: {} } })

/** A raw 2026-07-28 request of a client that can answer elicitation, unless `request` says. */
const modernPost = (
  token: string,
  path: string,
  id: number | null,
  method: string,
  params: Record<string, unknown> = {},
  request: Partial<ModernRequest> = {},
) =>
  rawModern(serve.routes[path]!, token, {
    id,
    method,
    params,
    capabilities: { elicitation: {} },
    ...request,
  })

const text = (result: { content?: unknown }) => JSON.stringify(result.content)

/** The JSON list in the first text block of a tool's answer (the small server's records). */
async function toolJSON(
  client: {
    callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>
  },
  name: string,
): Promise<string[]> {
  const { content } = (await client.callTool({ name, arguments: {} })) as { content: unknown }
  return JSON.parse((content as { text: string }[])[0]!.text) as string[]
}

describe('2026-07-28 clients in front of a 2025 stdio server', () => {
  it('discovers, lists under policy with cache hints, calls, reads and gets prompts', async () => {
    const { client } = await modernClient('/shared')
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN)
      expect(client.getServerVersion()?.name).toContain('everything')
      const tools = (await client.listTools()) as {
        tools: { name: string }[]
        cacheScope?: string
        ttlMs?: number
      }
      const names = tools.tools.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).not.toContain('get-env')
      expect(tools).toMatchObject({ cacheScope: 'private', ttlMs: 0 })
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'translated' } })
      expect(text(echo)).toContain('translated')
      const refused = await client.callTool({ name: 'get-env', arguments: {} }).then(
        () => 'answered',
        (error: unknown) => String(error),
      )
      expect(refused).toMatch(/may not use/)
      const resources = await client.listResources()
      const first = resources.resources[0]!
      const read = await client.readResource({ uri: first.uri })
      expect(read.contents[0]?.uri).toBe(first.uri)
      const prompts = await client.listPrompts()
      const simple = prompts.prompts.find((p) => p.name === 'simple-prompt')!
      const prompt = await client.getPrompt({ name: simple.name })
      expect(prompt.messages.length).toBeGreaterThan(0)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('streams the progress of a call', async () => {
    const { client } = await modernClient('/shared')
    try {
      const progress: number[] = []
      const done = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
        { onprogress: (p: { progress: number }) => progress.push(p.progress) },
      )
      expect(text(done)).toMatch(/completed/i)
      expect(progress).toEqual([1, 2, 3])
    } finally {
      await client.close()
    }
  }, 60_000)

  it("carries the server's sampling and elicitation requests as input_required rounds", async () => {
    const { client } = await modernClient('/mine')
    const asked: string[] = []
    client.setRequestHandler('sampling/createMessage', (request) => {
      asked.push(request.method)
      return {
        model: 'test-model',
        role: 'assistant',
        content: { type: 'text', text: 'a sampled answer' },
      }
    })
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.method)
      return { action: 'decline' }
    })
    try {
      const sampled = await client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hello', maxTokens: 5 },
      })
      expect(text(sampled)).toContain('a sampled answer')
      const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} })
      expect(text(elicited)).toMatch(/decline/i)
      expect(asked).toEqual(['sampling/createMessage', 'elicitation/create'])
    } finally {
      await client.close()
    }
  }, 60_000)

  it("refuses another user's requestState, and a retry for another request", async () => {
    const { client, token } = await modernClient('/mine')
    await client.close()
    const { client: other, token: graceToken } = await modernClient('/mine', GRACE)
    await other.close()
    const asking = await modernPost(token, '/mine', 1, 'tools/call', {
      name: 'trigger-elicitation-request',
      arguments: {},
    })
    expect(asking.status).toBe(200)
    const { result } = (await asking.json()) as {
      result: { resultType: string; requestState: string; inputRequests: Record<string, unknown> }
    }
    expect(result.resultType).toBe('input_required')
    const [key] = Object.keys(result.inputRequests)
    expect(result.inputRequests[key!]).toMatchObject({ method: 'elicitation/create' })
    const retry = { name: 'trigger-elicitation-request', arguments: {} }
    const answers = {
      inputResponses: { [key!]: { action: 'cancel' } },
      requestState: result.requestState,
    }
    // In-band errors (HTTP 200), as MCP servers answer a state they cannot use.
    const stolen = await modernPost(graceToken, '/mine', 2, 'tools/call', { ...retry, ...answers })
    expect(await stolen.json()).toMatchObject({ id: 2, error: { code: -32602 } })
    const elsewhere = await modernPost(token, '/mine', 3, 'tools/call', {
      name: 'echo',
      arguments: { message: 'x' },
      ...answers,
    })
    expect(await elsewhere.json()).toMatchObject({ id: 3, error: { code: -32602 } })
    // The owner's retry still finishes the call.
    const finished = await modernPost(token, '/mine', 4, 'tools/call', { ...retry, ...answers })
    expect(finished.status).toBe(200)
    const done = (await finished.json()) as { id: number; result: { resultType: string } }
    expect(done).toMatchObject({ id: 4, result: { resultType: 'complete' } })
    expect(JSON.stringify(done)).toMatch(/cancel/i)
    // Used up: the same state again is unknown.
    const again = await modernPost(token, '/mine', 5, 'tools/call', { ...retry, ...answers })
    expect(await again.json()).toMatchObject({ id: 5, error: { code: -32602 } })
  }, 60_000)

  it('carries list changes and resource updates on a listen stream, acknowledging what it carries', async () => {
    const { client, token } = await modernClient('/small')
    const subscriptions = () => toolJSON(client, 'subscriptions')
    try {
      const listen = new AbortController()
      const stream = await modernPost(
        token,
        '/small',
        0,
        'subscriptions/listen',
        {
          notifications: {
            toolsListChanged: true,
            // The server has no prompts: not acknowledged.
            promptsListChanged: true,
            resourceSubscriptions: ['note://a'],
          },
        },
        { id: 'listen-1', capabilities: {}, signal: listen.signal },
      )
      expect(stream.headers.get('content-type')).toBe('text/event-stream')
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
      let seen = ''
      const until = async (pattern: RegExp) => {
        while (!pattern.test(seen)) {
          const { value, done } = await reader.read()
          if (done) throw new Error(`stream ended before ${String(pattern)}: ${seen}`)
          seen += value
        }
      }
      await until(/subscriptions\/acknowledged/)
      expect(seen).toContain(
        '"notifications":{"toolsListChanged":true,"resourceSubscriptions":["note://a"]}',
      )
      expect(await subscriptions()).toEqual(['+note://a'])
      const grew = await client.callTool({ name: 'grow', arguments: {} })
      expect(text(grew)).toContain('grew 1')
      await until(/tools\/list_changed/)
      expect(seen).toContain('"io.modelcontextprotocol/subscriptionId":"listen-1"')
      await client.callTool({ name: 'touch', arguments: {} })
      await until(/resources\/updated/)
      expect(seen).toMatch(/"uri":"note:\/\/a"/)
      listen.abort()
      const tools = await client.listTools()
      expect(tools.tools.map((t) => t.name)).toContain('grown-1')
      // The last listener of note://a left: the process is unsubscribed.
      await expect.poll(subscriptions).toEqual(['+note://a', '-note://a'])
    } finally {
      await client.close()
    }
  }, 60_000)

  it('refuses a listen to a resource the caller may not use', async () => {
    const { client, token } = await modernClient('/small')
    await client.close()
    const denied = await modernPost(token, '/small', 1, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['note://secret'] },
    })
    expect(await denied.json()).toMatchObject({ id: 1, error: { code: -32003 } })
  }, 60_000)

  it('cancels a call at the server when the client closes its stream', async () => {
    const { client, token } = await modernClient('/small')
    const cancelled = () => toolJSON(client, 'cancelled')
    try {
      const before = await cancelled()
      // Past streamAfterMs with nothing to say: the answer is an event stream.
      const slow = await modernPost(token, '/small', 7, 'tools/call', { name: 'wait' })
      expect(slow.headers.get('content-type')).toBe('text/event-stream')
      expect(await slow.text()).toContain('waited')
      const leaving = new AbortController()
      const cut = await modernPost(
        token,
        '/small',
        8,
        'tools/call',
        { name: 'wait' },
        { capabilities: {}, signal: leaving.signal },
      ).then(async (response) => {
        // The stream starts after streamAfterMs; the client leaves then.
        leaving.abort()
        return response.text().catch(() => 'closed')
      })
      expect(cut).toBe('closed')
      await expect.poll(cancelled).toHaveLength(before.length + 1)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('keeps users apart on a shared process that 2025 sessions and 2026-07-28 clients use', async () => {
    const { client } = await modernClient('/small')
    const grace = await connectAs(serve.routes['/small']!, GRACE)
    const logged: unknown[] = []
    const updated: string[] = []
    grace.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params.data)
    })
    grace.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri)
    })
    const subscriptions = () => toolJSON(client, 'subscriptions')
    try {
      const before = await subscriptions()
      // A log line of a process another party uses could be anyone's: nobody gets it.
      await client.callTool({ name: 'log', arguments: {} })
      await grace.client.callTool({ name: 'log', arguments: {} })
      // Grace subscribes (2025); a 2026-07-28 listener comes and goes: the process sees one
      // subscription, which the listener's leaving does not end.
      await grace.client.subscribeResource({ uri: 'note://b' })
      const listen = new AbortController()
      const { token } = await modernClient('/small')
      const stream = await modernPost(
        token,
        '/small',
        0,
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: ['note://b'] } },
        { signal: listen.signal },
      )
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
      expect((await reader.read()).value).toContain('subscriptions/acknowledged')
      listen.abort()
      await client.callTool({ name: 'touch', arguments: { uri: 'note://b' } })
      await expect.poll(() => updated).toEqual(['note://b'])
      expect((await subscriptions()).slice(before.length)).toEqual(['+note://b'])
      await grace.client.unsubscribeResource({ uri: 'note://b' })
      expect((await subscriptions()).slice(before.length)).toEqual(['+note://b', '-note://b'])
      // Updates of a resource nobody subscribes to reach nobody.
      await client.callTool({ name: 'touch', arguments: { uri: 'note://b' } })
      await client.callTool({ name: 'touch', arguments: { uri: 'note://a' } })
      await new Promise((done) => setTimeout(done, 100))
      expect(updated).toEqual(['note://b'])
      expect(logged).toEqual([])
    } finally {
      await client.close()
      await grace.client.close()
    }
  }, 60_000)

  it('keeps an answer that comes while the client is away for its retry', async () => {
    const { client, token } = await modernClient('/peek')
    await client.close()
    const roots = { capabilities: { roots: {} } }
    const first = await modernPost(token, '/peek', 1, 'tools/call', { name: 'peek' }, roots)
    const round = (await first.json()) as {
      result: { requestState: string; inputRequests: Record<string, { method: string }> }
    }
    const [key] = Object.keys(round.result.inputRequests)
    expect(round.result.inputRequests[key!]!.method).toBe('roots/list')
    // The process answers the call meanwhile.
    await new Promise((done) => setTimeout(done, 300))
    const retry = await modernPost(
      token,
      '/peek',
      2,
      'tools/call',
      {
        name: 'peek',
        requestState: round.result.requestState,
        inputResponses: { [key!]: { roots: [] } },
      },
      roots,
    )
    expect(await retry.json()).toMatchObject({
      id: 2,
      result: { resultType: 'complete', content: [{ text: 'the real answer' }] },
    })
    // Again, and this time the client retries without answering: the process's question is
    // answered with an error rather than left waiting.
    const again = await modernPost(token, '/peek', 3, 'tools/call', { name: 'peek' }, roots)
    const second = (await again.json()) as { result: { requestState: string } }
    await new Promise((done) => setTimeout(done, 300))
    const bare = await modernPost(
      token,
      '/peek',
      4,
      'tools/call',
      { name: 'peek', requestState: second.result.requestState, inputResponses: {} },
      roots,
    )
    expect(await bare.json()).toMatchObject({ id: 4, result: { resultType: 'complete' } })
    const { client: reader } = await modernClient('/peek')
    try {
      await expect
        .poll(() => toolJSON(reader, 'peeked'))
        .toEqual([
          'answered',
          'refused: MCP error -32603: the call ended before the client answered',
        ])
    } finally {
      await reader.close()
    }
  }, 60_000)

  it('subscribes a restarted process again to what its sessions subscribed to', async () => {
    const grace = await connectAs(serve.routes['/restarting']!, GRACE)
    const subscriptions = () => toolJSON(grace.client, 'subscriptions')
    try {
      await grace.client.subscribeResource({ uri: 'note://a' })
      expect(await subscriptions()).toEqual(['+note://a'])
      await grace.client.callTool({ name: 'die', arguments: {} }).catch(() => undefined)
      // A new process, which knows only what the gateway told it since.
      await expect
        .poll(() => subscriptions().catch(() => []), { timeout: 10_000 })
        .toEqual(['+note://a'])
    } finally {
      await grace.client.close()
    }
  }, 60_000)

  it('gives up a call whose client does not come back, or says it will not', async () => {
    const { client, token } = await modernClient('/quick')
    await client.close()
    const ask = (id: number, params: Record<string, unknown> = {}) =>
      modernPost(token, '/quick', id, 'tools/call', { name: 'ask', ...params })
    const round = async (id: number) =>
      ((await (await ask(id)).json()) as { result: { requestState: string } }).result.requestState
    // Told: notifications/cancelled with the id of the request answered input_required.
    const told = await round(1)
    const cancel = await modernPost(token, '/quick', null, 'notifications/cancelled', {
      requestId: 1,
    })
    expect(cancel.status).toBe(202)
    const late = await ask(2, { requestState: told, inputResponses: {} })
    expect(await late.json()).toMatchObject({ id: 2, error: { code: -32602 } })
    // Not told: after timeoutSeconds (1 s here) the state is gone, and the process is free to ask
    // the next call (which it could not while the first one waited).
    const forgotten = await round(3)
    await new Promise((done) => setTimeout(done, 1500))
    const later = await ask(4, { requestState: forgotten, inputResponses: {} })
    expect(await later.json()).toMatchObject({ id: 4, error: { code: -32602 } })
    // Progress keeps a running call alive past timeoutSeconds, but not one waiting for its client.
    const slowly = await modernPost(
      token,
      '/quick',
      6,
      'tools/call',
      { name: 'ask-slowly' },
      { progressToken: 'p', capabilities: { elicitation: {} } },
    )
    const parked = (await slowly.json()) as { result: { requestState: string } }
    await new Promise((done) => setTimeout(done, 1500))
    const tooLate = await modernPost(token, '/quick', 7, 'tools/call', {
      name: 'ask-slowly',
      requestState: parked.result.requestState,
      inputResponses: {},
    })
    expect(await tooLate.json()).toMatchObject({ id: 7, error: { code: -32602 } })
    expect(((await (await ask(5)).json()) as { result: object }).result).toMatchObject({
      resultType: 'input_required',
    })
  }, 60_000)

  it('waits for a process that is slow to start, however short idleSeconds is', async () => {
    const { client } = await modernClient('/slow-start')
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN)
      expect(text(await client.callTool({ name: 'grow', arguments: {} }))).toContain('grew 1')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('does not close a 2025 session as idle while its call runs, nor just after', async () => {
    const { client } = await connectAs(serve.routes['/short-idle']!, ADA)
    try {
      // 1.5 s, past idleSeconds (1 s).
      const waited = await client.callTool({ name: 'wait', arguments: {} }, undefined, {
        timeout: 10_000,
      })
      expect(text(waited as { content?: unknown })).toContain('waited')
      // Nor right after it: a sweep or two later, the session is still there.
      await new Promise((done) => setTimeout(done, 600))
      expect(await toolJSON(client, 'cancelled')).toBeInstanceOf(Array)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('starts no process for a request it refuses', async () => {
    const { client: first, token: adaToken } = await modernClient('/one')
    await first.close()
    // Ada's client is done; her process ends after idleSeconds (1 s), freeing the one slot.
    await new Promise((done) => setTimeout(done, 2500))
    for (const refused of [
      modernPost(adaToken, '/one', 1, 'tools/list', {}, { version: '2099-01-01' }),
      modernPost(adaToken, '/one', 2, 'initialize'),
      modernPost(adaToken, '/one', 3, 'tools/call', { name: 'ask', requestState: 'nope' }),
      modernPost(adaToken, '/one', null, 'notifications/cancelled', { requestId: 9 }),
    ]) {
      expect((await refused).status).not.toBe(503)
    }
    // The one process the route may run is still free for Grace.
    const { client: other } = await modernClient('/one', GRACE)
    try {
      expect(other.getNegotiatedProtocolVersion()).toBe(MODERN)
    } finally {
      await other.close()
    }
  }, 60_000)

  it("answers the server's question itself when the client did not declare the capability", async () => {
    const { client, token } = await modernClient('/small')
    await client.close()
    // The envelope declares elicitation: the question comes to the client.
    const asked = await modernPost(token, '/small', 1, 'tools/call', { name: 'ask' })
    const round = (await asked.json()) as {
      result: { resultType: string; requestState: string; inputRequests: object }
    }
    expect(round.result.resultType).toBe('input_required')
    const [key] = Object.keys(round.result.inputRequests)
    const declined = await modernPost(token, '/small', 3, 'tools/call', {
      name: 'ask',
      inputResponses: { [key!]: { action: 'decline' } },
      requestState: round.result.requestState,
    })
    expect(JSON.stringify(await declined.json())).toContain('answered decline')
    const bare = await modernPost(
      token,
      '/small',
      2,
      'tools/call',
      { name: 'ask' },
      { capabilities: {} },
    )
    const answer = (await bare.json()) as { result: { resultType: string; content: unknown } }
    expect(answer.result.resultType).toBe('complete')
    expect(JSON.stringify(answer.result.content)).toContain('failed: ')
    expect(JSON.stringify(answer.result.content)).toContain('cannot answer elicitation/create')
  }, 60_000)

  it('answers 404 for methods this revision removed', async () => {
    const { client, token } = await modernClient('/shared')
    await client.close()
    for (const method of ['initialize', 'resources/subscribe', 'logging/setLevel']) {
      const removed = await modernPost(token, '/shared', 1, method, {
        uri: 'demo://resource/static/document/architecture.md',
      })
      expect(removed.status).toBe(404)
      expect(await removed.json()).toMatchObject({ id: 1, error: { code: -32601 } })
    }
  }, 60_000)

  it('refuses a version it does not speak and a header that differs, and serves on', async () => {
    const { client, token } = await modernClient('/shared')
    await client.close()
    const future = await modernPost(
      token,
      '/shared',
      1,
      'tools/list',
      {},
      { version: '2099-01-01' },
    )
    expect(future.status).toBe(400)
    expect(await future.json()).toMatchObject({
      id: 1,
      error: { code: -32022, data: { supported: [MODERN], requested: '2099-01-01' } },
    })
    const differs = await modernPost(
      token,
      '/shared',
      2,
      'tools/list',
      {},
      { headerVersion: '2099-01-01' },
    )
    expect(differs.status).toBe(400)
    expect(await differs.json()).toMatchObject({ id: 2, error: { code: -32020 } })
    const mismatch = await modernPost(
      token,
      '/shared',
      3,
      'tools/list',
      {},
      {
        version: '2099-01-01',
        headerVersion: MODERN,
      },
    )
    expect(mismatch.status).toBe(400)
    expect(await mismatch.json()).toMatchObject({ error: { code: -32022 } })
    // The gateway still serves the route.
    const ok = await modernPost(token, '/shared', 4, 'tools/list')
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ id: 4, result: { resultType: 'complete' } })
  }, 60_000)

  it('serves a probing client in 2026-07-28, and in 2025 where the route refuses', async () => {
    const { client } = await modernClient('/shared', ADA, 'auto')
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN)
    } finally {
      await client.close()
    }
    const { client: legacy, token } = await modernClient('/refuse', ADA, 'auto')
    try {
      expect(legacy.getNegotiatedProtocolVersion()).toBe('2025-11-25')
      // What the probe got: no session, so the route refuses it.
      const probe = await modernPost(token, '/refuse', 5, 'server/discover')
      expect(probe.status).toBe(400)
      expect(await probe.json()).toMatchObject({ error: { code: -32600 } })
      const echo = await legacy.callTool({ name: 'echo', arguments: { message: 'legacy' } })
      expect(text(echo)).toContain('legacy')
    } finally {
      await legacy.close()
    }
  }, 60_000)
})
