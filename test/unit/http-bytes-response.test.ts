/**
 * The in-memory answer of the gateway's HTTP client (src/http/bytes-response.ts) must read like
 * the `Response` it stands for, whichever way it is read, and reach the wire through the Node
 * adapter with the length of what it carries.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { BytesResponse } from '../../src/http/bytes-response.js'

const JSON_TEXT = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"héllo"}]}}'
const init = () => ({ status: 200, headers: { 'content-type': 'application/json' } })
/** The same answer twice: the in-memory one and the plain `Response` it stands for. */
const pair = () => [
  new BytesResponse(new TextEncoder().encode(JSON_TEXT), init()),
  new Response(JSON_TEXT, init()),
]

async function drain(body: ReadableStream<Uint8Array> | null): Promise<string> {
  return body === null ? '' : new Response(body).text()
}

describe('BytesResponse reads as a Response over the same bytes', () => {
  const readers: [string, (r: Response) => Promise<unknown>][] = [
    ['text()', (r) => r.text()],
    ['json()', (r) => r.json()],
    ['arrayBuffer()', async (r) => new TextDecoder().decode(await r.arrayBuffer())],
    ['bytes()', async (r) => new TextDecoder().decode(await r.bytes())],
    ['blob()', async (r) => (await r.blob()).text()],
    ['body', (r) => drain(r.body)],
    ['new Response(r.body, r)', (r) => new Response(r.body, r).text()],
    ['clone()', async (r) => [await r.clone().text(), await r.text()]],
  ]
  for (const [name, read] of readers) {
    it(`${name}: the same value, and the body counts as used after`, async () => {
      const [mine, plain] = pair() as [Response, Response]
      expect(mine.bodyUsed).toBe(false)
      expect(await read(mine)).toEqual(await read(plain))
      expect(mine.bodyUsed).toBe(plain.bodyUsed)
      expect(mine.status).toBe(200)
      expect(mine.headers.get('content-type')).toBe('application/json')
      expect(mine).toBeInstanceOf(Response)
    })
  }

  it('a second read is refused with a TypeError, as for any Response', async () => {
    for (const second of [
      (r: Response) => r.text(),
      (r: Response) => r.json(),
      (r: Response) => r.arrayBuffer(),
      (r: Response) => r.blob(),
    ]) {
      const [mine] = pair() as [Response]
      await mine.text()
      await expect(second(mine)).rejects.toThrow(TypeError)
      expect(() => mine.clone()).toThrow(TypeError)
    }
  })

  it('once its body stream is out, every read goes through that stream', async () => {
    const [mine] = pair() as [Response]
    const reader = mine.body!.getReader()
    await expect(mine.text()).rejects.toThrow(TypeError)
    reader.releaseLock()
    expect(await mine.text()).toBe(JSON_TEXT)
    expect(mine.bodyUsed).toBe(true)
  })

  it('a clone carries the same status, headers and bytes and reads on its own', async () => {
    const mine = new BytesResponse(new TextEncoder().encode('{}'), {
      status: 404,
      statusText: 'Not Found',
      headers: { 'mcp-session-id': 'abc' },
    })
    const copy = mine.clone()
    expect([copy.status, copy.statusText, copy.headers.get('mcp-session-id')]).toEqual([
      404,
      'Not Found',
      'abc',
    ])
    expect(await copy.text()).toBe('{}')
    expect(await mine.text()).toBe('{}')
    // The same once the body was exposed as a stream (the clone then comes from that stream).
    const exposed = new BytesResponse(new TextEncoder().encode('{}'), {
      status: 404,
      statusText: 'Not Found',
    })
    expect(exposed.body).not.toBeNull()
    const later = exposed.clone()
    expect([later.status, later.statusText, await later.text()]).toEqual([404, 'Not Found', '{}'])
  })

  it('gives bytes from a pooled Buffer as exactly its own, never the pool around them', async () => {
    // Buffer.concat of small pieces is carved from Node's shared 8 KiB pool (as the gateway's HTTP
    // client collects an answer): the view's `.buffer` holds whatever else the process read.
    const pooled = (): Uint8Array<ArrayBuffer> =>
      Buffer.concat([Buffer.from('{"a":'), Buffer.from('1}')])
    expect(pooled().buffer.byteLength).toBeGreaterThan(7)
    const buffer = await new BytesResponse(pooled(), init()).arrayBuffer()
    const bytes = await new BytesResponse(pooled(), init()).bytes()
    expect(buffer.byteLength).toBe(7)
    expect([bytes.byteLength, bytes.buffer.byteLength, Buffer.isBuffer(bytes)]).toEqual([
      7,
      7,
      false,
    ])
    expect(new TextDecoder().decode(buffer)).toBe('{"a":1}')
  })

  it('a body that is not JSON rejects json() with the same error type as a Response', async () => {
    const mine = new BytesResponse(new TextEncoder().encode('not json'), init())
    const plain = new Response('not json', init())
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e,
      )
    const [a, b] = [await errorOf(mine.json()), await errorOf(plain.json())]
    expect(a).toBeInstanceOf(SyntaxError)
    expect(b).toBeInstanceOf(SyntaxError)
  })

  it('refuses a body with a status that has none (204, 205, 304) when made, as a Response does', () => {
    const bytes = () => new TextEncoder().encode(JSON_TEXT)
    for (const status of [204, 205, 304]) {
      expect(() => new Response(bytes(), { status })).toThrow(TypeError)
      expect(() => new BytesResponse(bytes(), { status })).toThrow(TypeError)
    }
    // The same statuses without a body, and other statuses with one, are fine.
    expect(new Response(null, { status: 204 }).status).toBe(204)
    expect(new BytesResponse(bytes(), { status: 202 }).status).toBe(202)
  })
})

describe('BytesResponse through the Node adapter', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise((done) => server?.close(done))
    server = undefined
  })

  async function serve(answer: () => Response): Promise<string> {
    server = createServer(toNodeHandler(() => answer()))
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done))
    return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/`
  }

  it('sends the bytes with their own length, whatever Content-Length the answer stated', async () => {
    const url = await serve(
      () =>
        new BytesResponse(new TextEncoder().encode(JSON_TEXT), {
          status: 200,
          headers: { 'content-type': 'application/json', 'content-length': '3' },
        }),
    )
    const res = await fetch(url)
    const bytes = new TextEncoder().encode(JSON_TEXT).byteLength
    expect(res.headers.get('content-length')).toBe(String(bytes))
    expect(await res.text()).toBe(JSON_TEXT)
    // The connection is still usable: a stated length that lied would have desynchronised it.
    expect(await (await fetch(url)).text()).toBe(JSON_TEXT)
  })

  it('sends every Set-Cookie and the status of the answer', async () => {
    const url = await serve(() => {
      const headers = new Headers({ 'content-type': 'application/json' })
      headers.append('set-cookie', 'a=1')
      headers.append('set-cookie', 'b=2')
      return new BytesResponse(new TextEncoder().encode('{}'), { status: 202, headers })
    })
    const res = await fetch(url)
    expect(res.status).toBe(202)
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await res.text()).toBe('{}')
  })

  it('sends an answer whose body was already exposed as a stream through that stream', async () => {
    const url = await serve(() => {
      const mine = new BytesResponse(new TextEncoder().encode(JSON_TEXT), init())
      // Something on the way looked at the stream: the bytes can no longer be taken.
      expect(mine.body).not.toBeNull()
      return mine
    })
    const res = await fetch(url)
    expect(await res.text()).toBe(JSON_TEXT)
  })
})
