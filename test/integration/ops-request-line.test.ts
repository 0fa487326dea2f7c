/**
 * Request lines and the bearer count, through `createGatehouse`, `fetch` and `protect`: a logger
 * that says a level is off (pino's `isLevelEnabled`) gets no line at that level, while an error
 * line still comes when errors are on; a token the guard accepted is counted once, even when the
 * handler then refuses the call for a scope (its 403 is not counted again); a refusal by the guard
 * is counted from its challenge; with no audit sink and no metrics, the token endpoint's line
 * still names the client and the subject (which the audit events tell it).
 */
import { describe, expect, it } from 'vitest'
import { requireScopes } from '../../src/resource/scopes.js'
import type { Logger } from '../../src/ops/logger.js'
import { setClientAddress } from '../../src/http/rate-limit.js'
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js'
import { bearer, createTestGatehouse, getTokens, RESOURCE } from '../helpers/gatehouse.js'

type Level = 'error' | 'warn' | 'info' | 'debug'

/** A logger that records every line, and answers `isLevelEnabled` for the levels given. */
function recordingLogger(enabled: readonly Level[]) {
  const lines: { level: Level; fields: Record<string, unknown>; message?: string }[] = []
  const at =
    (level: Level) =>
    (fields: Record<string, unknown>, message?: string): void => {
      lines.push({ level, fields, ...(message !== undefined ? { message } : {}) })
    }
  const logger: Logger = {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
    isLevelEnabled: (level) => enabled.includes(level),
  }
  return { logger, lines }
}

async function gatehouseWith(enabled: readonly Level[]) {
  const { logger, lines } = recordingLogger(enabled)
  const t = await createTestGatehouse({ options: { logger, metrics: true } })
  const { tokens } = await getTokens(t)
  const requestLines = () => lines.filter((l) => l.message === 'request')
  return { t, tokens, requestLines }
}

async function bearerCounts(t: Awaited<ReturnType<typeof createTestGatehouse>>) {
  const scrape = new Request('https://as.test/metrics')
  setClientAddress(scrape, '127.0.0.1')
  const { samples } = parsePrometheus(await (await t.gh.fetch(scrape)).text())
  const count = (outcome: string) =>
    sampleValue(samples, 'gatehouse_bearer_verifications_total', { outcome })
  return { ok: count('ok'), missing: count('missing'), scope: count('insufficient_scope') }
}

describe('the request line of a protected route', () => {
  it('is written when the logger writes its level, with the route and status', async () => {
    const { t, tokens, requestLines } = await gatehouseWith(['error', 'warn', 'info'])
    const before = requestLines().length
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(200)
    const written = requestLines().slice(before)
    expect(written).toHaveLength(1)
    expect(written[0]).toMatchObject({
      level: 'info',
      fields: { component: 'guard', route: '/mcp', status: 200, subject: 'user-1' },
    })
  })

  it('is not written at a level the logger leaves out, but a 500 still is at error', async () => {
    const { t, tokens, requestLines } = await gatehouseWith(['error'])
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(200)
    expect((await t.mcp()).status).toBe(401)
    expect(requestLines().filter((l) => l.fields.component === 'guard')).toEqual([])

    const failing = t.gh.protect(() => {
      throw new Error('the handler broke')
    })
    await expect(
      failing(new Request(RESOURCE, { method: 'POST', ...bearer(tokens.access_token) })),
    ).rejects.toThrow('the handler broke')
    const errors = requestLines().filter((l) => l.fields.component === 'guard')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      level: 'error',
      fields: { status: 500, errorName: 'Error' },
    })
  })
})

describe('the bearer count of a protected route', () => {
  it('counts an accepted token once, even when the handler then refuses a scope', async () => {
    const { t, tokens } = await gatehouseWith(['error'])
    const before = await bearerCounts(t)
    const tool = t.gh.protect((_request, token) => {
      requireScopes(token, ['mcp:admin'])
      return new Response('never')
    })
    const refused = await tool(
      new Request(RESOURCE, { method: 'POST', ...bearer(tokens.access_token) }),
    )
    expect(refused.status).toBe(403)
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    expect((await t.mcp()).status).toBe(401)
    const narrow = t.gh.protect(() => new Response('never'), { scopes: ['mcp:admin'] })
    const denied = await narrow(
      new Request(RESOURCE, { method: 'POST', ...bearer(tokens.access_token) }),
    )
    expect(denied.status).toBe(403)

    const after = await bearerCounts(t)
    // The tool's own refusal: accepted by the guard (ok), not counted again as insufficient.
    // The guard's refusals: one missing token, one token short of the route's scope.
    expect(after).toEqual({
      ok: before.ok + 1,
      missing: before.missing + 1,
      scope: before.scope + 1,
    })
  })
})

describe('the request line of the token endpoint', () => {
  it('names the client and the subject with no audit sink and no metrics', async () => {
    const { logger, lines } = recordingLogger(['error', 'warn', 'info'])
    const t = await createTestGatehouse({
      config: { audit: { sink: 'none' } },
      options: { logger },
    })
    const { client } = await getTokens(t)
    const token = lines.filter((l) => l.message === 'request' && l.fields.route === '/token')
    expect(token).toHaveLength(1)
    expect(token[0]?.fields).toMatchObject({
      status: 200,
      clientId: client.client_id,
      subject: 'user-1',
    })
    expect(lines.filter((l) => l.message === 'audit')).toEqual([])
  })

  it('counts the audit events at /metrics with no audit sink', async () => {
    const t = await createTestGatehouse({
      config: { audit: { sink: 'none' } },
      options: { metrics: true },
    })
    await getTokens(t)
    const scrape = new Request('https://as.test/metrics')
    setClientAddress(scrape, '127.0.0.1')
    const { samples } = parsePrometheus(await (await t.gh.fetch(scrape)).text())
    expect(sampleValue(samples, 'gatehouse_audit_events_total', { event: 'tokens_issued' })).toBe(1)
  })
})
