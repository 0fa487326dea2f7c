/**
 * `gatehouse dev` for an operator: health, readiness (upstream discovery included) and metrics on
 * the listening server, and a request line for every request, the MCP endpoint's included.
 */
import { describe, expect, it } from 'vitest'
import { startDev } from '../../src/cli/dev.js'
import { createPinoLogger } from '../../src/ops/pino.js'
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js'

describe('gatehouse dev operations', () => {
  it('serves /healthz, /readyz and /metrics, and logs one line per request', async () => {
    let raw = ''
    const dev = await startDev({
      port: 0,
      dataDir: '',
      memory: true,
      user: 'ops',
      password: 'ops-password',
      logger: createPinoLogger({
        level: 'info',
        destination: { write: (l: string) => (raw += l) },
      }),
    })
    try {
      const health = await fetch(`${dev.issuer}/healthz`)
      expect(await health.json()).toEqual({ status: 'ok' })
      const ready = await fetch(`${dev.issuer}/readyz`, {
        headers: { 'x-request-id': 'probe-1' },
      })
      expect(ready.status).toBe(200)
      expect(ready.headers.get('x-request-id')).toBe('probe-1')
      expect(await ready.json()).toEqual({
        status: 'ok',
        checks: { store: 'ok', signing_keys: 'ok', upstream: 'ok' },
      })
      // The dev user administers the dev server: /admin starts Gatehouse's own sign-in.
      expect(dev.adminUrl).toBe(`${dev.issuer}/admin`)
      const admin = await fetch(dev.adminUrl!, { redirect: 'manual' })
      expect(admin.status).toBe(303)
      const authorize = new URL(admin.headers.get('location') ?? '')
      expect(`${authorize.origin}${authorize.pathname}`).toBe(`${dev.issuer}/authorize`)
      expect(authorize.searchParams.get('client_id')).toBe('gatehouse-admin')
      const mcp = await fetch(dev.mcpUrl, { method: 'POST' })
      expect(mcp.status).toBe(401)
      const metrics = await fetch(`${dev.issuer}/metrics`)
      expect(metrics.headers.get('content-type')).toContain('text/plain')
      const { samples } = parsePrometheus(await metrics.text())
      expect(
        sampleValue(samples, 'gatehouse_http_requests_total', { route: '/readyz', status: '200' }),
      ).toBe(1)
      expect(
        sampleValue(samples, 'gatehouse_http_requests_total', { route: '/mcp', status: '401' }),
      ).toBe(1)
      expect(
        sampleValue(samples, 'gatehouse_bearer_verifications_total', { outcome: 'missing' }),
      ).toBe(1)
      const lines = raw
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines.filter((l) => l.msg === 'request').map((l) => l.route)).toEqual([
        '/healthz',
        '/readyz',
        '/admin',
        '/mcp',
        '/metrics',
      ])
      expect(lines.find((l) => l.route === '/readyz')).toMatchObject({ requestId: 'probe-1' })
    } finally {
      await dev.close()
    }
  })
})
