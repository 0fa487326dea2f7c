/**
 * A body nested far deeper than any MCP message (20,000 arrays in a tool's arguments, 40 KB) is
 * refused before a stdio route's process sees it: `400` with `-32600`, not a `500` from
 * `JSON.stringify` running out of stack while the call was already registered as in flight. The
 * id is free again at once, and other users' calls are unaffected. Through `gatehouse serve` to
 * `@modelcontextprotocol/server-everything` over stdio.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, serveRoutes, serverEntry } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }

let serve: RunningServe

beforeAll(async () => {
  serve = await serveRoutes(
    [
      {
        path: '/everything',
        upstream: {
          kind: 'stdio',
          command: process.execPath,
          args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
        },
      },
    ],
    [ADA, BOB],
    { rateLimits: { registrationsPerMinute: 100 } },
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

const echo = (id: number, message: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { message } },
})

describe('gatehouse serve: a body nested too deep on a stdio route', () => {
  it('answers 400, leaves its id free and other users unaffected', async () => {
    const url = serve.routes['/everything']!
    const [ada, bob] = [await connectAs(url, ADA), await connectAs(url, BOB)]
    try {
      const session = (who: typeof ada) => ({
        'mcp-session-id': who.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      })
      const deep = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x","deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}}}`
      const refused = await post(url, ada.provider.saved!.access_token, deep, session(ada))
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ error: { code: -32600 } })

      // Id 5 is not in flight: the same id works at once.
      const again = await post(url, ada.provider.saved!.access_token, echo(5, 'a'), session(ada))
      expect(again.status).toBe(200)
      expect(await again.text()).toContain('Echo: a')

      // A body as deep as MAX_DEPTH passes (64 levels: the message, params, arguments and 61).
      const nested = `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b","deep":${'['.repeat(61)}${']'.repeat(61)}}}}`
      const deepest = await post(url, ada.provider.saved!.access_token, nested, session(ada))
      expect(deepest.status).toBe(200)
      expect(await deepest.text()).toContain('Echo: b')
      const deeper = nested.replace('[', '[[').replace(']', ']]').replace('"id":6', '"id":7')
      const over = await post(url, ada.provider.saved!.access_token, deeper, session(ada))
      expect(over.status).toBe(400)

      const other = await post(url, bob.provider.saved!.access_token, echo(5, 'c'), session(bob))
      expect(other.status).toBe(200)
      expect(await other.text()).toContain('Echo: c')
    } finally {
      await ada.client.close()
      await bob.client.close()
    }
  }, 30_000)
})
