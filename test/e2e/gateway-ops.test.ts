/**
 * Operations of `gatehouse serve`: `/healthz`, `/readyz` with each route's MCP server (an HTTP
 * server that answers, a stdio program that can be started), `/metrics` and request lines for
 * gateway routes, CORS for browser-based MCP clients, and per-caller rate limits (429 with
 * `Retry-After` and a JSON-RPC error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import type { Logger } from '../../src/ops/logger.js'
import { connectAs, post, serverEntry, startRecorder } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }
const APP = 'https://app.example'

type Recorder = Awaited<ReturnType<typeof startRecorder>>
let recorder: Recorder
let serve: RunningServe
const lines: Record<string, unknown>[] = []
const logger: Logger = {
  info: (o) => lines.push(o),
  warn: (o) => lines.push(o),
  error: (o) => lines.push(o),
  debug: () => undefined,
  child: () => logger,
}

beforeAll(async () => {
  recorder = await startRecorder()
  serve = await startServe({
    port: 0,
    store: 'memory',
    logger,
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
            path: '/rec',
            upstream: { kind: 'http', url: recorder.url },
            allowedOrigins: [APP],
          },
          {
            path: '/limited',
            upstream: { kind: 'http', url: recorder.url },
            rateLimit: { perSubject: 10, windowSeconds: 3600 },
          },
          {
            path: '/everything',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (recorder as Recorder | undefined)?.stop()
})

const LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' }

describe('gatehouse serve: operations', () => {
  it('answers /healthz, and /readyz with every route; /metrics and request lines cover routes', async () => {
    expect((await fetch(`${serve.issuer}/healthz`)).status).toBe(200)
    const ready = await fetch(`${serve.issuer}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      checks: { store: 'ok', 'route /rec': 'ok', 'route /everything': 'ok' },
    })

    const { client, provider } = await connectAs(serve.routes['/rec']!, ADA)
    await client.listTools()
    await client.close()
    const metrics = await (await fetch(`${serve.issuer}/metrics`)).text()
    expect(metrics).toMatch(/gatehouse_http_requests_total\{[^}]*route="\/rec"[^}]*\} \d+/)
    const line = lines.find((l) => l.route === '/rec' && l.status === 200)
    expect(line).toMatchObject({ component: 'guard', method: 'POST', subject: 'ada' })
    expect(JSON.stringify(lines)).not.toContain(provider.saved!.access_token)
  }, 60_000)

  it("carries the caller's traceparent on to the MCP server: same trace, a new span id", async () => {
    const { client, provider } = await connectAs(serve.routes['/rec']!, BOB)
    await client.close()
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const before = recorder.seen.length
    const res = await post(serve.routes['/rec']!, provider.saved!.access_token, LIST, {
      traceparent: incoming,
    })
    expect(res.status).toBe(200)
    // (Other requests may reach the recorder meanwhile: readiness probes, the closed session.)
    const sent = recorder.seen
      .slice(before)
      .map((h) => h.traceparent)
      .filter((t) => t !== undefined)
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
    expect(sent[0]).not.toBe(incoming)
    // Without one, none is invented.
    const plain = recorder.seen.length
    await post(serve.routes['/rec']!, provider.saved!.access_token, LIST)
    expect(recorder.seen.slice(plain).every((h) => h.traceparent === undefined)).toBe(true)
  }, 60_000)

  it('says not ready, naming the route, while an HTTP upstream is down', async () => {
    const down = await startRecorder()
    await down.stop()
    const other = await startServe({
      port: 0,
      store: 'memory',
      devIdp: { users: [{ user: 'x', password: 'x' }] },
      config: {
        gateway: {
          routes: [
            { path: '/down', upstream: { kind: 'http', url: down.url } },
            { path: '/nothing', upstream: { kind: 'stdio', command: 'no-such-mcp-server-here' } },
          ],
        },
      },
    })
    try {
      const ready = await fetch(`${other.issuer}/readyz`)
      expect(ready.status).toBe(503)
      const body = (await ready.json()) as { checks: Record<string, string> }
      expect(body.checks).toMatchObject({
        store: 'ok',
        'route /down': 'failed',
        'route /nothing': 'failed',
      })
      expect(JSON.stringify(body)).not.toContain('127.0.0.1')
    } finally {
      await other.close()
    }
  }, 60_000)

  it('with metrics.listen serves /metrics only on that separate listener, behind its token', async () => {
    const token = 'm'.repeat(40)
    const other = await startServe({
      port: 0,
      store: 'memory',
      devIdp: { users: [{ user: 'x', password: 'x' }] },
      config: {
        metrics: { listen: '127.0.0.1:0', token },
        gateway: { routes: [{ path: '/rec', upstream: { kind: 'http', url: recorder.url } }] },
      },
    })
    try {
      expect(other.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      expect((await fetch(`${other.issuer}/metrics`)).status).toBe(404)
      expect((await fetch(other.metricsUrl!)).status).toBe(401)
      const scraped = await fetch(other.metricsUrl!, {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(scraped.status).toBe(200)
      expect(await scraped.text()).toContain('gatehouse_http_requests_total')
    } finally {
      await other.close()
    }
    await expect(fetch(other.metricsUrl!)).rejects.toThrow()
  }, 60_000)

  it('answers CORS preflights for allowed origins only and exposes the challenge and session id', async () => {
    const url = serve.routes['/rec']!
    const pre = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-session-id',
      },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe(APP)
    expect(pre.headers.get('access-control-allow-headers')).toContain('mcp-session-id')
    // DPoP clients in a browser send the proof and read the server's nonce.
    expect(pre.headers.get('access-control-allow-headers')).toContain('dpop')
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST')

    const evil = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(evil.status).toBe(403)
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()

    const challenge = await fetch(url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify(LIST),
    })
    expect(challenge.status).toBe(401)
    expect(challenge.headers.get('access-control-allow-origin')).toBe(APP)
    expect(challenge.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/)
    expect(challenge.headers.get('access-control-expose-headers')).toMatch(/Mcp-Session-Id/)
    expect(challenge.headers.get('access-control-expose-headers')).toMatch(/DPoP-Nonce/)

    // A real request from a foreign origin is refused by the guard, without CORS headers.
    const { client, provider } = await connectAs(url, BOB, 'cors check')
    await client.close()
    const foreign = await post(url, provider.saved!.access_token, LIST, {
      origin: 'https://evil.example',
    })
    expect(foreign.status).toBe(403)
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()

    // An allowed origin's call gets the server's answer whole, with the CORS answer headers.
    const allowed = await post(url, provider.saved!.access_token, LIST, { origin: APP })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP)
    expect(allowed.headers.get('vary')).toMatch(/Origin/)
    const text = await allowed.text()
    expect(allowed.headers.get('content-length')).toBe(String(Buffer.byteLength(text)))
    expect(JSON.parse(text)).toMatchObject({ jsonrpc: '2.0', id: LIST.id, result: {} })
  }, 60_000)

  it('limits requests per caller with 429, Retry-After and a JSON-RPC error; others are not affected', async () => {
    const url = serve.routes['/limited']!
    const ada = await connectAs(url, ADA, 'limit ada')
    const bob = await connectAs(url, BOB, 'limit bob')
    await Promise.all([ada.client.close(), bob.client.close()])
    const adaToken = ada.provider.saved!.access_token
    const statuses: number[] = []
    let limited: Response | undefined
    for (let i = 0; i < 12; i++) {
      const res = await post(url, adaToken, { ...LIST, id: i })
      statuses.push(res.status)
      if (res.status === 429) limited ??= res
      else await res.body?.cancel()
    }
    expect(statuses).toContain(429)
    // The sign-in's own requests (initialize, initialized, the GET stream) counted too.
    expect(statuses.filter((s) => s !== 429).length).toBeLessThanOrEqual(8)
    expect(statuses.slice(statuses.indexOf(429)).every((s) => s === 429)).toBe(true)
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await limited!.json()).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32029 },
    })
    const other = await post(url, bob.provider.saved!.access_token, LIST)
    expect(other.status).toBe(200)
  }, 60_000)
})
