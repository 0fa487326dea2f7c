/**
 * Races and bounds of stdio routes behind `gatehouse serve` that the other stdio tests do not
 * reach: policy filtering of an answer whatever request it says it is for (stdio-bridge.ts
 * `#reply`), the start of a process per sign-in (`user` mode with `userTokenEnv`) shared by
 * concurrent first requests, released when it fails and abandoned when the gateway closed
 * meanwhile (stdio-upstream.ts), a process stopped to make room (`maxProcessesPerUser`) ending
 * its sessions and 2026-07-28 listen streams, the bound on a session whose call is never
 * answered, and a listener whose subscribe the process refused (modern-calls.ts).
 *
 * The server is a line-JSON script (no SDK) that appends what reached it to a file named by its
 * `LOG` variable: `start <pid>` when it starts, `+uri`/`-uri` for (un)subscribes, `cancelled:
 * <reason>` and `hang`. The file is read directly, so that observing the process never counts as
 * a use of it. The IdP token fetch of a sign-in (`userTokenEnv`) is held back or made to fail by
 * a store wrapper that acts on the grant reads of that fetch only.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { StoreError } from '../../src/errors.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { Store } from '../../src/storage/store.js'
import { connectAs, post } from '../helpers/gateway.js'
import { MODERN } from '../helpers/modern-client.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }

/**
 * The process. `ping` is answered with a `tools` list (`open` and `secret`). Tools: `pid`, `hang`
 * (never answered), `waitprogress` (held: on `release` it sends progress, then answers), `release`
 * (answers the held subscribes, then the held calls), `touch` (updates a resource). A
 * subscribe of a `hold:` resource is answered on `release`, with a `tools` list in its result; the
 * first subscribe of each `flaky:` resource is refused, and that of each `holdno:` resource is
 * refused on `release`.
 */
const SERVER = `
const fs = require('fs')
const log = (line) => { if (process.env.LOG) fs.appendFileSync(process.env.LOG, line + '\\n') }
log('start ' + process.pid)
const rl = require('readline').createInterface({ input: process.stdin })
const out = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n')
const tools = (names) => names.map((name) => ({ name, inputSchema: { type: 'object' } }))
const text = (id, value) => out({ id, result: { content: [{ type: 'text', text: String(value) }] } })
const held = []
const heldCalls = []
const refused = new Set()
rl.on('line', (line) => {
  const m = JSON.parse(line)
  if (m.method === undefined) return
  if (m.id === undefined) {
    if (m.method === 'notifications/cancelled') log('cancelled: ' + m.params.reason)
    return
  }
  if (m.method === 'initialize') {
    return out({ id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: 'races', version: '1' } } })
  }
  if (m.method === 'ping') return out({ id: m.id, result: { tools: tools(['open', 'secret']) } })
  if (m.method === 'tools/list') return out({ id: m.id, result: { tools: tools(['open', 'secret', 'pid', 'hang', 'release', 'touch']) } })
  if (m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') {
    const uri = m.params.uri
    const subscribe = m.method === 'resources/subscribe'
    log((subscribe ? '+' : '-') + uri)
    if (subscribe && uri.startsWith('hold:')) return held.push(() => out({ id: m.id, result: { tools: tools(['open', 'secret']) } }))
    if (subscribe && uri.startsWith('holdno:') && !refused.has(uri)) {
      refused.add(uri)
      return held.push(() => out({ id: m.id, error: { code: -32603, message: 'not now' } }))
    }
    if (subscribe && uri.startsWith('flaky:') && !refused.has(uri)) {
      refused.add(uri)
      return out({ id: m.id, error: { code: -32603, message: 'not now' } })
    }
    return out({ id: m.id, result: {} })
  }
  if (m.method !== 'tools/call') return out({ id: m.id, error: { code: -32601, message: 'no ' + m.method } })
  const args = m.params.arguments || {}
  switch (m.params.name) {
    case 'pid': return text(m.id, process.pid)
    case 'hang': log('hang'); return
    case 'waitprogress':
      return heldCalls.push(() => {
        out({ method: 'notifications/progress', params: { progressToken: m.params._meta.progressToken, progress: 1 } })
        text(m.id, 'progressed')
      })
    case 'release':
      for (const answer of held.splice(0)) answer()
      for (const answer of heldCalls.splice(0)) answer()
      return text(m.id, 'released')
    case 'touch':
      out({ method: 'notifications/resources/updated', params: { uri: args.uri } })
      return text(m.id, 'touched')
    default: return text(m.id, 'ok')
  }
})
`

/**
 * A memory store whose reads of a grant made to fetch the caller's IdP token (the OAuth proxy's
 * `getUpstreamToken`, for a `userTokenEnv` process) can be held back until released, or fail as
 * an unavailable store does. Every other read passes. A held read has its value already, so it
 * completes even once the store has been closed.
 */
interface GatedStore extends Store {
  /** Holds the IdP token fetches from now on, until `release` (or `fail`); `caught` counts them. */
  hold(): { readonly caught: number; release(): void }
  /** Fails the IdP token fetches held and to come (`StoreError`); `caught` counts those to come. */
  fail(): { readonly caught: number }
  /** Lets them pass again (releasing any held). */
  open(): void
}

function gatedStore(inner: Store): GatedStore {
  let gate: ((key: string) => Promise<void>) | undefined
  /** Lets the held fetches go on, or (`error`) fail. */
  let releaseAll = (_error?: Error): void => undefined
  /** Whether the read comes from the fetch of an IdP token (synchronously, so on the stack). */
  const forIdPToken = (): boolean => {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 100
    const stack = new Error().stack ?? ''
    Error.stackTraceLimit = limit
    return stack.includes('getUpstreamToken')
  }
  const fault = (key: string) =>
    new StoreError('ERR_STORE_UNAVAILABLE', `injected fault in get ${key}`)
  const store: Store = {
    get: async <T>(key: string): Promise<T | undefined> => {
      const gated =
        gate !== undefined && key.startsWith('grant:') && forIdPToken() ? gate : undefined
      const value = await inner.get<T>(key)
      if (gated) await gated(key)
      return value
    },
    set: (key, value, options) => inner.set(key, value, options),
    setIfAbsent: (key, value, options) => inner.setIfAbsent(key, value, options),
    take: (key) => inner.take(key),
    delete: (key) => inner.delete(key),
    ...(inner.scan ? { scan: (prefix: string) => inner.scan!(prefix) } : {}),
    commit: (step) => inner.commit(step),
    acquireLock: (key, owner, options) => inner.acquireLock(key, owner, options),
    releaseLock: (key, owner) => inner.releaseLock(key, owner),
    close: () => inner.close(),
  }
  return {
    ...store,
    hold() {
      releaseAll()
      let caught = 0
      const waiting: { go: () => void; stop: (error: Error) => void }[] = []
      let outcome: { error?: Error } | undefined
      releaseAll = (error) => {
        outcome ??= error ? { error } : {}
        for (const w of waiting.splice(0)) {
          if (error) w.stop(error)
          else w.go()
        }
      }
      const release = () => {
        releaseAll()
      }
      gate = (key) => {
        caught++
        if (outcome) return outcome.error ? Promise.reject(fault(key)) : Promise.resolve()
        return new Promise<void>((go, stop) => waiting.push({ go, stop }))
      }
      return {
        get caught() {
          return caught
        },
        release,
      }
    },
    fail() {
      // The held fetches fail too.
      releaseAll(fault('(held)'))
      let caught = 0
      gate = (key) => {
        caught++
        return Promise.reject(fault(key))
      }
      return {
        get caught() {
          return caught
        },
      }
    },
    open() {
      releaseAll()
      gate = undefined
    },
  }
}

const stdio = (log: string, more: Record<string, unknown> = {}) => ({
  kind: 'stdio' as const,
  command: process.execPath,
  args: ['-e', SERVER],
  env: { LOG: log },
  ...more,
})

/** A `user` route with a process per sign-in. */
const perGrant = (log: string, more: Record<string, unknown> = {}) =>
  stdio(log, { mode: 'user', userTokenEnv: 'USER_TOKEN', ...more })

/** `gatehouse serve` with these routes, on a gated memory store. */
function serveWith(store: GatedStore, routes: Record<string, unknown>[]): Promise<RunningServe> {
  return startServe({
    port: 0,
    storeInstance: store,
    devIdp: { users: [ADA, GRACE].map((u) => ({ user: u.username, password: u.password })) },
    config: {
      // Every test signs new clients in (a registration each).
      rateLimits: { registrationsPerMinute: 200 },
      gateway: { routes },
    },
  })
}

let dir: string
let store: GatedStore
let serve: RunningServe
/** The log file of each route's processes. */
const logOf = (path: string) => join(dir, `${path.slice(1)}.log`)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gh-races-'))
  store = gatedStore(createMemoryStore())
  serve = await serveWith(store, [
    {
      path: '/policy',
      upstream: stdio(logOf('/policy')),
      tools: { secret: { subjects: ['nobody'] } },
    },
    { path: '/race', upstream: perGrant(logOf('/race')) },
    {
      path: '/failing',
      upstream: perGrant(logOf('/failing'), { maxProcesses: 1, maxProcessesPerUser: 1 }),
    },
    { path: '/evict', upstream: perGrant(logOf('/evict'), { maxProcessesPerUser: 1 }) },
    {
      path: '/stuck',
      upstream: stdio(logOf('/stuck'), {
        mode: 'user',
        idleSeconds: 1,
        timeoutSeconds: 3,
        maxTimeoutSeconds: 3,
      }),
    },
    // Two streams a caller: a third listen opens only once the gateway has ended one of them.
    { path: '/listen', upstream: stdio(logOf('/listen'), { maxStreamsPerCaller: 2 }) },
  ])
}, 60_000)

afterAll(async () => {
  store.open()
  await (serve as RunningServe | undefined)?.close()
  await rm(dir, { recursive: true, force: true })
})

/** The lines the processes of a route wrote to their log. */
async function logged(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.split('\n').filter((line) => line !== '')
}

/** The pids of the processes a log says started. */
async function started(file: string): Promise<number[]> {
  return (await logged(file)).filter((l) => l.startsWith('start ')).map((l) => Number(l.slice(6)))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A new sign-in (client registration and grant) of `user` for `path`, without any request
 * reaching the process: the first request is refused 401 before the route.
 */
async function signIn(
  gateway: RunningServe,
  path: string,
  user = ADA,
): Promise<BrowserlessClientProvider> {
  const url = gateway.routes[path]!
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3999/callback',
    clientName: 'stdio races',
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

const tokenFor = async (path: string, user = ADA, gateway = serve) =>
  (await signIn(gateway, path, user)).saved!.access_token

interface Message {
  id?: number | string
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: { code: number; message: string }
}

/** A 2026-07-28 request with its envelope. */
function modern(
  url: string,
  token: string,
  id: number,
  method: string,
  params: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return post(
    url,
    token,
    {
      jsonrpc: '2.0',
      id,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    { 'mcp-protocol-version': MODERN, 'mcp-method': method },
    signal,
  )
}

/** The JSON-RPC answer of a POST: its JSON body, or the last answer on its event stream. */
async function answerOf(response: Response): Promise<Message> {
  const body = await response.text()
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return JSON.parse(body) as Message
  }
  const answer = body
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Message)
    .reverse()
    .find((m) => m.result !== undefined || m.error !== undefined)
  if (!answer) throw new Error(`no answer on the stream: ${body}`)
  return answer
}

const textOf = (answer: Message): string =>
  ((answer.result?.content as { text: string }[] | undefined) ?? [])[0]?.text ?? ''

/** The pid a 2026-07-28 `pid` call reports. */
async function pidOver(url: string, token: string, id: number): Promise<number> {
  const response = await modern(url, token, id, 'tools/call', { name: 'pid', arguments: {} })
  expect(response.status).toBe(200)
  return Number(textOf(await answerOf(response)))
}

/** The pid the `pid` tool reports to an MCP SDK client. */
async function pidOf(client: Client): Promise<number> {
  const result = (await client.callTool({ name: 'pid', arguments: {} })) as {
    content: { text: string }[]
  }
  const pid = Number(result.content[0]!.text)
  expect(pid).toBeGreaterThan(0)
  return pid
}

/** The messages of an event stream, one at a time; rejects once it has ended. */
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

/** `promise`, or a rejection saying what did not happen within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => {
      fail(new Error(`${what}: nothing within ${String(ms)} ms`))
    }, ms)
  })
  return Promise.race([promise, late]).finally(() => {
    clearTimeout(timer)
  })
}

/** A 2025 session opened with raw POSTs: `send` posts one message in it. */
async function rawSession(url: string, token: string) {
  const opened = await post(url, token, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    },
  })
  expect(opened.status).toBe(200)
  await opened.body?.cancel()
  const session = opened.headers.get('mcp-session-id')!
  const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }
  const send = (message: Record<string, unknown>, signal?: AbortSignal) =>
    post(url, token, { jsonrpc: '2.0', ...message }, headers, signal)
  const initialized = await send({ method: 'notifications/initialized' })
  expect(initialized.status).toBe(202)
  return { session, send }
}

const names = (answer: Message): string[] =>
  ((answer.result?.tools as { name: string }[] | undefined) ?? []).map((t) => t.name)

describe('stdio: policy on answers', () => {
  it('filters a tools list out of the answer to another request (a ping) by policy', async () => {
    const url = serve.routes['/policy']!
    const { send } = await rawSession(url, await tokenFor('/policy'))
    // The route hides `secret` from Ada: in its list, and in a list the process puts elsewhere.
    expect(names(await answerOf(await send({ id: 1, method: 'tools/list' })))).not.toContain(
      'secret',
    )
    const ping = await answerOf(await send({ id: 2, method: 'ping' }))
    expect(ping.id).toBe(2)
    expect(names(ping)).toEqual(['open'])
  }, 30_000)

  it("never hands a cancelled first subscribe's late answer to a call that reuses its id, and cancels that call", async () => {
    const url = serve.routes['/policy']!
    const { send } = await rawSession(url, await tokenFor('/policy'))
    // Id 5: the first subscribe of hold://q, which the process answers only on `release`. The
    // client cancels it, so the id is free in the session, but the subscribe runs on at the
    // process (others may wait for its outcome).
    const leaving = new AbortController()
    const subscribing = send(
      { id: 5, method: 'resources/subscribe', params: { uri: 'hold://q' } },
      leaving.signal,
    ).catch(() => undefined)
    await expect
      .poll(async () => logged(logOf('/policy')), { timeout: 5000, interval: 50 })
      .toContain('+hold://q')
    const cancelled = await send({
      method: 'notifications/cancelled',
      params: { requestId: 5, reason: 'changed my mind' },
    })
    expect(cancelled.status).toBe(202)
    leaving.abort()
    await subscribing
    // The client reuses id 5 (MCP forbids it) for a call the process never answers; then the
    // subscribe's answer comes. It was the cancelled subscribe's, so it reaches nobody.
    const reused = send({ id: 5, method: 'tools/call', params: { name: 'hang', arguments: {} } })
    let early: string | undefined
    void reused.then(async (r) => {
      early = `${String(r.status)} ${await r.clone().text()}`
    })
    await expect
      .poll(async () => early ?? logged(logOf('/policy')), { timeout: 5000, interval: 50 })
      .toContain('hang')
    const released = await answerOf(
      await send({ id: 6, method: 'tools/call', params: { name: 'release', arguments: {} } }),
    )
    expect(textOf(released)).toBe('released')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(early).toBeUndefined()
    // Cancelled, the call that reused id 5 ends without an answer of anyone's.
    const second = await send({
      method: 'notifications/cancelled',
      params: { requestId: 5, reason: 'second thoughts' },
    })
    expect(second.status).toBe(202)
    const ended = await within(reused, 10_000, 'the end of the call under id 5')
    expect(await ended.text()).not.toContain('"result"')

    // Id 7, while its cancelled subscribe still waits at the process: a cancellation of id 7 is
    // for the call that reuses it, and the process is told to stop that call.
    const leaving7 = new AbortController()
    const subscribing7 = send(
      { id: 7, method: 'resources/subscribe', params: { uri: 'hold://r' } },
      leaving7.signal,
    ).catch(() => undefined)
    await expect
      .poll(async () => logged(logOf('/policy')), { timeout: 5000, interval: 50 })
      .toContain('+hold://r')
    await send({ method: 'notifications/cancelled', params: { requestId: 7, reason: 'not r' } })
    leaving7.abort()
    await subscribing7
    const hangs = (await logged(logOf('/policy'))).filter((l) => l === 'hang').length
    const reused7 = send({ id: 7, method: 'tools/call', params: { name: 'hang', arguments: {} } })
    await expect
      .poll(async () => (await logged(logOf('/policy'))).filter((l) => l === 'hang').length, {
        timeout: 5000,
        interval: 50,
      })
      .toBe(hangs + 1)
    await send({ method: 'notifications/cancelled', params: { requestId: 7, reason: 'third' } })
    await expect
      .poll(async () => logged(logOf('/policy')), { timeout: 5000, interval: 50 })
      .toContain('cancelled: third')
    expect(await (await within(reused7, 10_000, 'the call under id 7')).text()).not.toContain(
      '"result"',
    )
    await answerOf(
      await send({ id: 8, method: 'tools/call', params: { name: 'release', arguments: {} } }),
    )
  }, 30_000)
})

describe('stdio: a call reusing the id of a withdrawn first subscribe', () => {
  it('keeps its own progress when the subscribe is answered first', async () => {
    const url = serve.routes['/policy']!
    const { send } = await rawSession(url, await tokenFor('/policy'))
    const leaving = new AbortController()
    const subscribing = send(
      { id: 9, method: 'resources/subscribe', params: { uri: 'hold://s' } },
      leaving.signal,
    ).catch(() => undefined)
    await expect
      .poll(async () => logged(logOf('/policy')), { timeout: 5000, interval: 50 })
      .toContain('+hold://s')
    await send({ method: 'notifications/cancelled', params: { requestId: 9, reason: 'not s' } })
    leaving.abort()
    await subscribing
    // Id 9 again (MCP forbids it), a call with a progress token; on `release` the process answers
    // the withdrawn subscribe, then sends the call's progress, then its result.
    const call = send({
      id: 9,
      method: 'tools/call',
      params: { name: 'waitprogress', arguments: {}, _meta: { progressToken: 'mine' } },
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const released = await answerOf(
      await send({ id: 10, method: 'tools/call', params: { name: 'release', arguments: {} } }),
    )
    expect(textOf(released)).toBe('released')
    const body = await (await within(call, 10_000, 'the call under id 9')).text()
    expect(body).toContain('"progressToken":"mine"')
    expect(body).toContain('progressed')
    expect(body).not.toContain('"tools"')
  }, 30_000)
})

describe("stdio user mode with userTokenEnv: starting a sign-in's process", () => {
  it('starts the process once for concurrent first requests of one sign-in', async () => {
    const url = serve.routes['/race']!
    const token = await tokenFor('/race')
    // The IdP token fetch of the first request is held: the second comes while it starts.
    const held = store.hold()
    try {
      const first = pidOver(url, token, 1)
      const second = pidOver(url, token, 2)
      await expect.poll(() => held.caught, { timeout: 5000, interval: 20 }).toBe(1)
      // Time for the second request to reach the route (it waits for the first one's start).
      await new Promise((done) => setTimeout(done, 500))
      expect(held.caught).toBe(1)
      held.release()
      const [a, b] = await Promise.all([first, second])
      expect(a).toBeGreaterThan(0)
      expect(b).toBe(a)
      expect(await started(logOf('/race'))).toEqual([a])
    } finally {
      store.open()
    }
  }, 30_000)

  it('answers each waiting request when the start fails, and frees its place in maxProcesses', async () => {
    // maxProcesses 1 and maxProcessesPerUser 1: a failed start that kept its place would leave
    // no room for the next one.
    const url = serve.routes['/failing']!
    const token = await tokenFor('/failing')
    const held = store.hold()
    let failed = { caught: 0 }
    try {
      const calls = [1, 2, 3].map((id) =>
        modern(url, token, id, 'tools/call', { name: 'pid', arguments: {} }),
      )
      await expect.poll(() => held.caught, { timeout: 5000, interval: 20 }).toBe(1)
      await new Promise((done) => setTimeout(done, 500))
      expect(held.caught).toBe(1)
      // The store fails: the held fetch, then each waiting request's own attempt.
      failed = store.fail()
      const answers = await Promise.all(calls)
      for (const response of answers) {
        expect(response.status).toBe(503)
        expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
      }
      // Each waiting request made an attempt of its own once the first failed.
      expect(failed.caught).toBe(2)
      expect(await started(logOf('/failing'))).toEqual([])
    } finally {
      store.open()
    }
    // The store is back: the next request starts the process.
    const pid = await pidOver(url, token, 4)
    expect(await started(logOf('/failing'))).toEqual([pid])
  }, 30_000)

  it('starts no process for a sign-in whose IdP token comes after the gateway closed', async () => {
    const own = gatedStore(createMemoryStore())
    const log = join(dir, 'closing.log')
    const gateway = await serveWith(own, [{ path: '/closing', upstream: perGrant(log) }])
    let pids: number[] = []
    try {
      const token = await tokenFor('/closing', ADA, gateway)
      const held = own.hold()
      const call = modern(gateway.routes['/closing']!, token, 1, 'tools/call', {
        name: 'pid',
        arguments: {},
      }).then(
        async (response) => {
          await response.body?.cancel()
          return response.status
        },
        () => 'connection closed',
      )
      await expect.poll(() => held.caught, { timeout: 5000, interval: 20 }).toBe(1)
      await gateway.close()
      // The token comes now: nothing would ever stop a process started with it.
      held.release()
      expect([503, 'connection closed']).toContain(await call)
      await new Promise((done) => setTimeout(done, 1000))
      pids = await started(log)
      expect(pids).toEqual([])
    } finally {
      own.open()
      await gateway.close()
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
    }
  }, 30_000)
})

describe('stdio user mode with userTokenEnv: a process stopped to make room', () => {
  it("ends the process's sessions and its 2026-07-28 listen streams", async () => {
    const url = serve.routes['/evict']!
    const first = await connectAs(url, ADA, 'first app')
    const leaving = new AbortController()
    let second: Awaited<ReturnType<typeof connectAs>> | undefined
    try {
      const pid = await pidOf(first.client)
      // A 2026-07-28 listener of the same sign-in: on the same process.
      const token = first.provider.saved!.access_token
      const listen = await modern(
        url,
        token,
        1,
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: ['file:///a'] } },
        leaving.signal,
      )
      const next = eventsOf(listen)
      expect((await next()).method).toBe('notifications/subscriptions/acknowledged')
      // The subscribe was answered: the process answers no call, so it may make room.
      await expect
        .poll(async () => logged(logOf('/evict')), { timeout: 5000, interval: 50 })
        .toContain('+file:///a')
      // Ada signs in again (maxProcessesPerUser 1): her first process stops to make room.
      second = await connectAs(url, ADA, 'second app')
      const pid2 = await pidOf(second.client)
      expect(pid2).not.toBe(pid)
      // The listen stream gets its final answer and ends.
      expect(await within(next(), 5000, 'the end of the listen stream')).toMatchObject({
        id: 1,
        result: {
          resultType: 'complete',
          _meta: { 'io.modelcontextprotocol/subscriptionId': 1 },
        },
      })
      await expect(within(next(), 5000, 'the close of the listen stream')).rejects.toThrow(
        'the stream ended',
      )
      // The session is gone, and so is its process.
      await expect(first.client.callTool({ name: 'pid', arguments: {} })).rejects.toThrow(
        /Session not found/,
      )
      await expect.poll(() => alive(pid), { timeout: 5000, interval: 50 }).toBe(false)
    } finally {
      leaving.abort()
      await first.client.close()
      await second?.client.close()
    }
  }, 30_000)
})

describe('stdio: a call the process never answers', () => {
  it('holds the session past idleSeconds until timeoutSeconds ends the call, then closes it as idle', async () => {
    // user mode, idleSeconds 1, timeoutSeconds 3 (and maxTimeoutSeconds 3): the session is swept
    // every 0.5 s.
    const url = serve.routes['/stuck']!
    const { client, provider, transport } = await connectAs(url, GRACE)
    try {
      const pid = await pidOf(client)
      const began = Date.now()
      const outcome = await within(
        client.callTool({ name: 'hang', arguments: {} }).then(
          () => 'answered',
          (error: unknown) => String(error),
        ),
        10_000,
        'the outcome of the call',
      )
      // Not closed as idle while its call waited: the call ended at its deadline, with the error.
      expect(outcome).toContain('the MCP server did not answer in time')
      expect(Date.now() - began).toBeGreaterThanOrEqual(2500)
      // The process was told to stop working on it.
      await expect
        .poll(async () => logged(logOf('/stuck')), { timeout: 5000, interval: 50 })
        .toContain('cancelled: timed out at the gateway')
      // Then the session, with no request and no answer for idleSeconds, is closed, and the
      // user's process (no session left) stops.
      await expect.poll(() => alive(pid), { timeout: 8000, interval: 100 }).toBe(false)
      const after = await post(
        url,
        provider.saved!.access_token,
        { jsonrpc: '2.0', id: 99, method: 'tools/list' },
        { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
      )
      expect(after.status).toBe(404)
    } finally {
      await client.close().catch(() => undefined)
    }
  }, 30_000)
})

describe('stdio: 2026-07-28 listeners whose subscribe the process refused', () => {
  /** The (un)subscribes of `uri` the process saw. */
  const marks = async (uri: string) =>
    (await logged(logOf('/listen'))).filter((line) => line.slice(1) === uri)

  /** A listen stream of `uri` (none: list changes only); its status is checked by the caller. */
  const listen = (token: string, id: number, signal: AbortSignal, uri?: string) =>
    modern(
      serve.routes['/listen']!,
      token,
      id,
      'subscriptions/listen',
      {
        notifications:
          uri === undefined ? { toolsListChanged: true } : { resourceSubscriptions: [uri] },
      },
      signal,
    )

  /**
   * Opens a listen stream once one of the caller's two (maxStreamsPerCaller) has ended at the
   * gateway: the way to know a stream the client closed is gone there.
   */
  const listenOnceFreed = async (token: string, id: number, signal: AbortSignal, uri: string) => {
    let stream: Response | undefined
    await expect
      .poll(
        async () => {
          const res = await listen(token, id, signal, uri)
          if (res.status === 429) await res.body?.cancel()
          else stream = res
          return res.status
        },
        { timeout: 8000, interval: 100 },
      )
      .toBe(200)
    return stream!
  }

  it('sends no unsubscribe when the refused listener leaves, and subscribes the next one', async () => {
    const token = await tokenFor('/listen')
    const uri = 'flaky://solo'
    const filler = new AbortController()
    const first = new AbortController()
    const second = new AbortController()
    try {
      // A second stream of the caller's, so that a third opens only once one has ended.
      const other = await listen(token, 1, filler.signal)
      expect((await eventsOf(other)()).method).toBe('notifications/subscriptions/acknowledged')
      const refused = await listen(token, 2, first.signal, uri)
      expect((await eventsOf(refused)()).method).toBe('notifications/subscriptions/acknowledged')
      await expect.poll(() => marks(uri), { timeout: 5000, interval: 50 }).toEqual([`+${uri}`])
      // The refused listener leaves: the process holds nothing for it, so it is told nothing.
      first.abort()
      const next = eventsOf(await listenOnceFreed(token, 3, second.signal, uri))
      expect((await next()).method).toBe('notifications/subscriptions/acknowledged')
      // The next listener asks again (no unsubscribe in between), and gets the updates.
      await expect
        .poll(() => marks(uri), { timeout: 5000, interval: 50 })
        .toEqual([`+${uri}`, `+${uri}`])
      const touched = await modern(serve.routes['/listen']!, token, 4, 'tools/call', {
        name: 'touch',
        arguments: { uri },
      })
      expect(textOf(await answerOf(touched))).toBe('touched')
      expect(await within(next(), 5000, 'the update')).toMatchObject({
        method: 'notifications/resources/updated',
        params: { uri },
      })
      // The last listener leaves: now the process is unsubscribed.
      second.abort()
      await expect
        .poll(() => marks(uri), { timeout: 5000, interval: 50 })
        .toEqual([`+${uri}`, `+${uri}`, `-${uri}`])
    } finally {
      filler.abort()
      first.abort()
      second.abort()
    }
  }, 30_000)

  it('counts listeners that came while the refused subscribe was unanswered: one subscribe for the next, one unsubscribe after the last', async () => {
    const token = await tokenFor('/listen', GRACE)
    const uri = 'holdno://joined'
    const leaving = [new AbortController(), new AbortController(), new AbortController()]
    try {
      // The first listener's subscribe waits for `release`; the second comes meanwhile (nothing
      // more is sent: the process sees one subscription per resource).
      for (const [i, signal] of [leaving[0]!.signal, leaving[1]!.signal].entries()) {
        const stream = await listen(token, i + 1, signal, uri)
        expect((await eventsOf(stream)()).method).toBe('notifications/subscriptions/acknowledged')
      }
      await expect.poll(() => marks(uri), { timeout: 5000, interval: 50 }).toEqual([`+${uri}`])
      await new Promise((done) => setTimeout(done, 300))
      expect(await marks(uri)).toEqual([`+${uri}`])
      // The process refuses it: nobody is subscribed. A third listener asks again.
      const released = await modern(serve.routes['/listen']!, token, 10, 'tools/call', {
        name: 'release',
        arguments: {},
      })
      expect(textOf(await answerOf(released))).toBe('released')
      // Another client of Grace's (each caller may keep two streams open).
      const third = await listen(await tokenFor('/listen', GRACE), 3, leaving[2]!.signal, uri)
      expect((await eventsOf(third)()).method).toBe('notifications/subscriptions/acknowledged')
      await expect
        .poll(() => marks(uri), { timeout: 5000, interval: 50 })
        .toEqual([`+${uri}`, `+${uri}`])
      // The two earlier listeners leave: the third still listens, the process stays subscribed.
      leaving[0]!.abort()
      leaving[1]!.abort()
      await new Promise((done) => setTimeout(done, 500))
      expect(await marks(uri)).toEqual([`+${uri}`, `+${uri}`])
      leaving[2]!.abort()
      await expect
        .poll(() => marks(uri), { timeout: 5000, interval: 50 })
        .toEqual([`+${uri}`, `+${uri}`, `-${uri}`])
    } finally {
      for (const l of leaving) l.abort()
    }
  }, 30_000)
})
