/**
 * A separate listener for `/metrics` (Node): the `metrics.listen` choice, so that scrapers reach
 * the metrics on an address the public never sees (a private interface, a sidecar port) while the
 * main listener serves no `/metrics`. It answers `GET`/`HEAD /metrics` and nothing else; with
 * `metrics.token` set it also asks for the bearer token.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { bearerMatches } from './metrics-access.js'

/** What the listener renders: a Gatehouse's `metricsRegistry` or anything shaped like it. */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string>
}

export interface MetricsListenerOptions {
  source: MetricsSource
  /** `host:port` (`[::1]:9464` for IPv6); port 0 picks a free one. */
  listen: string
  token?: string | undefined
}

export interface MetricsListener {
  /** `http://host:port/metrics` as bound (with the real port when 0 was asked). */
  readonly url: string
  close(): Promise<void>
}

/** Parses `host:port`; throws `TypeError` for anything else. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(listen)
  const port = Number(match?.[3])
  if (!match || port > 65535)
    throw new TypeError(`metrics.listen: expected host:port, got ${listen}`)
  return { host: match[1] ?? match[2] ?? '', port }
}

/** Starts the metrics listener; resolves once it is bound. */
export async function listenMetrics(options: MetricsListenerOptions): Promise<MetricsListener> {
  const { host, port } = parseListen(options.listen)
  const server = createServer((req, res) => {
    answer(req, res, options).catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => {
      server.off('error', fail)
      done()
    })
  })
  const bound = server.address() as AddressInfo
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  return {
    url: `http://${shown}:${String(bound.port)}/metrics`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => {
          done()
        })
      }),
  }
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  options: MetricsListenerOptions,
): Promise<void> {
  const path = (req.url ?? '').split('?')[0]
  const headers = { 'cache-control': 'no-store' }
  if (path !== '/metrics') {
    res.writeHead(404, headers).end()
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end()
    return
  }
  if (options.token !== undefined) {
    const request = new Request('http://metrics.invalid/metrics', {
      headers: { authorization: req.headers.authorization ?? '' },
    })
    if (!(await bearerMatches(request, options.token))) {
      res.writeHead(401, { ...headers, 'www-authenticate': 'Bearer realm="metrics"' }).end()
      return
    }
  }
  const body = await options.source.metrics()
  res.writeHead(200, { ...headers, 'content-type': options.source.contentType })
  res.end(req.method === 'HEAD' ? undefined : body)
}
