/**
 * Answer deadlines on stdio and legacy SSE routes follow MCP's lifecycle rule on timeouts as HTTP
 * routes do (gateway-limits.test.ts): a progress notification for the call restarts the
 * `timeoutSeconds` clock, `maxTimeoutSeconds` still cuts the answer off, and a call without
 * progress fails at `timeoutSeconds` with the documented JSON-RPC error. The MCP server is
 * `@modelcontextprotocol/server-everything` (its `trigger-long-running-operation` tool sends a
 * progress notification per step when the call carries a progress token), over stdio and over
 * its own legacy SSE transport.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { connectAs, serverEntry, startEverythingSse } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

let everything: Awaited<ReturnType<typeof startEverythingSse>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingSse()
  const deadlines = { timeoutSeconds: 1, maxTimeoutSeconds: 2 }
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: { users: [{ user: ADA.username, password: ADA.password }] },
    config: {
      gateway: {
        routes: [
          {
            path: '/stdio',
            upstream: {
              kind: 'stdio',
              command: process.execPath,
              args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
              ...deadlines,
            },
          },
          { path: '/legacy', upstream: { kind: 'sse', url: everything.url, ...deadlines } },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
})

const long = (duration: number, steps: number) => ({
  name: 'trigger-long-running-operation',
  arguments: { duration, steps },
})

describe.each(['/stdio', '/legacy'])('answer deadline on %s', (path) => {
  it('fails a call without progress at timeoutSeconds, and the session stays usable', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      const started = Date.now()
      // No onprogress: no progress token, so the server reports no progress.
      const late = await client.callTool(long(1.8, 6)).catch((e: unknown) => e)
      const took = Date.now() - started
      expect(late).toBeInstanceOf(McpError)
      expect((late as McpError).code).toBe(-32603)
      expect((late as McpError).message).toContain('the MCP server did not answer in time')
      expect(took).toBeGreaterThanOrEqual(900)
      expect(took).toBeLessThan(1700)
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'still here' } })
      expect(JSON.stringify(echo.content)).toContain('still here')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('restarts the clock on each progress notification of the call', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      // 1.8 s in all (longer than the 1 s deadline), progress every 0.3 s.
      const progress: number[] = []
      const done = await client.callTool(long(1.8, 6), undefined, {
        onprogress: (p) => progress.push(p.progress),
      })
      expect(JSON.stringify(done.content)).toContain('Long running operation completed')
      expect(progress).toEqual([1, 2, 3, 4, 5, 6])
    } finally {
      await client.close()
    }
  }, 60_000)

  it('cuts the answer off at maxTimeoutSeconds however much progress comes', async () => {
    const { client } = await connectAs(serve.routes[path]!, ADA)
    try {
      const started = Date.now()
      const progress: number[] = []
      const cut = await client
        .callTool(long(3.6, 12), undefined, { onprogress: (p) => progress.push(p.progress) })
        .catch((e: unknown) => e)
      const took = Date.now() - started
      expect(cut).toBeInstanceOf(McpError)
      expect((cut as McpError).message).toContain('the MCP server did not answer in time')
      expect(took).toBeGreaterThanOrEqual(1900)
      expect(took).toBeLessThan(3000)
      // Progress did arrive (each step within the 1 s deadline) until the cut.
      expect(progress.length).toBeGreaterThanOrEqual(4)
    } finally {
      await client.close()
    }
  }, 60_000)
})
