/**
 * Resource subscriptions of 2025 sessions that share one stdio process. The process knows one
 * client, the gateway, so it sees one subscription per resource; the sessions each get what their
 * own request would have got. The server is a line-JSON script whose subscribe refuses `bad:`
 * resources, answers `slow:` ones late with an error, and records every (un)subscribe it sees.
 * Clients are the MCP SDK 1.x client signed in through `gatehouse serve`.
 */
import {
  ResourceUpdatedNotificationSchema,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import { connectAs, serveRoutes } from '../helpers/gateway.js'
import { modernClient, modernPost } from '../helpers/modern-client.js'

const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }

const SERVER = `
const rl = require('readline').createInterface({ input: process.stdin })
const seen = []
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n')
rl.on('line', (line) => {
  const m = JSON.parse(line)
  if (m.id === undefined) return
  if (m.method === 'initialize') return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: 'subs', version: '1' } } })
  if (m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') {
    seen.push((m.method === 'resources/subscribe' ? '+' : '-') + m.params.uri)
    if (m.params.uri.startsWith('bad:')) return out({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'no such resource' } })
    if (m.params.uri.startsWith('slow:')) return setTimeout(() => out({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: 'failed late' } }), 300)
    if (m.params.uri.startsWith('late:')) return setTimeout(() => out({ jsonrpc: '2.0', id: m.id, result: {} }), 300)
    return out({ jsonrpc: '2.0', id: m.id, result: {} })
  }
  if (m.method === 'tools/list') return out({ jsonrpc: '2.0', id: m.id, result: { tools: ['touch', 'seen'].map((name) => ({ name, inputSchema: { type: 'object' } })) } })
  if (m.params.name === 'touch') out({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: m.params.arguments.uri } })
  out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(m.params.name === 'seen' ? seen : 'ok') }] } })
})
`

let serve: RunningServe

beforeAll(async () => {
  serve = await serveRoutes(
    [
      {
        path: '/subs',
        upstream: { kind: 'stdio', command: process.execPath, args: ['-e', SERVER] },
      },
    ],
    [ADA, GRACE],
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
})

/** A signed-in session that records the resource updates it gets. */
async function subscriber(user: typeof ADA) {
  const { client } = await connectAs(serve.routes['/subs']!, user)
  const updates: string[] = []
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n: ServerNotification) => {
    updates.push((n.params as { uri: string }).uri)
  })
  const outcome = (uri: string) =>
    client.subscribeResource({ uri }).then(
      () => 'subscribed',
      (error: unknown) => String(error),
    )
  const touch = (uri: string) => client.callTool({ name: 'touch', arguments: { uri } })
  const seen = async () =>
    JSON.parse(
      ((await client.callTool({ name: 'seen', arguments: {} })).content as { text: string }[])[0]!
        .text,
    ) as string[]
  return { client, updates, outcome, touch, seen }
}

describe('resource subscriptions on a shared stdio process', () => {
  it('gives every subscriber the outcome of the one subscribe the process saw', async () => {
    const ada = await subscriber(ADA)
    const grace = await subscriber(GRACE)
    try {
      // Refused: each is told, and nobody holds a subscription the process refused.
      expect(await ada.outcome('bad://x')).toMatch(/no such resource/)
      expect(await grace.outcome('bad://x')).toMatch(/no such resource/)
      // Still unanswered when Grace subscribes too: she gets the same late refusal.
      const [first, second] = await Promise.all([
        ada.outcome('slow://y'),
        new Promise((done) => setTimeout(done, 100)).then(() => grace.outcome('slow://y')),
      ])
      expect(first).toMatch(/failed late/)
      expect(second).toMatch(/failed late/)
      expect(await ada.seen()).toEqual(['+bad://x', '+bad://x', '+slow://y'])
      await ada.touch('bad://x')
      await ada.touch('slow://y')
      // Accepted: one subscribe at the process, the second answered by the gateway.
      expect(await ada.outcome('file:///dir/')).toBe('subscribed')
      expect(await grace.outcome('file:///dir/')).toBe('subscribed')
      // The resource's update reaches both. On a shared process an update of a resource in it
      // reaches nobody: a broad subscription would hear of other users' resources.
      await ada.touch('file:///dir/f.txt')
      await ada.touch('file:///dir/')
      await expect
        .poll(() => [ada.updates, grace.updates])
        .toEqual([['file:///dir/'], ['file:///dir/']])
      // Ada's unsubscribe leaves Grace's subscription; Grace's, the last, reaches the process.
      await ada.client.unsubscribeResource({ uri: 'file:///dir/' })
      await grace.touch('file:///dir/')
      await expect.poll(() => grace.updates).toEqual(['file:///dir/', 'file:///dir/'])
      expect(ada.updates).toEqual(['file:///dir/'])
      await grace.client.unsubscribeResource({ uri: 'file:///dir/' })
      // An unsubscribe of what nobody subscribed to goes to the process, which answers it.
      await grace.client.unsubscribeResource({ uri: 'file:///never' })
      expect((await ada.seen()).slice(3)).toEqual([
        '+file:///dir/',
        '-file:///dir/',
        '-file:///never',
      ])
    } finally {
      await ada.client.close()
      await grace.client.close()
    }
  }, 60_000)

  it('lets the others have the outcome of a first subscribe its sender cancelled', async () => {
    const ada = await subscriber(ADA)
    const grace = await subscriber(GRACE)
    try {
      const before = (await ada.seen()).length
      const leaving = new AbortController()
      const [cancelled, joined] = await Promise.all([
        ada.client.subscribeResource({ uri: 'late://z' }, { signal: leaving.signal }).then(
          () => 'subscribed',
          () => 'cancelled',
        ),
        new Promise((done) => setTimeout(done, 100)).then(() => {
          leaving.abort()
          return grace.outcome('late://z')
        }),
      ])
      expect([cancelled, joined]).toEqual(['cancelled', 'subscribed'])
      await grace.touch('late://z')
      await expect.poll(() => grace.updates).toEqual(['late://z'])
      expect(ada.updates).toEqual([])
      await grace.client.unsubscribeResource({ uri: 'late://z' })
      expect((await ada.seen()).slice(before)).toEqual(['+late://z', '-late://z'])
    } finally {
      await ada.client.close()
      await grace.client.close()
    }
  }, 60_000)

  it('asks again for a 2026-07-28 listen after the process refused the last subscribe', async () => {
    const ada = await subscriber(ADA)
    const { client, token } = await modernClient(serve.routes['/subs']!, ADA)
    await client.close()
    const streams: AbortController[] = []
    const listen = async (id: number) => {
      const leaving = new AbortController()
      streams.push(leaving)
      const stream = await modernPost(serve.routes['/subs']!, token, {
        id,
        method: 'subscriptions/listen',
        params: { notifications: { resourceSubscriptions: ['bad://q'] } },
        signal: leaving.signal,
      })
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
      return (await reader.read()).value
    }
    try {
      const before = (await ada.seen()).length
      // The acknowledgement names what was asked; the process then refuses it.
      expect(await listen(1)).toContain('"resourceSubscriptions":["bad://q"]')
      await expect.poll(async () => (await ada.seen()).slice(before)).toEqual(['+bad://q'])
      // A second listener, while the first still listens: the process is asked again.
      await listen(2)
      await expect
        .poll(async () => (await ada.seen()).slice(before))
        .toEqual(['+bad://q', '+bad://q'])
    } finally {
      for (const s of streams) s.abort()
      await ada.client.close()
    }
  }, 60_000)
})
