/**
 * The gateway's HTTP client (src/gateway/http-client.ts) against a raw upstream: what the gateway
 * e2e tests cannot time exactly, such as a pause that falls in the middle of one chunk of a
 * chunked body, or a status outside 200–599, which no well-behaved server sends; and what the
 * client makes of repeated headers in answers it collects whole and in answers it streams.
 */
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHTTPClient } from '../../src/gateway/http-client.js'
import { Ending } from '../../src/http/ending.js'

const sockets: Socket[] = []
const servers: ReturnType<typeof createServer>[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))))
})

/** An upstream that states one chunk of `declared` bytes, then sends `pieces` of 100 bytes, 5 ms apart, and holds the connection open. */
async function trickle(declared: number, pieces: number): Promise<string> {
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n',
      )
      socket.write(`${declared.toString(16)}\r\n`)
      let sent = 0
      const timer = setInterval(() => {
        socket.write('x'.repeat(100))
        if (++sent === pieces) clearInterval(timer)
      }, 5)
    })
  })
  servers.push(server)
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/mcp`
}

const post = {
  method: 'POST',
  headers: new Headers(),
  body: '{}',
  redirect: 'manual' as const,
}

describe('gateway HTTP client', () => {
  it('opens no connection for a call that ended before it was sent, and ends one in flight', async () => {
    let connections = 0
    const server = createServer((socket) => {
      connections++
      sockets.push(socket) // never answers
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/mcp`
    const client = createHTTPClient()
    try {
      const early = new Ending()
      early.end(new Error('the client left'))
      await expect(client.fetch(url, { ...post, ending: early })).rejects.toThrow('the client left')
      await new Promise((done) => setTimeout(done, 100))
      expect(connections).toBe(0)

      const late = new Ending()
      const call = client.fetch(url, { ...post, ending: late })
      await expect.poll(() => connections).toBe(1)
      late.end(new Error('timeout'))
      await expect(call).rejects.toThrow('timeout')
    } finally {
      await client.close()
    }
  })

  it('after a pause in the middle of a chunk, passes on what came and then waits, never empty chunks', async () => {
    const client = createHTTPClient()
    try {
      const res = await client.fetch(await trickle(100_000, 20), post)
      // The reader lags: the client pauses the upstream after 16 pieces, inside the one chunk.
      await new Promise((done) => setTimeout(done, 300))
      const reader = res.body!.getReader()
      const lengths: number[] = []
      const waiting = Symbol('waiting')
      for (let reads = 0; reads < 200; reads++) {
        const next = await Promise.race([
          reader.read(),
          new Promise<typeof waiting>((done) => {
            setTimeout(() => {
              done(waiting)
            }, 300)
          }),
        ])
        if (next === waiting || next.done) break
        lengths.push(next.value.length)
      }
      expect(lengths.filter((n) => n === 0)).toEqual([])
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(2000)
      await reader.cancel()
    } finally {
      await client.close()
    }
  })

  /** An upstream that answers every request with `head` (status line and headers) and `body`. */
  async function answering(head: string, body: string): Promise<string> {
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.once('data', () => {
        socket.write(`${head}\r\ncontent-length: ${String(body.length)}\r\n\r\n${body}`)
      })
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/mcp`
  }

  it.each([
    ['collected whole', 'application/json', '{"jsonrpc":"2.0","id":1,"result":{}}'],
    ['streamed', 'text/event-stream', 'data: {}\n\n'],
  ])('keeps every value of a repeated header of an answer %s', async (_, type, body) => {
    const client = createHTTPClient()
    try {
      const url = await answering(
        `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\nvary: Origin\r\nvary: Accept\r\nset-cookie: a=1\r\nset-cookie: b=2`,
        body,
      )
      const res = await client.fetch(url, post)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(type)
      expect(res.headers.get('vary')).toBe('Origin, Accept')
      expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
      expect(await res.text()).toBe(body)
    } finally {
      await client.close()
    }
  })

  it.each(['application/json', 'text/event-stream'])(
    'fails the call for a status no Web Response can carry (%s)',
    async (type) => {
      const client = createHTTPClient()
      try {
        const url = await answering(`HTTP/1.1 999 Odd\r\ncontent-type: ${type}`, '{}')
        await expect(client.fetch(url, post)).rejects.toThrow()
      } finally {
        await client.close()
      }
    },
  )

  it('sends the headers it is given', async () => {
    let seen = ''
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.once('data', (data: Buffer) => {
        seen = data.toString('latin1')
        socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      })
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/mcp`
    const client = createHTTPClient()
    try {
      const headers = new Headers({
        'content-type': 'application/json',
        'x-route-secret': 's3cr3t',
      })
      const res = await client.fetch(url, { ...post, headers })
      expect(res.status).toBe(204)
      expect(seen).toMatch(/\r\ncontent-type: application\/json\r\n/i)
      expect(seen).toMatch(/\r\nx-route-secret: s3cr3t\r\n/i)
    } finally {
      await client.close()
    }
  })
})
