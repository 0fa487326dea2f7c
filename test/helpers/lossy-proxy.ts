/**
 * A TCP proxy on 127.0.0.1 that injects the two network faults a store client must survive: a
 * reply lost after the server ran the command, and a stall that delivers a command late. Put it
 * between a store and a real Redis (`redis://127.0.0.1:${proxy.port}`).
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface LossyProxy {
  port: number
  /**
   * The next command whose bytes contain `marker` (case-insensitive, e.g. `evalsha`) reaches the
   * server and runs, but its reply never comes back: the connection is cut as the reply arrives.
   * A `-NOSCRIPT` reply is passed through (the command did not run; the client sends it again
   * with `EVAL`, which contains `eval` too).
   */
  loseNextReplyTo(marker: string): void
  /**
   * The next chunk containing `marker` (and whatever the client sends after it on that
   * connection) is held for `ms`, then delivered to the server, even when the client has hung up
   * meanwhile: bytes already on the wire still arrive.
   */
  stallOnNext(marker: string, ms: number): void
  /** Whether the last armed fault fired. */
  fired(): boolean
  close(): Promise<void>
}

/** Starts a proxy to `targetHost:targetPort` on a free port of 127.0.0.1. */
export async function lossyProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<LossyProxy> {
  let armed: string | undefined
  let stall: { marker: string; ms: number } | undefined
  let fired = false
  const sockets = new Set<Socket>()
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost)
    sockets.add(client)
    sockets.add(upstream)
    let awaitingLostReply = false
    let held: Buffer[] | undefined

    const closeBoth = () => {
      client.destroy()
      // Held bytes still reach the server; the upstream closes once they are written.
      if (held === undefined) upstream.destroy()
    }

    client.on('data', (chunk: Buffer) => {
      if (held !== undefined) {
        held.push(chunk)
        return
      }
      const text = chunk.toString('latin1').toLowerCase()
      if (stall !== undefined && text.includes(stall.marker)) {
        const buffer: Buffer[] = [chunk]
        held = buffer
        fired = true
        const timer = setTimeout(() => {
          timers.delete(timer)
          held = undefined
          if (upstream.destroyed) return
          for (const c of buffer) upstream.write(c)
          if (client.destroyed) upstream.end()
        }, stall.ms)
        timers.add(timer)
        stall = undefined
        return
      }
      if (armed !== undefined && text.includes(armed)) awaitingLostReply = true
      upstream.write(chunk)
    })

    upstream.on('data', (chunk: Buffer) => {
      if (awaitingLostReply) {
        if (chunk.toString('latin1').startsWith('-NOSCRIPT')) {
          client.write(chunk)
          return
        }
        // The server ran the command; its reply never reaches the client.
        awaitingLostReply = false
        armed = undefined
        fired = true
        client.destroy()
        upstream.destroy()
        return
      }
      if (!client.destroyed) client.write(chunk)
    })

    client.on('error', closeBoth)
    client.on('close', closeBoth)
    upstream.on('error', () => {
      client.destroy()
      upstream.destroy()
    })
    upstream.on('close', () => {
      client.destroy()
    })
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('lossy proxy: no port')
  return {
    port: address.port,
    loseNextReplyTo(marker) {
      armed = marker.toLowerCase()
      fired = false
    },
    stallOnNext(marker, ms) {
      stall = { marker: marker.toLowerCase(), ms }
      fired = false
    },
    fired: () => fired,
    async close() {
      for (const timer of timers) clearTimeout(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
    },
  }
}
