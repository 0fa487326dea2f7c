/**
 * SEP-2243 (MCP 2026-07-28): a client sends an `Mcp-Name` that cannot go as plain ASCII (here a
 * tool named `café`) as `=?base64?<Base64 of its UTF-8>?=`, and the gateway decodes it before
 * comparing it with the body. One that decodes to another name, or does not decode strictly
 * (padding left off, bytes that are not UTF-8), answers `400` with `-32020`. Through
 * `gatehouse serve` to a recording upstream that shows what crosses the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServe } from '../../src/cli/serve.js'
import { connectAs, post, serveRoutes, startRecorder } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const MODERN = '2026-07-28'

let recorder: Awaited<ReturnType<typeof startRecorder>>
let serve: RunningServe

beforeAll(async () => {
  recorder = await startRecorder()
  serve = await serveRoutes(
    [{ path: '/rec', upstream: { kind: 'http', url: recorder.url } }],
    [ADA],
  )
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (recorder as typeof recorder | undefined)?.stop()
})

/** A 2026-07-28 `tools/call` of `name` with `mcpName` as its `Mcp-Name` header. */
function callAs(url: string, token: string, id: number, name: string, mcpName: string) {
  return post(
    url,
    token,
    {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name,
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': mcpName },
  )
}

const encoded = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`

describe('gatehouse serve: an encoded Mcp-Name', () => {
  it('decodes the =?base64?…?= form before comparing it with the body', async () => {
    const url = serve.routes['/rec']!
    const ada = await connectAs(url, ADA)
    try {
      const token = ada.provider.saved!.access_token
      expect(encoded('café')).toBe('=?base64?Y2Fmw6k=?=')
      const res = await callAs(url, token, 1, 'café', encoded('café'))
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('ok')
      // The server gets the header as the client wrote it, to decode for itself.
      expect(recorder.seen.at(-1)?.['mcp-name']).toBe('=?base64?Y2Fmw6k=?=')
      // A plain name is compared as it is.
      expect((await callAs(url, token, 2, 'noop', 'noop')).status).toBe(200)
    } finally {
      await ada.client.close()
    }
  })

  it('answers -32020 for an encoded name of another tool, or one that does not decode', async () => {
    const url = serve.routes['/rec']!
    const ada = await connectAs(url, ADA)
    try {
      const token = ada.provider.saved!.access_token
      const refused = [
        encoded('cafe'),
        encoded('noop'),
        '=?base64?Y2Fmw6k?=', // padding left off
        '=?base64?Y2Fmw6l=?=', // stray bits in the last character
        '=?base64?/w==?=', // 0xff: not UTF-8
        '=?BASE64?Y2Fmw6k=?=', // the markers are lower case
      ]
      for (const header of refused) {
        const res = await callAs(url, token, 3, 'café', header)
        expect(res.status, header).toBe(400)
        expect(await res.json()).toMatchObject({ id: 3, error: { code: -32020 } })
      }
      const reached = recorder.seen.map((h) => h['mcp-name'])
      expect(reached.filter((name) => refused.includes(String(name)))).toEqual([])
    } finally {
      await ada.client.close()
    }
  })
})
