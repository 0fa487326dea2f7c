/**
 * The gateway's audit events (docs/operations.md), written to the audit file of `gatehouse serve`:
 * a policy denial and a step-up demand in front of `@modelcontextprotocol/server-everything`, a
 * session used by another user, an upstream credential that cannot be had (a token-exchange STS
 * that fails), and a stdio server that dies and is restarted. No event carries a token.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, postInSession, startEverythingHTTP } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }

/** A stdio MCP server that exits when its `die` tool is called. */
const MORTAL = `
const rl = require('node:readline').createInterface({ input: process.stdin })
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n')
rl.on('line', (line) => {
  const m = JSON.parse(line)
  if (m.id === undefined || m.method === undefined) return
  if (m.method === 'initialize') return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'mortal', version: '1' } } })
  if (m.method === 'tools/list') return out({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'die', inputSchema: { type: 'object' } }] } })
  if (m.params.name === 'die') process.exit(7)
})
`

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let sts: Server
let serve: RunningServe
let auditFile: string

interface Event {
  event: string
  outcome: string
  route?: string
  reason?: string
  subject?: string
  clientId?: string
  method?: string
  target?: string
  scope?: string
  restarting?: boolean
  requestId?: string
}

async function events(name: string): Promise<Event[]> {
  const text = await readFile(auditFile, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Event)
    .filter((e) => e.event === name)
}

async function eventually(name: string, count = 1): Promise<Event[]> {
  for (let i = 0; i < 50; i++) {
    const found = await events(name)
    if (found.length >= count) return found
    await new Promise((done) => setTimeout(done, 100))
  }
  return events(name)
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gh-gw-audit-'))
  auditFile = join(dir, 'audit.jsonl')
  const mortal = join(dir, 'mortal.cjs')
  await writeFile(mortal, MORTAL)
  // A security token service that is down.
  sts = createServer((_req, res) => res.writeHead(500).end('{"error":"server_error"}'))
  await new Promise<void>((done) => sts.listen(0, '127.0.0.1', done))
  const stsUrl = `http://127.0.0.1:${(sts.address() as AddressInfo).port}/token`
  everything = await startEverythingHTTP()
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
      audit: { sink: 'file', file: auditFile },
      gateway: {
        routes: [
          {
            path: '/mcp',
            upstream: { kind: 'http', url: everything.url },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            tools: { 'get-sum': { scopes: ['mcp:admin'] }, 'get-env': { subjects: ['nobody'] } },
          },
          {
            path: '/exchanged',
            upstream: {
              kind: 'http',
              url: everything.url,
              credential: { kind: 'token-exchange', tokenEndpoint: stsUrl, clientId: 'gw' },
            },
          },
          {
            path: '/mortal',
            upstream: { kind: 'stdio', command: process.execPath, args: [mortal] },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
  sts.closeAllConnections()
  await new Promise((done) => sts.close(done))
})

describe('gateway audit events', () => {
  it('records a policy denial and a step-up demand, with route, method and target', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/mcp']!, ADA)
    try {
      await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/-32003/)
      const res = await postInSession(
        serve.routes['/mcp']!,
        { provider, transport },
        {
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
        },
      )
      expect(res.status).toBe(403)
      const [denied] = await eventually('gateway_denied')
      expect(denied).toMatchObject({
        outcome: 'failure',
        route: '/mcp',
        method: 'tools/call',
        target: 'get-env',
        reason: 'subject_not_allowed',
        subject: 'ada',
      })
      expect(denied!.clientId).toBeTruthy()
      const [stepUp] = await eventually('gateway_step_up')
      expect(stepUp).toMatchObject({
        outcome: 'failure',
        route: '/mcp',
        method: 'tools/call',
        target: 'get-sum',
        reason: 'insufficient_scope',
        scope: 'mcp:read mcp:admin',
        subject: 'ada',
      })
      expect(stepUp!.requestId).toBeTruthy()
      const text = await readFile(auditFile, 'utf8')
      expect(text).not.toContain(provider.saved!.access_token)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('records a session used by another user (who gets 404), not an unknown session id', async () => {
    const ada = await connectAs(serve.routes['/mcp']!, ADA)
    const bob = await connectAs(serve.routes['/mcp']!, BOB)
    try {
      const ping = { jsonrpc: '2.0', id: 1, method: 'ping' }
      const headers = { 'mcp-protocol-version': '2025-06-18' }
      const token = bob.provider.saved!.access_token
      const unknown = await post(serve.routes['/mcp']!, token, ping, {
        ...headers,
        'mcp-session-id': 'no-such-session',
      })
      expect(unknown.status).toBe(404)
      const foreign = await post(serve.routes['/mcp']!, token, ping, {
        ...headers,
        'mcp-session-id': ada.transport.sessionId!,
      })
      expect(foreign.status).toBe(404)
      const found = await eventually('gateway_session_mismatch')
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({
        outcome: 'failure',
        route: '/mcp',
        subject: 'bob',
        reason: 'session_of_another',
      })
      expect(JSON.stringify(found)).not.toContain(ada.transport.sessionId!)
    } finally {
      await ada.client.close()
      await bob.client.close()
    }
  }, 60_000)

  it('records an upstream credential that cannot be had (the STS fails): 502 for the caller', async () => {
    const provider = await connectAs(serve.routes['/exchanged']!, ADA).then(
      () => {
        throw new Error('expected the initialize to fail')
      },
      (error: unknown) => error,
    )
    expect(String(provider)).toMatch(/502|unavailable/)
    const [failed] = await eventually('gateway_credential_failed')
    expect(failed).toMatchObject({
      outcome: 'failure',
      route: '/exchanged',
      subject: 'ada',
      reason: 'credential_unavailable',
    })
  }, 60_000)

  it('records a stdio server that died and is being restarted', async () => {
    const { client } = await connectAs(serve.routes['/mortal']!, ADA)
    try {
      await expect(client.callTool({ name: 'die', arguments: {} })).rejects.toThrow(/stopped/)
      const [exited] = await eventually('gateway_upstream_exited')
      expect(exited).toMatchObject({
        outcome: 'failure',
        route: '/mortal',
        reason: 'process_exited',
        restarting: true,
      })
    } finally {
      await client.close()
    }
  }, 60_000)
})
