/**
 * A resource URI reaches policy only in its normal form: the MCP TypeScript SDK server reads
 * `new URL(uri).href`, so `DEMO://…`, dot segments, a leading space or a tab inside would read a
 * resource under another spelling than the one policy matched. Every such spelling answers `400`
 * with `-32602` on every request that names a resource (read, subscribe, unsubscribe, a
 * completion's template, a 2026-07-28 listen's subscriptions), on a route that denies a prefix and
 * on one that allows only a prefix. Through `gatehouse serve` to
 * `@modelcontextprotocol/server-everything` over Streamable HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  post,
  postInSession,
  serveRoutes,
  startEverythingHTTP,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }

/**
 * Spellings of `demo://resource/dynamic/text/1` that WHATWG URL parsing reads as it, and (the last
 * four) that a server decoding the path or dropping an empty query or a fragment reads as it.
 */
const SPELLINGS = [
  'DEMO://resource/dynamic/text/1',
  'demo://resource/static/../dynamic/text/1',
  'demo://resource/static/%2e%2e/dynamic/text/1',
  ' demo://resource/dynamic/text/1',
  'demo://resource/dynamic/text/1\n',
  'demo://resource/dyn\tamic/text/1',
  'demo://resource/dyn%61mic/text/1',
  'demo://resource/dynamic/text/%31',
  'demo://resource/dynamic/text/1?',
  'demo://resource/dynamic/text/1#part',
]
const DYNAMIC = 'demo://resource/dynamic/text/1'
const STATIC = 'demo://resource/static/document/architecture.md'

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let serve: RunningServe

beforeAll(async () => {
  everything = await startEverythingHTTP()
  serve = await serveRoutes(
    [
      {
        path: '/mcp',
        upstream: { kind: 'http', url: everything.url },
        resources: {
          'demo://resource/dynamic/*': { subjects: ['nobody'] },
          'https://example.com/': { subjects: ['nobody'] },
        },
      },
      {
        path: '/allowlist',
        upstream: { kind: 'http', url: everything.url },
        unlistedResources: 'deny',
        resources: { 'demo://resource/static/*': {} },
      },
    ],
    [ADA],
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (everything as typeof everything | undefined)?.stop()
})

/** The error code of a JSON answer, or of the first message of an event-stream answer. */
async function codeOf(res: Response): Promise<number | undefined> {
  const text = await res.text()
  const data = text.startsWith('{') ? text : (/^data: ?(.+)$/m.exec(text)?.[1] ?? 'null')
  return (JSON.parse(data) as { error?: { code: number } } | null)?.error?.code
}

describe('gatehouse serve: a resource URI in another spelling', () => {
  for (const path of ['/mcp', '/allowlist']) {
    it(`refuses every other spelling of a denied resource on ${path}, and echoes none`, async () => {
      const url = serve.routes[path]!
      const ada = await connectAs(url, ADA)
      try {
        let id = 10
        for (const uri of SPELLINGS) {
          for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
            const res = await postInSession(url, ada, {
              jsonrpc: '2.0',
              id: id++,
              method,
              params: { uri },
            })
            expect(res.status, `${method} ${JSON.stringify(uri)}`).toBe(400)
            const text = await res.text()
            expect(JSON.parse(text)).toMatchObject({ error: { code: -32602 } })
            expect(text).not.toContain('dynamic')
            expect(text).not.toContain('plaintext resource created')
          }
        }
        // A completion's template is refused in another spelling too.
        const completion = await postInSession(url, ada, {
          jsonrpc: '2.0',
          id: id++,
          method: 'completion/complete',
          params: {
            ref: { type: 'ref/resource', uri: 'DEMO://resource/dynamic/text/{resourceId}' },
            argument: { name: 'resourceId', value: '' },
          },
        })
        expect(completion.status).toBe(400)
        expect(await completion.json()).toMatchObject({ error: { code: -32602 } })
      } finally {
        await ada.client.close()
      }
    })
  }

  it('refuses another spelling in the resources a 2026-07-28 listen subscribes to', async () => {
    const url = serve.routes['/allowlist']!
    const ada = await connectAs(url, ADA)
    try {
      const listen = (uri: string) =>
        post(
          url,
          ada.provider.saved!.access_token,
          {
            jsonrpc: '2.0',
            id: 1,
            method: 'subscriptions/listen',
            params: {
              notifications: { resourceSubscriptions: [STATIC, uri] },
              _meta: {
                'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                'io.modelcontextprotocol/clientCapabilities': {},
              },
            },
          },
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
        )
      const refused = await listen('demo://resource/static/../dynamic/text/1')
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ error: { code: -32602 } })
    } finally {
      await ada.client.close()
    }
  })

  it('still denies the plain URI, serves an allowed one, and passes an unlisted one to the server', async () => {
    const [mcp, allowlist] = [serve.routes['/mcp']!, serve.routes['/allowlist']!]
    const [ada, adaAllow] = [await connectAs(mcp, ADA), await connectAs(allowlist, ADA)]
    try {
      const read = (url: string, who: typeof ada, id: number, uri: string) =>
        postInSession(url, who, { jsonrpc: '2.0', id, method: 'resources/read', params: { uri } })
      expect(await codeOf(await read(mcp, ada, 1, DYNAMIC))).toBe(-32003)
      expect(await codeOf(await read(allowlist, adaAllow, 2, DYNAMIC))).toBe(-32003)
      const allowed = await read(allowlist, adaAllow, 3, STATIC)
      expect(allowed.status).toBe(200)
      expect(await allowed.text()).toContain('architecture.md')
      // No rule on /mcp names the static documents: the server reads it.
      const unlisted = await read(mcp, ada, 4, STATIC)
      expect(unlisted.status).toBe(200)
      expect(await unlisted.text()).toContain('architecture.md')
    } finally {
      await ada.client.close()
      await adaAllow.client.close()
    }
  })

  it('reads an http(s) URI without a path as WHATWG writes it, with its root slash', async () => {
    const url = serve.routes['/mcp']!
    const ada = await connectAs(url, ADA)
    try {
      const read = (id: number, uri: string) =>
        postInSession(url, ada, { jsonrpc: '2.0', id, method: 'resources/read', params: { uri } })
      // The rule is keyed `https://example.com/`: both spellings of that URI are denied by it.
      expect(await codeOf(await read(1, 'https://example.com/'))).toBe(-32003)
      expect(await codeOf(await read(2, 'https://example.com'))).toBe(-32003)
      const upper = await read(3, 'HTTPS://example.com/')
      expect(upper.status).toBe(400)
      expect(await upper.json()).toMatchObject({ error: { code: -32602 } })
      // A path-less URI no rule names reaches the server, which has no such resource (its own
      // `-32602`, in a 200 answer, naming the URI as it read it).
      const other = await read(4, 'https://example.org')
      expect(other.status).toBe(200)
      expect(await other.text()).toContain('https://example.org/ not found')
    } finally {
      await ada.client.close()
    }
  })
})
