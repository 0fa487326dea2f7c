/**
 * The one listener of the CLI's servers (`dev`, `serve`): a `node:http` server that answers 503
 * `starting` until the Web-standard app is ready, then serves it through the `node:http` adapter;
 * and the command's life after start-up: the banner, then a run until SIGTERM or SIGINT that
 * drains and stops.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeHandler, type NodeAdapterOptions, type WebHandler } from '../adapters/node.js'

/** A listening `node:http` server whose Web-standard app is set once it is built. */
export interface Listener {
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number
  /** Serves `app` from now on; until then every request gets 503 `starting`. */
  serve(app: WebHandler, options?: NodeAdapterOptions): void
  /** Drops open connections and stops listening. */
  close(): Promise<void>
}

/** Listens on `host:port` (default 127.0.0.1; port 0 picks a free one). */
export async function startListener(port: number, host = '127.0.0.1'): Promise<Listener> {
  let handler = toNodeHandler(() => Promise.resolve(new Response('starting', { status: 503 })))
  const server = createServer((req, res) => {
    handler(req, res)
  })
  await listen(server, port, host)
  return {
    port: (server.address() as AddressInfo).port,
    serve(app, options) {
      handler = toNodeHandler(app, options)
    },
    close: () => closeServer(server),
  }
}

/** Where the stop signals come from (`process`; tests pass their own). */
export interface Signals {
  once(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown
}

/**
 * Prints `banner`, waits for SIGTERM or SIGINT, runs `stop` (drain: requests in flight finish),
 * then prints `stopped`. Resolves with exit code 0.
 */
export async function runUntilSignal(run: {
  out: NodeJS.WritableStream
  banner: string
  stop: () => Promise<void>
  stopped: string
  signals?: Signals
}): Promise<number> {
  const signals = run.signals ?? process
  run.out.write(run.banner)
  await new Promise<void>((done) => {
    signals.once('SIGINT', done)
    signals.once('SIGTERM', done)
  })
  await run.stop()
  run.out.write(run.stopped)
  return 0
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => {
      server.off('error', fail)
      done()
    })
  })
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((done) =>
    server.close(() => {
      done()
    }),
  )
}
