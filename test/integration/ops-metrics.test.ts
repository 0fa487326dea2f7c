/**
 * Who may read `/metrics` (loopback peers by default, a bearer token, or only a separate
 * listener), over real HTTP through the Node adapter; and the active-grants gauge, scraped and
 * parsed, counted from the store at most once per refresh period.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { overlayEnv } from '../../src/config/env.js'
import { ConfigError } from '../../src/errors.js'
import { UNHANDLED_HEADER } from '../../src/http/app.js'
import { setClientAddress } from '../../src/http/rate-limit.js'
import { createAdmin } from '../../src/admin/admin.js'
import { listenMetrics, type MetricsListener } from '../../src/ops/metrics-listener.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { Store } from '../../src/storage/store.js'
import {
  createTestGatehouse,
  getTokens,
  ISSUER,
  RESOURCE,
  SECRET,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js'

const TOKEN = 'scraper-token-'.padEnd(48, 'k')

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function start(config: Record<string, unknown> = {}): Promise<TestGatehouse> {
  const t = await createTestGatehouse({ config, options: { metrics: true } })
  cleanups.push(() => t.gh.close())
  return t
}

/** Serves `t.gh.fetch` on 127.0.0.1 (random port) through the Node adapter. */
async function serveHTTP(t: TestGatehouse): Promise<string> {
  const server: Server = createServer(toNodeHandler(t.gh.fetch, { baseUrl: ISSUER }))
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => {
          done()
        })
      }),
  )
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
}

/** A request as an adapter would hand it over for a peer at `address`. */
function from(address: string | undefined, init: RequestInit = {}): Request {
  const request = new Request(`${ISSUER}/metrics`, init)
  setClientAddress(request, address)
  return request
}

describe('/metrics access', () => {
  it('by default answers loopback peers only; other and unknown peers get 403 and no metrics', async () => {
    const t = await start()
    const base = await serveHTTP(t)
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(200)
    const { types } = parsePrometheus(await res.text())
    expect(types.get('gatehouse_http_requests_total')).toBe('counter')

    for (const address of ['192.0.2.7', '10.0.0.1', '::ffff:10.1.2.3', '2001:db8::1', undefined]) {
      const refused = await t.gh.fetch(from(address))
      expect(refused.status, String(address)).toBe(403)
      expect(await refused.text()).not.toContain('gatehouse_')
    }
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect((await t.gh.fetch(from(address))).status, address).toBe(200)
    }
  })

  it('with metrics.token (GATEHOUSE_METRICS_TOKEN) asks every scraper, loopback included, for the bearer token', async () => {
    const { config, problems } = overlayEnv({}, { GATEHOUSE_METRICS_TOKEN: TOKEN })
    expect(problems).toEqual([])
    const t = await start(config)
    const base = await serveHTTP(t)

    const none = await fetch(`${base}/metrics`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(await none.text()).not.toContain('gatehouse_')
    for (const wrong of [
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      'Bearer ',
      TOKEN,
    ]) {
      const res = await fetch(`${base}/metrics`, { headers: { authorization: wrong } })
      expect(res.status, wrong).toBe(401)
    }
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('cache-control')).toBe('no-store')
    const { samples } = parsePrometheus(await ok.text())
    expect(
      sampleValue(samples, 'gatehouse_http_requests_total', { route: '/metrics', status: '401' }),
    ).toBe(6)
    // A remote peer with the token is served too (the token, not the address, decides).
    const remote = await t.gh.fetch(
      from('192.0.2.7', { headers: { authorization: `Bearer ${TOKEN}` } }),
    )
    expect(remote.status).toBe(200)
  })

  it('with metrics.listen serves no /metrics on the main listener, only on the separate one', async () => {
    const t = await start({ metrics: { listen: '127.0.0.1:0', token: TOKEN } })
    const base = await serveHTTP(t)
    const main = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(main.status).toBe(404)
    expect(main.headers.get(UNHANDLED_HEADER)).toBe('1')

    const registry = t.gh.metricsRegistry
    if (!registry) throw new Error('metrics are on')
    const listener: MetricsListener = await listenMetrics({
      source: registry,
      listen: t.gh.config.metrics.listen ?? '',
      token: t.gh.config.metrics.token,
    })
    cleanups.push(() => listener.close())
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

    expect((await fetch(listener.url)).status).toBe(401)
    const ok = await fetch(listener.url, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toContain('text/plain')
    const { types } = parsePrometheus(await ok.text())
    expect(types.get('gatehouse_http_requests_total')).toBe('counter')
    expect(types.get('gatehouse_active_grants')).toBe('gauge')
    expect((await fetch(listener.url.replace('/metrics', '/token'))).status).toBe(404)
    expect((await fetch(listener.url, { method: 'POST' })).status).toBe(405)
  })

  it('refuses a short token and a listen address that is not host:port at start-up', async () => {
    for (const metrics of [{ token: 'short' }, { listen: '9464' }, { listen: 'http://x:1' }]) {
      await expect(
        createTestGatehouse({ config: { metrics }, options: { metrics: true } }),
      ).rejects.toThrow(ConfigError)
    }
  })
})

describe('active grants gauge', () => {
  it('counts live grants from the store at most once per activeGrantsRefreshSeconds', async () => {
    const store = createMemoryStore()
    let scans = 0
    const counted: Store = {
      ...store,
      scan: (prefix) => {
        scans++
        return store.scan?.(prefix) ?? Promise.resolve([])
      },
    }
    const t = await createTestGatehouse({ store: counted, options: { metrics: true } })
    cleanups.push(() => t.gh.close())
    const scrape = async () => {
      const res = await t.gh.fetch(from('127.0.0.1'))
      expect(res.status).toBe(200)
      const { samples, types } = parsePrometheus(await res.text())
      expect(types.get('gatehouse_active_grants')).toBe('gauge')
      return { grants: sampleValue(samples, 'gatehouse_active_grants'), scans }
    }
    expect(await scrape()).toEqual({ grants: 0, scans: 1 })
    const { client } = await getTokens(t)
    await getTokens(t, client)
    await getTokens(t, client)
    // Within the period the last count stands: scrapes never scan the store.
    expect(await scrape()).toEqual({ grants: 0, scans: 1 })
    expect(await scrape()).toEqual({ grants: 0, scans: 1 })

    t.clock.advance(60)
    expect(await scrape()).toEqual({ grants: 3, scans: 2 })

    // A grant revoked by an operator drops out at the next count.
    const shared: Store = { ...store, close: () => Promise.resolve() }
    const admin = await createAdmin({
      config: {
        issuer: ISSUER,
        secret: SECRET,
        resources: [{ url: RESOURCE, scopes: ['mcp:read', 'mcp:write'] }],
      },
      store: shared,
    })
    cleanups.push(() => admin.close())
    const [first] = await admin.listGrants()
    await admin.revokeGrant(first?.grantId ?? '')
    t.clock.advance(60)
    expect(await scrape()).toEqual({ grants: 2, scans: 3 })
  })

  it('is absent when activeGrantsRefreshSeconds is 0', async () => {
    const t = await start({ metrics: { activeGrantsRefreshSeconds: 0 } })
    const res = await t.gh.fetch(from('127.0.0.1'))
    const { types } = parsePrometheus(await res.text())
    expect(types.has('gatehouse_active_grants')).toBe(false)
    expect(types.has('gatehouse_http_requests_total')).toBe(true)
  })
})

describe('request metrics labels', () => {
  it('count a method the client made up as _OTHER: one series, however many names are sent', async () => {
    const t = await start()
    for (let i = 0; i < 50; i++) {
      const res = await t.gh.fetch(new Request(`${ISSUER}/token`, { method: `M${String(i)}XAAAA` }))
      expect(res.status).toBe(405)
    }
    await t.gh.fetch(new Request(`${ISSUER}/token`, { method: 'PUT' }))
    const scraped = await t.gh.fetch(from('127.0.0.1'))
    const { samples } = parsePrometheus(await scraped.text())
    const methods = new Set(
      samples
        .filter((s) => s.name === 'gatehouse_http_requests_total' && s.labels.route === '/token')
        .map((s) => s.labels.method),
    )
    expect([...methods].sort()).toEqual(['PUT', '_OTHER'])
    expect(
      sampleValue(samples, 'gatehouse_http_requests_total', { route: '/token', method: '_OTHER' }),
    ).toBe(50)
  })
})
