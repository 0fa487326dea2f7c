/**
 * Edges of translating MCP 2026-07-28 clients onto a 2025 stdio server (modern-calls.ts,
 * stdio-bridge.ts, subscriptions.ts) that gateway-translate.test.ts does not reach: a request
 * without the envelope, the process's own cache hints, the first client's name as the process sees
 * it, a first subscribe that times out, sub-resource updates on listen streams, a retry after the
 * call's deadline, and which call a question of the process goes to. The server is a line-JSON
 * script (no SDK) that says what reached it; clients are raw 2026-07-28 POSTs and the MCP SDK 1.x
 * client (2025 sessions), signed in through `gatehouse serve`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { RunningServe } from '../../src/cli/serve.js'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { connectAs, post, serveRoutes } from '../helpers/gateway.js'
import { MODERN } from '../helpers/modern-client.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }

/**
 * The process. It records in `seen` the (un)subscribes and cancellations it gets, and in `init`
 * the params of its `initialize`. Lists and reads say `cacheScope: "public"` (the list also a
 * `ttlMs`). Tools: `init` and `seen` tell those records; `touch` updates a resource; `ask` asks
 * the client (elicitation) after `after` ms and answers with what came back; `hold` answers only
 * when `release` is called. A subscribe of a `late:` resource is answered only once the gateway
 * has cancelled it (so after the route's deadline, whatever the machine's speed); one of a `hold:`
 * resource, on `release`; the first subscribe of each `flaky:` resource is refused.
 */
const SERVER = `
const rl = require('readline').createInterface({ input: process.stdin })
const seen = []
let init = null
const questions = new Map()
const held = []
const late = new Map()
const refused = new Set()
let asked = 0
const out = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n')
const text = (id, value) => out({ id, result: { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }] } })
rl.on('line', (line) => {
  const m = JSON.parse(line)
  if (m.method === undefined) {
    const call = questions.get(m.id)
    questions.delete(m.id)
    if (call !== undefined) text(call, m.error ? 'refused: ' + m.error.message : 'answered: ' + JSON.stringify(m.result))
    return
  }
  if (m.id === undefined) {
    if (m.method !== 'notifications/cancelled') return
    seen.push('cancelled: ' + m.params.reason)
    const answer = late.get(m.params.requestId)
    late.delete(m.params.requestId)
    if (answer) answer()
    return
  }
  if (m.method === 'initialize') {
    init = m.params
    return out({ id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: 'edges', version: '1' } } })
  }
  if (m.method === 'tools/list') return out({ id: m.id, result: { tools: ['ask', 'hold', 'release', 'touch', 'seen', 'init'].map((name) => ({ name, inputSchema: { type: 'object' } })), cacheScope: 'public', ttlMs: 5000 } })
  if (m.method === 'resources/read') return out({ id: m.id, result: { contents: [{ uri: m.params.uri, text: 'x' }], cacheScope: 'public' } })
  if (m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') {
    const subscribe = m.method === 'resources/subscribe'
    seen.push((subscribe ? '+' : '-') + m.params.uri)
    const answer = () => out({ id: m.id, result: {} })
    if (subscribe && m.params.uri.startsWith('late:')) return late.set(m.id, answer)
    if (subscribe && m.params.uri.startsWith('hold:')) return held.push(answer)
    if (subscribe && m.params.uri.startsWith('flaky:') && !refused.has(m.params.uri)) {
      refused.add(m.params.uri)
      return out({ id: m.id, error: { code: -32603, message: 'not now' } })
    }
    return answer()
  }
  if (m.method !== 'tools/call') return out({ id: m.id, error: { code: -32601, message: 'no ' + m.method } })
  const args = m.params.arguments || {}
  switch (m.params.name) {
    case 'init': return text(m.id, init)
    case 'seen': return text(m.id, seen)
    case 'touch':
      out({ method: 'notifications/resources/updated', params: { uri: args.uri } })
      return text(m.id, 'touched')
    case 'hold':
      seen.push('hold')
      return held.push(() => text(m.id, 'released'))
    case 'release':
      for (const answer of held.splice(0)) answer()
      return text(m.id, 'released')
    case 'ask':
      return setTimeout(() => {
        const id = 'q-' + ++asked
        questions.set(id, m.id)
        out({ id, method: 'elicitation/create', params: { message: 'name?', requestedSchema: { type: 'object', properties: {} } } })
      }, args.after || 0)
    default: return text(m.id, 'ok')
  }
})
`
const edges = (more: Record<string, unknown> = {}) => ({
  kind: 'stdio' as const,
  command: process.execPath,
  args: ['-e', SERVER],
  ...more,
})

let serve: RunningServe

beforeAll(async () => {
  serve = await serveRoutes(
    [
      { path: '/plain', upstream: edges() },
      // Used by one test only: its first request is the first the process gets.
      { path: '/first', upstream: edges() },
      { path: '/quick', upstream: edges({ timeoutSeconds: 1 }) },
      { path: '/deadline', upstream: edges({ timeoutSeconds: 3 }) },
      { path: '/mine', upstream: edges({ mode: 'user' }) },
      { path: '/user-ask', upstream: edges({ mode: 'user', timeoutSeconds: 10 }) },
      { path: '/ask-shared', upstream: edges({ timeoutSeconds: 10 }) },
      // A process per sign-in, holding its IdP token.
      {
        path: '/grant-ask',
        upstream: edges({ mode: 'user', userTokenEnv: 'USER_TOKEN', timeoutSeconds: 10 }),
      },
      // Two streams a caller: a third listen waits until one of them has ended at the gateway.
      { path: '/flaky', upstream: edges({ maxStreamsPerCaller: 2 }) },
    ],
    [ADA, GRACE],
    // Every test signs a new client in (a registration each).
    { rateLimits: { registrationsPerMinute: 100 } },
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

/**
 * An access token for `path`, signed in as `user`, without any request reaching the process (the
 * sign-in's first request is refused 401 before the route).
 */
async function tokenFor(path: string, user = ADA): Promise<string> {
  return (await signIn(path, user)).saved!.access_token
}

/** `tokenFor`, giving the client's provider (its `saved` tokens), to sign the client in again. */
async function signIn(path: string, user = ADA): Promise<BrowserlessClientProvider> {
  const url = serve.routes[path]!
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3999/callback',
    clientName: 'translate edges',
    user,
  })
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider })
  await new Client({ name: 'sign in', version: '1' }).connect(transport).then(
    () => {
      throw new Error('expected a sign-in first')
    },
    (error: unknown) => {
      if (!(error instanceof UnauthorizedError)) throw error
    },
  )
  await transport.finishAuth(provider.code!)
  return provider
}

interface Message {
  id?: number | string
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: { code: number; message: string }
}

/**
 * A 2026-07-28 request with its envelope (a client that can answer elicitation); `meta` adds to
 * or (with `undefined`) takes from the envelope.
 */
function modern(
  path: string,
  token: string,
  id: number | null,
  method: string,
  params: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const fields: Record<string, unknown> = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
    ...meta,
  }
  const envelope = Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  )
  return post(
    serve.routes[path]!,
    token,
    {
      jsonrpc: '2.0',
      ...(id !== null ? { id } : {}),
      method,
      params: { ...params, _meta: envelope },
    },
    { 'mcp-protocol-version': MODERN, 'mcp-method': method },
    signal,
  )
}

/** The answer a POST got: its JSON body, or the last answer on its event stream. */
async function answerOf(response: Response): Promise<Message> {
  expect(response.status).toBe(200)
  const body = await response.text()
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return JSON.parse(body) as Message
  }
  const messages = body
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Message)
  const answer = messages.reverse().find((m) => m.result !== undefined || m.error !== undefined)
  if (!answer) throw new Error(`no answer on the stream: ${body}`)
  return answer
}

/** A tool's answer through the 2026-07-28 translation. */
async function callTool(
  path: string,
  token: string,
  id: number,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Message> {
  return answerOf(await modern(path, token, id, 'tools/call', { name, arguments: args }))
}

/** The first text block of a tool's answer. */
const textOf = (answer: Message): string =>
  ((answer.result?.content as { text: string }[] | undefined) ?? [])[0]?.text ?? ''

/** What the process recorded (`seen`), read through a call of its own. */
const seenAt = async (path: string, token: string): Promise<string[]> =>
  JSON.parse(textOf(await callTool(path, token, 900, 'seen'))) as string[]

/** The messages of an event stream, one at a time (keep-alive comments skipped). */
function eventsOf(response: Response): () => Promise<Message> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  return async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end >= 0) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = event.split('\n').find((line) => line.startsWith('data: '))
        if (data !== undefined) return JSON.parse(data.slice(6)) as Message
        continue
      }
      const { value, done } = await reader.read()
      if (done) throw new Error('the stream ended')
      buffer += value
    }
  }
}

/** The one question of an `input_required` answer, with the state to retry under. */
function questionOf(answer: Message): { key: string; method: string; requestState: string } {
  expect(answer.result).toMatchObject({ resultType: 'input_required' })
  const requests = answer.result!.inputRequests as Record<string, { method: string }>
  const keys = Object.keys(requests)
  expect(keys).toHaveLength(1)
  return {
    key: keys[0]!,
    method: requests[keys[0]!]!.method,
    requestState: answer.result!.requestState as string,
  }
}

describe('2026-07-28 translation: requests and results', () => {
  it('refuses a request without the envelope with 400 and -32602, naming what is missing', async () => {
    const token = await tokenFor('/plain')
    // No `_meta` at all (the MCP-Protocol-Version header says 2026-07-28, so it is translated).
    const bare = await post(
      serve.routes['/plain']!,
      token,
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' },
    )
    expect(bare.status).toBe(400)
    expect(await bare.json()).toMatchObject({
      id: 1,
      error: { code: -32602, message: expect.stringContaining('protocolVersion') as unknown },
    })
    // A version but no client capabilities.
    const noCapabilities = await modern(
      '/plain',
      token,
      2,
      'tools/list',
      {},
      {
        'io.modelcontextprotocol/clientCapabilities': undefined,
      },
    )
    expect(noCapabilities.status).toBe(400)
    expect(await noCapabilities.json()).toMatchObject({
      id: 2,
      error: { code: -32602, message: expect.stringContaining('clientCapabilities') as unknown },
    })
    // The same request with its envelope is served.
    const whole = await answerOf(await modern('/plain', token, 3, 'tools/list'))
    expect(whole).toMatchObject({ id: 3, result: { resultType: 'complete' } })
  }, 30_000)

  it("makes the process's public cache scope private, keeping its ttlMs", async () => {
    const token = await tokenFor('/plain')
    // The process says its list is public and holds 5 s: behind the gateway it is one caller's.
    const list = await answerOf(await modern('/plain', token, 1, 'tools/list'))
    expect(list.result).toMatchObject({
      resultType: 'complete',
      cacheScope: 'private',
      ttlMs: 5000,
    })
    // A read the process calls public with no ttlMs: private, and ttlMs 0.
    const read = await answerOf(
      await modern('/plain', token, 2, 'resources/read', { uri: 'file:///r' }),
    )
    expect(read.result).toMatchObject({ resultType: 'complete', cacheScope: 'private', ttlMs: 0 })
  }, 30_000)

  it("initializes the process with the first client's name and version cut to bounded strings", async () => {
    const token = await tokenFor('/first')
    // The first request the process hears of: its envelope's clientInfo goes to `initialize`.
    const discover = await answerOf(
      await modern(
        '/first',
        token,
        1,
        'server/discover',
        {},
        {
          'io.modelcontextprotocol/clientInfo': {
            name: 'n'.repeat(5000),
            version: 'v'.repeat(5000),
            title: 't'.repeat(5000),
            websiteUrl: `https://example.com/${'w'.repeat(5000)}`,
          },
        },
      ),
    )
    expect(discover.result).toMatchObject({ resultType: 'complete' })
    const init = JSON.parse(textOf(await callTool('/first', token, 2, 'init'))) as unknown
    // Name and version only, of at most 100 and 50 characters; the capabilities it can answer.
    expect(init).toEqual({
      protocolVersion: '2025-11-25',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'n'.repeat(100), version: 'v'.repeat(50) },
    })
  }, 30_000)
})

describe('2026-07-28 translation: subscriptions', () => {
  it("unsubscribes the process from a listener's first subscribe that timed out at the gateway", async () => {
    const token = await tokenFor('/quick')
    const before = (await seenAt('/quick', token)).length
    // A listener's subscribe (timeoutSeconds 1): the process answers only after the gateway has
    // given up on it (when it hears the cancellation), so it is subscribed, and is told to stop.
    const leaving = new AbortController()
    const listen = await modern(
      '/quick',
      token,
      1,
      'subscriptions/listen',
      { notifications: { resourceSubscriptions: ['late://x'] } },
      {},
      leaving.signal,
    )
    try {
      expect((await eventsOf(listen)()).method).toBe('notifications/subscriptions/acknowledged')
      await expect
        .poll(
          async () => (await seenAt('/quick', token)).slice(before).filter((s) => /^[+-]/.test(s)),
          { timeout: 8000, interval: 100 },
        )
        .toEqual(['+late://x', '-late://x'])
    } finally {
      leaving.abort()
    }
  }, 30_000)

  it("unsubscribes the process from a 2025 session's first subscribe that timed out at the gateway", async () => {
    const token = await tokenFor('/quick')
    const before = (await seenAt('/quick', token)).length
    const grace = await connectAs(serve.routes['/quick']!, GRACE)
    try {
      // timeoutSeconds 1; the process answers only once the gateway cancelled the subscribe.
      const outcome = await grace.client.subscribeResource({ uri: 'late://y' }).then(
        () => 'subscribed',
        (error: unknown) => String(error),
      )
      expect(outcome).toMatch(/did not answer in time/)
      // The unsubscribe went to the process before the error came back (one stdin, in order).
      const seen = (await seenAt('/quick', token)).slice(before)
      expect(seen.filter((s) => /^[+-]/.test(s))).toEqual(['+late://y', '-late://y'])
    } finally {
      await grace.client.close()
    }
  }, 30_000)

  it("keeps a listener's subscription when an earlier listener's subscribe was refused and that listener leaves", async () => {
    const token = await tokenFor('/flaky')
    const marks = async () => (await seenAt('/flaky', token)).filter((s) => /^[+-]flaky:/.test(s))
    const listen = (id: number, signal: AbortSignal) =>
      modern(
        '/flaky',
        token,
        id,
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: ['flaky://q'] } },
        {},
        signal,
      )
    const first = new AbortController()
    const second = new AbortController()
    try {
      // The process refuses the first listener's subscribe (`seen` answers after the refusal).
      expect((await eventsOf(await listen(1, first.signal))()).method).toBe(
        'notifications/subscriptions/acknowledged',
      )
      await expect.poll(marks, { timeout: 8000, interval: 100 }).toEqual(['+flaky://q'])
      // The second listener asks again, and the process subscribes.
      const stream = await listen(2, second.signal)
      const next = eventsOf(stream)
      expect((await next()).method).toBe('notifications/subscriptions/acknowledged')
      await expect
        .poll(marks, { timeout: 8000, interval: 100 })
        .toEqual(['+flaky://q', '+flaky://q'])
      // The first listener leaves; a third stream opens only once the gateway has ended it.
      first.abort()
      const third = new AbortController()
      await expect
        .poll(
          async () => {
            const res = await listen(3, third.signal)
            if (res.status === 429) await res.body?.cancel()
            return res.status
          },
          { timeout: 8000, interval: 100 },
        )
        .toBe(200)
      third.abort()
      // The process was not told to unsubscribe: the second listener still gets the updates.
      expect(await marks()).toEqual(['+flaky://q', '+flaky://q'])
      await callTool('/flaky', token, 50, 'touch', { uri: 'flaky://q' })
      expect(await next()).toMatchObject({
        method: 'notifications/resources/updated',
        params: { uri: 'flaky://q' },
      })
    } finally {
      first.abort()
      second.abort()
    }
    // The last listener gone, the process is unsubscribed.
    await expect
      .poll(marks, { timeout: 8000, interval: 100 })
      .toEqual(['+flaky://q', '+flaky://q', '-flaky://q'])
  }, 30_000)

  it('carries updates of sub-resources to listeners of a user process, of the resource only on a shared one', async () => {
    // On each route a listener subscribes to file:///a; the process then updates file:///a/b (in
    // it), file:///ab (not in it: a sibling with the same prefix) and file:///a. The updates come
    // in that order on the one stream, so the last one ends what the listener gets.
    const heard = async (path: string): Promise<string[]> => {
      const token = await tokenFor(path)
      const leaving = new AbortController()
      const listen = await modern(
        path,
        token,
        1,
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: ['file:///a'] } },
        {},
        leaving.signal,
      )
      try {
        const next = eventsOf(listen)
        expect((await next()).method).toBe('notifications/subscriptions/acknowledged')
        for (const [i, uri] of ['file:///a/b', 'file:///ab', 'file:///a'].entries()) {
          expect(textOf(await callTool(path, token, 10 + i, 'touch', { uri }))).toBe('touched')
        }
        const uris: string[] = []
        while (uris.at(-1) !== 'file:///a') {
          const event = await next()
          expect(event).toMatchObject({
            method: 'notifications/resources/updated',
            params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 1 } },
          })
          uris.push(event.params!.uri as string)
        }
        return uris
      } finally {
        leaving.abort()
      }
    }
    expect(await heard('/mine')).toEqual(['file:///a/b', 'file:///a'])
    // A shared process serves several users: a broad subscription hears of its resource only.
    expect(await heard('/plain')).toEqual(['file:///a'])
  }, 30_000)
})

describe('2026-07-28 translation: questions of the process', () => {
  it('answers a retry that comes after the call timed out, within timeoutSeconds of the question, with -32603', async () => {
    const token = await tokenFor('/deadline')
    // timeoutSeconds 3: the process asks 1.5 s into the call, so the call's deadline (3 s) passes
    // while the client has its question, and the client has 3 s from the question to come back
    // (1.5 s of margin each way).
    const asked = await answerOf(
      await modern('/deadline', token, 1, 'tools/call', {
        name: 'ask',
        arguments: { after: 1500 },
      }),
    )
    const question = questionOf(asked)
    expect(question.method).toBe('elicitation/create')
    // The deadline passed: the gateway told the process to stop working on the call.
    await expect
      .poll(() => seenAt('/deadline', token), { timeout: 5000, interval: 50 })
      .toContain('cancelled: timed out at the gateway')
    const retry = await answerOf(
      await modern('/deadline', token, 2, 'tools/call', {
        name: 'ask',
        arguments: { after: 1500 },
        requestState: question.requestState,
        inputResponses: { [question.key]: { action: 'accept', content: {} } },
      }),
    )
    // The call's own answer (it timed out), not an unknown requestState (-32602).
    expect(retry).toEqual({
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32603, message: 'the MCP server did not answer in time' },
    })
  }, 30_000)

  it("with userTokenEnv, takes a retry only from the sign-in whose process asked, not the same client's later one", async () => {
    const provider = await signIn('/grant-ask')
    const first = provider.saved!.access_token
    const question = questionOf(await callTool('/grant-ask', first, 1, 'ask'))
    // The same client signs in again: a new grant, whose process is another one.
    const url = serve.routes['/grant-ask']!
    provider.saved = undefined
    expect(await auth(provider, { serverUrl: url })).toBe('REDIRECT')
    expect(await auth(provider, { serverUrl: url, authorizationCode: provider.code! })).toBe(
      'AUTHORIZED',
    )
    const second = provider.saved!.access_token
    const retry = (token: string, id: number) =>
      modern('/grant-ask', token, id, 'tools/call', {
        name: 'ask',
        arguments: {},
        requestState: question.requestState,
        inputResponses: { [question.key]: { action: 'decline' } },
      })
    const foreign = await answerOf(await retry(second, 2))
    expect(foreign.error?.code).toBe(-32602)
    // The sign-in that was asked can still answer.
    const answered = await answerOf(await retry(first, 3))
    expect(textOf(answered)).toBe('answered: {"action":"decline"}')
  }, 30_000)

  it("gives a user's process's question to the one call in flight, not to that user's latest 2025 session", async () => {
    // Ada's 2025 session opens her process and is its latest session; then a 2026-07-28 call asks.
    const ada = await connectAs(serve.routes['/user-ask']!, ADA)
    try {
      const token = await tokenFor('/user-ask')
      const asked = await callTool('/user-ask', token, 1, 'ask')
      const question = questionOf(asked)
      expect(question.method).toBe('elicitation/create')
      const answered = await answerOf(
        await modern('/user-ask', token, 2, 'tools/call', {
          name: 'ask',
          arguments: {},
          requestState: question.requestState,
          inputResponses: { [question.key]: { action: 'decline' } },
        }),
      )
      expect(answered.result).toMatchObject({ resultType: 'complete' })
      expect(textOf(answered)).toBe('answered: {"action":"decline"}')
    } finally {
      await ada.client.close()
    }
  }, 30_000)

  it("refuses a user's process's question while two of that user's calls are in flight, then asks the lone call", async () => {
    // Grace has no 2025 session: her process has only her 2026-07-28 calls.
    const token = await tokenFor('/user-ask', GRACE)
    const holding = modern('/user-ask', token, 1, 'tools/call', { name: 'hold', arguments: {} })
    await expect.poll(() => seenAt('/user-ask', token), { timeout: 5000 }).toContain('hold')
    // The question comes while `hold` and `ask` both run: the process cannot be told whose it is
    // (it names no call), so neither call gets it and the process gets an error.
    const refused = await callTool('/user-ask', token, 2, 'ask')
    expect(refused.result).toMatchObject({ resultType: 'complete' })
    expect(textOf(refused)).toBe('refused: no single client session can answer this request')
    expect(textOf(await callTool('/user-ask', token, 3, 'release'))).toBe('released')
    // The held call ends with its own answer and no question.
    const held = await answerOf(await holding)
    expect(held).toMatchObject({ id: 1, result: { resultType: 'complete' } })
    expect(held.result).not.toHaveProperty('inputRequests')
    expect(textOf(held)).toBe('released')
    // Alone in flight, a call gets its question.
    const alone = questionOf(await callTool('/user-ask', token, 4, 'ask'))
    const done = await answerOf(
      await modern('/user-ask', token, 5, 'tools/call', {
        name: 'ask',
        arguments: {},
        requestState: alone.requestState,
        inputResponses: { [alone.key]: { action: 'cancel' } },
      }),
    )
    expect(textOf(done)).toBe('answered: {"action":"cancel"}')
  }, 30_000)

  it("does not count a detached session's or a listener's unanswered first subscribe when a call asks", async () => {
    const token = await tokenFor('/ask-shared')
    /** Ada's call asks: it must get the question (and declines it). */
    const askedAndDeclined = async (id: number) => {
      const question = questionOf(await callTool('/ask-shared', token, id, 'ask'))
      expect(question.method).toBe('elicitation/create')
      const done = await answerOf(
        await modern('/ask-shared', token, id + 1, 'tools/call', {
          name: 'ask',
          arguments: {},
          requestState: question.requestState,
          inputResponses: { [question.key]: { action: 'decline' } },
        }),
      )
      expect(textOf(done)).toBe('answered: {"action":"decline"}')
    }
    const leaving = new AbortController()
    try {
      // Grace's first subscribe of hold://x waits for the process; her session ends meanwhile (it
      // stays in flight at the process, for others who might subscribe too). Ada's call is then
      // the one attached session with a call in flight: the question is hers.
      const grace = await connectAs(serve.routes['/ask-shared']!, GRACE)
      const subscribing = grace.client.subscribeResource({ uri: 'hold://x' }).then(
        () => 'subscribed',
        () => 'ended',
      )
      await expect
        .poll(() => seenAt('/ask-shared', token), { timeout: 5000 })
        .toContain('+hold://x')
      await grace.transport.terminateSession()
      expect(await subscribing).toBe('ended')
      await grace.client.close()
      await askedAndDeclined(1)
      // A listener's subscribe of hold://z is in flight too: the gateway's own, never asked.
      const listen = await modern(
        '/ask-shared',
        token,
        10,
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: ['hold://z'] } },
        {},
        leaving.signal,
      )
      expect((await eventsOf(listen)()).method).toBe('notifications/subscriptions/acknowledged')
      await expect
        .poll(() => seenAt('/ask-shared', token), { timeout: 5000 })
        .toContain('+hold://z')
      await askedAndDeclined(3)
    } finally {
      leaving.abort()
      await callTool('/ask-shared', token, 5, 'release')
    }
  }, 30_000)
})
