/**
 * `gatehouse serve` in front of stdio MCP servers: `@modelcontextprotocol/server-everything` in one
 * shared process (ids remapped per session), `@modelcontextprotocol/server-filesystem` with a
 * process per session, and a tiny script that dies, writes garbage and oversized lines.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import {
  clientCredentialsToken,
  connectAs,
  post,
  postInSession,
  serverEntry,
} from '../helpers/gateway.js'
import { modernClient } from '../helpers/modern-client.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }
const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'

/** A stdio MCP server in a few lines: tools that report the pid, die, or write junk. */
const FLAKY = `
const rl = require('node:readline').createInterface({ input: process.stdin })
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n')
let asking
rl.on('line', (line) => {
  const m = JSON.parse(line)
  if (m.id === undefined) return
  if (m.method === undefined) {
    if (asking && m.id === 'srv-1') out({ jsonrpc: '2.0', id: asking, result: { content: [{ type: 'text', text: m.error ? 'asked: error' : 'asked: ok' }] } })
    return
  }
  if (m.method === 'initialize') return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'flaky', version: '1' } } })
  if (m.method === 'tools/list') return out({ jsonrpc: '2.0', id: m.id, result: { tools: ['pid', 'die', 'junk'].map((name) => ({ name, inputSchema: { type: 'object' } })) } })
  const name = m.params.name
  if (name === 'die') process.exit(3)
  if (name === 'hang') return
  if (name === 'leak') out({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'private to ' + (m.params.arguments || {}).who } })
  if (name === 'ask') { asking = m.id; return out({ jsonrpc: '2.0', id: 'srv-1', method: 'ping' }) }
  if (name === 'token') return out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: process.pid + ' ' + (process.env.USER_TOKEN || '') }] } })
  if (name === 'big') { process.stdout.write('"' + 'x'.repeat(10000) + '"\\n'); return }
  if (name === 'junk') { process.stdout.write('this is not json\\n'); process.stderr.write('a warning\\n') }
  out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(process.pid) }] } })
})
`

let serve: RunningServe
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gh-gw-'))
  await writeFile(join(dir, 'hello.txt'), 'hello from the filesystem server\n')
  const flaky = join(dir, 'flaky.cjs')
  await writeFile(flaky, FLAKY)
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
      // Most tests sign new clients in (a registration each).
      rateLimits: { registrationsPerMinute: 100 },
      // A machine client: no sign-in at the IdP behind its tokens.
      clientCredentials: { enabled: true },
      clients: [
        { clientId: 'reporter', clientSecret: REPORTER_SECRET, grantTypes: ['client_credentials'] },
      ],
      gateway: {
        routes: [
          {
            path: '/everything',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
            },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            tools: { 'get-sum': { scopes: ['mcp:admin'] } },
          },
          {
            path: '/files',
            upstream: {
              kind: 'stdio',
              mode: 'session',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-filesystem'), dir],
            },
          },
          {
            path: '/flaky',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [flaky],
              maxMessageBytes: 4096,
            },
          },
          {
            // Its own process: the /flaky test leaves that one restarting.
            path: '/shared',
            upstream: { kind: 'stdio', command: process.execPath, args: [flaky] },
          },
          {
            path: '/mine',
            upstream: {
              kind: 'stdio',
              mode: 'user',
              userTokenEnv: 'USER_TOKEN',
              command: process.execPath,
              args: [flaky],
            },
          },
          {
            path: '/mine-capped',
            upstream: {
              kind: 'stdio',
              mode: 'user',
              userTokenEnv: 'USER_TOKEN',
              maxProcessesPerUser: 2,
              command: process.execPath,
              args: [flaky],
            },
          },
          {
            path: '/mine-lru',
            upstream: {
              kind: 'stdio',
              mode: 'user',
              userTokenEnv: 'USER_TOKEN',
              maxProcessesPerUser: 2,
              command: process.execPath,
              args: [flaky],
            },
          },
          {
            path: '/mine-again',
            upstream: {
              kind: 'stdio',
              mode: 'user',
              userTokenEnv: 'USER_TOKEN',
              command: process.execPath,
              args: [flaky],
            },
          },
          {
            path: '/mine-plain',
            upstream: { kind: 'stdio', mode: 'user', command: process.execPath, args: [flaky] },
          },
          {
            path: '/idle',
            upstream: {
              kind: 'stdio',
              mode: 'session',
              command: process.execPath,
              args: [flaky],
              idleSeconds: 1,
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text

/** What the `token` tool says: the process's pid and the IdP token in its environment. */
const tokenTool = async (client: {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>
}) => text(await client.callTool({ name: 'token', arguments: {} })).split(' ') as [string, string]

describe('gatehouse serve → stdio servers', () => {
  it('shares one server-everything process between two users: answers, progress and lists reach the right caller', async () => {
    const url = serve.routes['/everything']!
    const ada = await connectAs(url, ADA, 'ada app')
    const bob = await connectAs(url, BOB, 'bob app')
    try {
      const names = (await ada.client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).not.toContain('get-sum')
      const adaProgress: number[] = []
      const bobProgress: number[] = []
      // Same JSON-RPC ids from both clients, at once: the gateway remaps them.
      const [a, b, c] = await Promise.all([
        ada.client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
          undefined,
          { onprogress: (p) => adaProgress.push(p.progress) },
        ),
        bob.client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } },
          undefined,
          { onprogress: (p) => bobProgress.push(p.progress) },
        ),
        bob.client.callTool({ name: 'echo', arguments: { message: 'bob here' } }),
      ])
      expect(a.isError).toBeFalsy()
      expect(b.isError).toBeFalsy()
      expect(text(c)).toContain('bob here')
      expect(adaProgress).toEqual([1, 2, 3])
      expect(bobProgress).toEqual([1, 2])
      const prompts = await bob.client.listPrompts()
      expect(prompts.prompts.map((p) => p.name)).toContain('simple-prompt')
      const resources = await ada.client.listResources()
      const read = await ada.client.readResource({ uri: resources.resources[0]!.uri })
      expect(read.contents.length).toBe(1)

      const stolen = await post(
        url,
        bob.provider.saved!.access_token,
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        {
          'mcp-session-id': ada.transport.sessionId!,
          'mcp-protocol-version': '2025-06-18',
        },
      )
      expect(stolen.status).toBe(404)
      const stepUp = await post(
        url,
        ada.provider.saved!.access_token,
        {
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
        },
        { 'mcp-session-id': ada.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      )
      expect(stepUp.status).toBe(403)
      expect(stepUp.headers.get('www-authenticate')).toContain('scope="mcp:read mcp:admin"')
    } finally {
      await Promise.all([ada.client.close(), bob.client.close()])
    }
  }, 90_000)

  it('runs server-filesystem with a process per session on a temp directory', async () => {
    const { client, transport } = await connectAs(serve.routes['/files']!, ADA)
    try {
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('read_text_file')
      const read = await client.callTool({
        name: 'read_text_file',
        arguments: { path: join(dir, 'hello.txt') },
      })
      expect(text(read)).toContain('hello from the filesystem server')
      const outside = await client.callTool({
        name: 'read_text_file',
        arguments: { path: '/etc/hostname' },
      })
      expect(outside.isError).toBe(true)
      await transport.terminateSession()
    } finally {
      await client.close()
    }
  }, 60_000)

  it('survives a server that writes garbage and one that dies: errors for the caller, then a restarted process', async () => {
    const { client } = await connectAs(serve.routes['/flaky']!, ADA)
    try {
      const junk = await client.callTool({ name: 'junk', arguments: {} })
      const pid = Number(text(junk))
      expect(pid).toBeGreaterThan(0)
      const died = await client.callTool({ name: 'die', arguments: {} }).catch((e: unknown) => e)
      expect(String(died)).toContain('the MCP server stopped')
      let again: number | undefined
      for (let i = 0; i < 40 && again === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100))
        const r = await client.callTool({ name: 'pid', arguments: {} }).catch(() => undefined)
        if (r) again = Number(text(r))
      }
      expect(again).toBeGreaterThan(0)
      expect(again).not.toBe(pid)
      // A line over maxMessageBytes (4096): the process is stopped and started again.
      const big = await client.callTool({ name: 'big', arguments: {} }).catch((e: unknown) => e)
      expect(String(big)).toContain('the MCP server stopped')
    } finally {
      await client.close()
    }
  }, 60_000)

  it("shares a process without sharing a user's log messages, and asks the server's questions of the caller alone", async () => {
    const ada = await connectAs(serve.routes['/shared']!, ADA)
    const bob = await connectAs(serve.routes['/shared']!, BOB)
    const seenByBob: unknown[] = []
    bob.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      seenByBob.push(n)
    })
    try {
      await ada.client.callTool({ name: 'leak', arguments: { who: 'ada' } })
      // The server's ping goes to the one session with a request in flight, which answers it.
      expect(text(await ada.client.callTool({ name: 'ask', arguments: {} }))).toBe('asked: ok')
      await bob.client.callTool({ name: 'pid', arguments: {} })
      expect(seenByBob).toEqual([])
    } finally {
      await ada.client.close()
      await bob.client.close()
    }
  }, 60_000)

  it('runs one process per user, shared by all their clients', async () => {
    const url = serve.routes['/mine-plain']!
    const ada1 = await connectAs(url, ADA, 'ada one')
    const ada2 = await connectAs(url, ADA, 'ada two')
    const bob = await connectAs(url, BOB, 'bob app')
    try {
      const pid = async (c: typeof ada1) => (await tokenTool(c.client))[0]
      const [pidA1, pidA2, pidB] = await Promise.all([pid(ada1), pid(ada2), pid(bob)])
      expect(pidA2).toBe(pidA1)
      expect(pidA1).not.toBe(pidB)
    } finally {
      await Promise.all([ada1.client.close(), ada2.client.close(), bob.client.close()])
    }
  }, 60_000)

  it("with userTokenEnv, runs one process per sign-in with that sign-in's own IdP token in its environment", async () => {
    const url = serve.routes['/mine']!
    const ada1 = await connectAs(url, ADA, 'ada one')
    const ada2 = await connectAs(url, ADA, 'ada two')
    const bob = await connectAs(url, BOB, 'bob app')
    try {
      const ask = (c: typeof ada1) => tokenTool(c.client)
      const [[pidA1, tokenA1], [pidA2, tokenA2], [pidB, tokenB]] = await Promise.all([
        ask(ada1),
        ask(ada2),
        ask(bob),
      ])
      // Ada's two clients signed in twice: each IdP token carries what its sign-in consented to,
      // so neither client drives a process holding the other's.
      expect(new Set([pidA1, pidA2, pidB]).size).toBe(3)
      expect(new Set([tokenA1, tokenA2, tokenB]).size).toBe(3)
      for (const token of [tokenA1, tokenA2, tokenB]) expect(token.length).toBeGreaterThan(10)
      expect(tokenA1).not.toBe(ada1.provider.saved!.access_token)
      // A client's later sessions go to its own process again.
      const again = await connectAs(url, ADA, 'ada one')
      try {
        const [pid] = await tokenTool(again.client)
        expect([pidA1, pidA2]).not.toContain(pid) // a new sign-in, a new grant
      } finally {
        await again.client.close()
      }
      const [pidA1Again] = await ask(ada1)
      expect(pidA1Again).toBe(pidA1)
    } finally {
      await Promise.all([ada1.client.close(), ada2.client.close(), bob.client.close()])
    }
  }, 60_000)

  it('with userTokenEnv, holds one user to maxProcessesPerUser: the least recently used idle one makes room, busy ones do not', async () => {
    const url = serve.routes['/mine-capped']!
    const bob = await connectAs(url, BOB, 'bob app')
    const ada1 = await connectAs(url, ADA, 'ada one')
    const ada2 = await connectAs(url, ADA, 'ada two')
    const pid = async (c: typeof ada1) => (await tokenTool(c.client))[0]
    const clients = [bob, ada1, ada2]
    try {
      const [pidBob, pidA1] = [await pid(bob), await pid(ada1)]
      await pid(ada2) // used last
      // Ada's third sign-in: her least recently used process (ada one's) stops to make room.
      const ada3 = await connectAs(url, ADA, 'ada three')
      clients.push(ada3)
      const pidA3 = await pid(ada3)
      expect(pidA3).not.toBe(pidA1)
      await expect(ada1.client.callTool({ name: 'token', arguments: {} })).rejects.toThrow(
        /Session not found/,
      )
      await pid(ada2)
      expect(await pid(bob)).toBe(pidBob) // another user's process is not hers to stop
      // While both of hers answer a call, a fourth sign-in finds no room.
      void ada2.client.callTool({ name: 'hang', arguments: {} }).catch(() => undefined)
      void ada3.client.callTool({ name: 'hang', arguments: {} }).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 300))
      await expect(connectAs(url, ADA, 'ada four')).rejects.toThrow(/503|Too many sessions/)
    } finally {
      await Promise.all(clients.map((c) => c.client.close()))
    }
  }, 60_000)

  it("with userTokenEnv, counts a 2026-07-28 client's use when choosing the process that makes room", async () => {
    const url = serve.routes['/mine-lru']!
    const ada1 = await connectAs(url, ADA, 'ada one')
    const [pid1] = await tokenTool(ada1.client)
    // A 2026-07-28 client of Ada's: no session, its process used after ada one's.
    const modern = await modernClient(url, ADA)
    const pidOf = async () => (await tokenTool(modern.client))[0]
    const pidModern = await pidOf()
    expect(pidModern).not.toBe(pid1)
    const ada3 = await connectAs(url, ADA, 'ada three')
    try {
      // The least recently used one (ada one's) made room, not the one just used.
      await ada3.client.callTool({ name: 'token', arguments: {} })
      expect(await pidOf()).toBe(pidModern)
      await expect(ada1.client.callTool({ name: 'token', arguments: {} })).rejects.toThrow(
        /Session not found/,
      )
    } finally {
      await Promise.all([ada1.client.close(), ada3.client.close(), modern.client.close()])
    }
  }, 60_000)

  it("with userTokenEnv, a session is its sign-in's: the client signed in again gets 404 on it and a process of its own", async () => {
    const url = serve.routes['/mine-again']!
    const ada = await connectAs(url, ADA, 'ada again')
    try {
      const [before] = await tokenTool(ada.client)
      const session = {
        'mcp-session-id': ada.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }
      // The same client signs in again (as after its grant was revoked, or to consent to less).
      ada.provider.saved = undefined
      expect(await auth(ada.provider, { serverUrl: url })).toBe('REDIRECT')
      expect(
        await auth(ada.provider, { serverUrl: url, authorizationCode: ada.provider.code! }),
      ).toBe('AUTHORIZED')
      const fresh = ada.provider.saved!.access_token
      const call = {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'token', arguments: {} },
      }
      const old = await post(url, fresh, call, session)
      expect(old.status).toBe(404)
      // A new session of the new sign-in runs in a process of its own.
      const again = await connectAs(url, ADA, 'ada again, new session')
      try {
        const [pid] = await tokenTool(again.client)
        expect(pid).not.toBe(before)
      } finally {
        await again.client.close()
      }
    } finally {
      await ada.client.close()
    }
  }, 60_000)

  it('with userTokenEnv, answers a machine client 403 -32003, each of its concurrent requests its own, under its id', async () => {
    const url = serve.routes['/mine']!
    const { token } = await clientCredentialsToken(
      serve.issuer,
      { id: 'reporter', secret: REPORTER_SECRET },
      url,
    )
    const initialize = (id: number) =>
      post(url, token, {
        jsonrpc: '2.0',
        id,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'm', version: '1' },
        },
      })
    // Both wait on one start of the machine's process, which cannot have an IdP token.
    const answers = await Promise.all([initialize(1), initialize(2), initialize(3)])
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(403)
      expect(res.headers.get('www-authenticate')).toBeNull()
      // Each under its own request's id.
      expect(await res.json()).toMatchObject({ id: i + 1, error: { code: -32003 } })
    }
  }, 60_000)

  it('stops the process of an idle session, and the session with it', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/idle']!, ADA)
    const pid = Number(text(await client.callTool({ name: 'pid', arguments: {} })))
    expect(() => process.kill(pid, 0)).not.toThrow()
    let alive = true
    for (let i = 0; i < 60 && alive; i++) {
      await new Promise((done) => setTimeout(done, 100))
      try {
        process.kill(pid, 0)
      } catch {
        alive = false
      }
    }
    expect(alive).toBe(false)
    const after = await postInSession(
      serve.routes['/idle']!,
      { provider, transport },
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    )
    expect(after.status).toBe(404)
    await client.close().catch(() => undefined)
  }, 60_000)

  it('drains on SIGTERM: the stdio children are stopped', async () => {
    const { client } = await connectAs(serve.routes['/flaky']!, BOB)
    // The previous test left the process restarting (with backoff): wait for it.
    let pid = 0
    for (let i = 0; i < 60 && pid === 0; i++) {
      const r = await client.callTool({ name: 'pid', arguments: {} }).catch(() => undefined)
      if (r) pid = Number(text(r))
      else await new Promise((done) => setTimeout(done, 100))
    }
    expect(() => process.kill(pid, 0)).not.toThrow()
    await serve.drain()
    expect(() => process.kill(pid, 0)).toThrow()
    await client.close().catch(() => undefined)
  }, 60_000)
})
