/**
 * `/healthz` and `/readyz` against real stores: answering, closed (memory, SQLite), and a Redis
 * behind a connection that stops passing bytes (the readiness deadline). Also where audit events
 * go when configured to a file, and the library defaults (no /metrics, silent).
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { UNHANDLED_HEADER } from '../../src/http/app.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'

const GH = 'http://127.0.0.1:7782'
const SECRET = 'health-secret-'.padEnd(40, 'x')
const config = (extra: Record<string, unknown> = {}) => ({
  issuer: GH,
  secret: SECRET,
  resources: [{ url: `${GH}/mcp` }],
  ...extra,
})

const opened: Gatehouse[] = []
async function start(store: Store, extra: Record<string, unknown> = {}): Promise<Gatehouse> {
  const gh = await createGatehouse({ config: config(extra), store })
  opened.push(gh)
  return gh
}
const get = (gh: Gatehouse, path: string, method = 'GET') =>
  gh.fetch(new Request(`${GH}${path}`, { method }))

afterEach(async () => {
  for (const gh of opened.splice(0)) await gh.close().catch(() => undefined)
})

describe('health endpoints', () => {
  it('/healthz answers 200 {"status":"ok"}, also to HEAD, and is not cached', async () => {
    const gh = await start(createMemoryStore())
    const res = await get(gh, '/healthz')
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({ status: 'ok' })
    expect((await get(gh, '/healthz', 'HEAD')).status).toBe(200)
  })

  it('/readyz answers 200 when the store answers and the signing keys are loaded', async () => {
    const gh = await start(createMemoryStore())
    const res = await get(gh, '/readyz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      status: 'ok',
      checks: { store: 'ok', signing_keys: 'ok' },
    })
  })

  it('/readyz answers 503 naming the store once the memory store is closed; /healthz stays 200', async () => {
    const store = createMemoryStore()
    const gh = await start(store)
    await store.close()
    const res = await get(gh, '/readyz')
    expect(res.status).toBe(503)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      status: 'unavailable',
      checks: { store: 'failed', signing_keys: 'ok' },
    })
    expect(text).not.toContain(SECRET)
    expect(text).not.toMatch(/ERR_|closed|Error/)
    expect((await get(gh, '/healthz')).status).toBe(200)
  })

  it('/readyz answers 503 when the SQLite store is closed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-health-'))
    const store = createSqliteStore({ dataDir: dir })
    const gh = await start(store)
    expect((await get(gh, '/readyz')).status).toBe(200)
    await store.close()
    const res = await get(gh, '/readyz')
    expect(res.status).toBe(503)
    expect(((await res.json()) as { checks: unknown }).checks).toEqual({
      store: 'failed',
      signing_keys: 'ok',
    })
  })

  const redisUrl = process.env.REDIS_URL
  it.skipIf(redisUrl === undefined)(
    '/readyz answers 503 "timeout" within its deadline when Redis stops answering (REDIS_URL)',
    async () => {
      const target = new URL(redisUrl!)
      const stall = await startStallableProxy(target.hostname, Number(target.port || 6379))
      try {
        const store = createRedisStore({
          url: `redis://127.0.0.1:${stall.port}`,
          keyPrefix: `gh-health-${Date.now()}:`,
          commandTimeoutMs: 10_000,
        })
        const gh = await start(store)
        expect((await get(gh, '/readyz')).status).toBe(200)
        stall.pause()
        const started = Date.now()
        const res = await get(gh, '/readyz')
        const took = Date.now() - started
        expect(res.status).toBe(503)
        expect(((await res.json()) as { checks: unknown }).checks).toEqual({
          store: 'timeout',
          signing_keys: 'ok',
        })
        expect(took).toBeGreaterThanOrEqual(1900)
        expect(took).toBeLessThan(5000)
        stall.resume()
        expect((await get(gh, '/readyz')).status).toBe(200)
      } finally {
        stall.resume()
        for (const gh of opened.splice(0)) await gh.close().catch(() => undefined)
        await stall.close()
      }
    },
    20_000,
  )
})

describe('library defaults and the audit file', () => {
  it('serves no /metrics unless asked (the embedding app keeps the path)', async () => {
    const gh = await start(createMemoryStore())
    const res = await get(gh, '/metrics')
    expect(res.status).toBe(404)
    expect(res.headers.get(UNHANDLED_HEADER)).toBe('1')
    expect(gh.metricsRegistry).toBeUndefined()
  })

  it('appends audit events as JSON lines to the configured file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-audit-'))
    const file = join(dir, 'audit.jsonl')
    const gh = await start(createMemoryStore(), { audit: { sink: 'file', file } })
    for (let i = 0; i < 2; i++) {
      const res = await gh.fetch(
        new Request(`${GH}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': `reg-${i}` },
          body: JSON.stringify({
            redirect_uris: ['http://127.0.0.1:5555/cb'],
            token_endpoint_auth_method: 'client_secret_basic',
          }),
        }),
      )
      expect(res.status).toBe(201)
      const body = (await res.json()) as { client_secret: string }
      expect(body.client_secret).toBeTypeOf('string')
    }
    await gh.close()
    const text = await readFile(file, 'utf8')
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events).toHaveLength(2)
    expect(events.map((e) => e.requestId)).toEqual(['reg-0', 'reg-1'])
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['clientId', 'event', 'outcome', 'requestId', 'time'])
      expect(e).toMatchObject({ event: 'client_registered', outcome: 'success' })
      expect(new Date(e.time as string).toISOString()).toBe(e.time)
    }
    expect(text).not.toContain('client_secret')
  })
})

/** A TCP relay to Redis that can stop passing bytes (a hung server, as the client sees it). */
async function startStallableProxy(
  host: string,
  port: number,
): Promise<{ port: number; pause(): void; resume(): void; close(): Promise<void> }> {
  let paused = false
  const pairs: [Socket, Socket][] = []
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host, port })
    pairs.push([client, upstream])
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (paused) from.pause()
        to.write(chunk)
      })
      from.on('error', () => to.destroy())
      from.on('close', () => to.destroy())
    }
    pipe(client, upstream)
    pipe(upstream, client)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    port: address.port,
    pause: () => {
      paused = true
      for (const [a, b] of pairs) {
        a.pause()
        b.pause()
      }
    },
    resume: () => {
      paused = false
      for (const [a, b] of pairs) {
        a.resume()
        b.resume()
      }
    },
    close: () =>
      new Promise<void>((done) => {
        for (const [a, b] of pairs) {
          a.destroy()
          b.destroy()
        }
        server.close(() => {
          done()
        })
      }),
  }
}
