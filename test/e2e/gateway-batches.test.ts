/**
 * JSON-RPC batches at the gateway: refused from MCP 2025-06-18 on (that revision removed them),
 * still passed for 2025-03-26 (and a request without `MCP-Protocol-Version`, which MCP reads as
 * 2025-03-26); such a batch counts against the route's rate limits once per message, and a batch
 * that needs more scope gets one step-up naming every scope it needs, unless a message of it no
 * scope would open. Through `gatehouse serve` to `@modelcontextprotocol/server-everything` over
 * Streamable HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, serveRoutes, startEverythingHTTP } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingHTTP()
  serve = await serveRoutes(
    [
      {
        path: '/mcp',
        upstream: { kind: 'http', url: everything.url },
        scopes: ['base', 'a', 'b'],
        requiredScopes: ['base'],
        tools: {
          echo: { scopes: ['a'] },
          'get-sum': { scopes: ['b'] },
          'get-env': { subjects: ['nobody'] },
        },
      },
      { path: '/open', upstream: { kind: 'http', url: everything.url } },
      {
        path: '/limited',
        upstream: { kind: 'http', url: everything.url, maxInFlight: 1 },
        rateLimit: { perSubject: 5, windowSeconds: 3600 },
      },
    ],
    [ADA],
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
})

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
})

/** A raw POST in the session `connectAs` opened, as a client of `version` (none: no header). */
function postAs(
  url: string,
  connected: Awaited<ReturnType<typeof connectAs>>,
  body: unknown,
  version: string | undefined,
): Promise<Response> {
  return post(url, connected.provider.saved!.access_token, body, {
    'mcp-session-id': connected.transport.sessionId!,
    ...(version !== undefined ? { 'mcp-protocol-version': version } : {}),
  })
}

describe('gatehouse serve: batches', () => {
  it('refuses a batch from 2025-06-18 on, and passes one of 2025-03-26 or with no version', async () => {
    const url = serve.routes['/open']!
    const ada = await connectAs(url, ADA)
    try {
      const batch = [call(1, 'echo', { message: 'x' }), call(2, 'get-sum', { a: 1, b: 2 })]
      for (const version of ['2025-06-18', '2025-11-25', '2026-07-28']) {
        const refused = await postAs(url, ada, batch, version)
        expect(refused.status, version).toBe(400)
        expect(await refused.json()).toMatchObject({ error: { code: -32600 } })
        // A batch of one is a batch too.
        const one = await postAs(url, ada, [call(3, 'echo', { message: 'x' })], version)
        expect(one.status, version).toBe(400)
      }
      for (const version of ['2025-03-26', undefined]) {
        const passed = await postAs(url, ada, batch, version)
        expect(passed.status, String(version)).toBe(200)
        expect(await passed.text()).toContain('Echo: x')
      }
    } finally {
      await ada.client.close()
    }
  })

  it('counts a batch once per message against the rate limit', async () => {
    const url = serve.routes['/limited']!
    const ada = await connectAs(url, ADA) // a few requests of the 5 go on signing in
    try {
      const hundred = Array.from({ length: 100 }, (_, i) => call(100 + i, 'echo', { message: 'x' }))
      const res = await postAs(url, ada, hundred, '2025-03-26')
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).not.toBeNull()
      expect(await res.json()).toMatchObject({ error: { code: -32029 } })
      // The batch spent what was left: a single call is over the limit too.
      const single = await postAs(url, ada, call(1, 'echo', { message: 'x' }), '2025-03-26')
      expect(single.status).toBe(429)
    } finally {
      await ada.client.close()
    }
  })

  it("asks in one step-up for every scope a batch's calls need", async () => {
    const url = serve.routes['/mcp']!
    const ada = await connectAs(url, ADA)
    try {
      const res = await postAs(
        url,
        ada,
        [call(1, 'echo', { message: 'x' }), call(2, 'get-sum', { a: 1, b: 2 })],
        '2025-03-26',
      )
      expect(res.status).toBe(403)
      const challenge = res.headers.get('www-authenticate') ?? ''
      expect(challenge).toContain('error="insufficient_scope"')
      expect(/scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ').sort()).toEqual(['a', 'b', 'base'])
    } finally {
      await ada.client.close()
    }
  })

  it('refuses a batch with a call no scope would open outright, not with a step-up', async () => {
    const url = serve.routes['/mcp']!
    const ada = await connectAs(url, ADA)
    try {
      const res = await postAs(
        url,
        ada,
        [call(1, 'echo', { message: 'x' }), call(2, 'get-env')],
        '2025-03-26',
      )
      expect(res.headers.get('www-authenticate')).toBeNull()
      expect(await res.json()).toMatchObject({ id: 2, error: { code: -32003 } })
    } finally {
      await ada.client.close()
    }
  })
})
