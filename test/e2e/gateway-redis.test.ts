/**
 * Two `gatehouse serve` instances on one Redis: a session opened through one instance is served by
 * the other for its owner, and refused (404) to another user there too.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { connectAs, post, startRecorder } from '../helpers/gateway.js'

const REDIS_URL = process.env.REDIS_URL
const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }

if (REDIS_URL === undefined || REDIS_URL === '') {
  if (process.env.CI !== undefined) {
    describe('gateway on Redis', () => {
      it('has a Redis server to run against', () => {
        throw new Error('REDIS_URL is not set: CI must run the two-instance gateway test')
      })
    })
  } else {
    describe.skip('gateway on Redis (REDIS_URL is not set)', () => {
      it('shares session owners between instances', () => undefined)
    })
  }
} else {
  const url = REDIS_URL
  let a: RunningServe
  let b: RunningServe
  let recorder: Awaited<ReturnType<typeof startRecorder>>
  beforeAll(async () => {
    recorder = await startRecorder()
    const keyPrefix = `gw-test-${randomBytes(6).toString('hex')}:`
    const secret = randomBytes(32).toString('base64url')
    const users = [
      { user: ADA.username, password: ADA.password },
      { user: BOB.username, password: BOB.password },
    ]
    const gateway = {
      routes: [
        { path: '/mcp', upstream: { kind: 'http', url: recorder.url } },
        {
          path: '/limited',
          upstream: { kind: 'http', url: recorder.url },
          rateLimit: { perSubject: 8, windowSeconds: 3600 },
        },
      ],
    }
    a = await startServe({
      port: 0,
      storeInstance: createRedisStore({ url, keyPrefix }),
      devIdp: { users },
      config: { secret, gateway },
    })
    // The second instance serves the same issuer (a load balancer would sit in front of both).
    b = await startServe({
      port: 0,
      storeInstance: createRedisStore({ url, keyPrefix }),
      devIdp: { users },
      config: { issuer: a.issuer, secret, gateway },
    })
  }, 60_000)
  afterAll(async () => {
    await (b as RunningServe | undefined)?.close()
    await (a as RunningServe | undefined)?.close()
    await (recorder as typeof recorder | undefined)?.stop()
  })

  describe('gateway on Redis', () => {
    it('serves a session through either instance for its owner only', async () => {
      const ada = await connectAs(a.routes['/mcp']!, ADA, 'ada app')
      const bob = await connectAs(a.routes['/mcp']!, BOB, 'bob app')
      try {
        const sessionId = ada.transport.sessionId!
        // Instance B listens elsewhere; its public URLs are instance A's issuer.
        const bRoute = `http://127.0.0.1:${String(b.port)}/mcp`
        const call = { jsonrpc: '2.0', id: 5, method: 'tools/list' }
        const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }
        const own = await post(bRoute, ada.provider.saved!.access_token, call, headers)
        expect(own.status).toBe(200)
        expect((await own.json()).result.tools[0].name).toBe('noop')
        const stolen = await post(bRoute, bob.provider.saved!.access_token, call, headers)
        expect(stolen.status).toBe(404)
      } finally {
        await Promise.all([ada.client.close(), bob.client.close()])
      }
    }, 60_000)

    it('keeps per-caller rate limits in the store: both instances together admit no more than the limit', async () => {
      const ada = await connectAs(a.routes['/limited']!, ADA, 'ada limited')
      await ada.client.close()
      const token = ada.provider.saved!.access_token
      const urls = [a.routes['/limited']!, `http://127.0.0.1:${String(b.port)}/limited`]
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) {
        const res = await post(urls[i % 2]!, token, { jsonrpc: '2.0', id: i, method: 'tools/list' })
        statuses.push(res.status)
        await res.body?.cancel()
      }
      // The sign-in used some of the 8; the rest went to both instances, then 429 from both.
      const passed = statuses.filter((s) => s === 200).length
      expect(passed).toBeGreaterThan(0)
      expect(passed).toBeLessThanOrEqual(6)
      expect(statuses.slice(-2)).toEqual([429, 429])
    }, 60_000)
  })
}
