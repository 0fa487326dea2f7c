/**
 * The Node connection layer of the guarded fetch: one DNS resolution per request, every answer
 * checked by the guard's policy, and the connection made to the checked address itself (TLS
 * server name and Host header from the URL), so a second, different answer (DNS rebinding) is
 * never used. Optionally through an HTTP CONNECT egress proxy, to the pinned address.
 */
import { lookup } from 'node:dns/promises'
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'

import { UpstreamError } from '../errors.js'
import type { GuardedTransport, TransportRequest } from '../http/guarded-fetch.js'

/** Resolves a host name to IP addresses (every A and AAAA answer). */
export type Resolve = (hostname: string) => Promise<string[]>

/** Options of `createNodeTransport`. */
export interface NodeTransportOptions {
  /** The resolver; default `dns.lookup` with every answer. Tests inject names here. */
  resolve?: Resolve
  /** Trusted CA certificates (PEM) instead of Node's default roots; for private PKIs and tests. */
  ca?: string | readonly string[]
  /**
   * An egress proxy (`http://host:port`) every request tunnels through with `CONNECT` to the
   * already checked address; the proxy never resolves names. Credentials in the URL are sent as
   * `Proxy-Authorization: Basic`.
   */
  proxy?: string
}

/**
 * Creates the transport for `createGuardedFetch({ transport })` and `createGatehouse({ transport })`.
 *
 * Every answer of the resolver must pass the guard's address check, else the request is refused
 * before any connection (a name with one private answer is refused as a whole); the request then
 * goes to the first answer. No redirect is followed; the response body streams and is cancelled
 * when the guard stops reading.
 */
export function createNodeTransport(options: NodeTransportOptions = {}): GuardedTransport {
  const resolve = options.resolve ?? limitConcurrency(resolveAll, MAX_CONCURRENT_LOOKUPS)
  const proxy = options.proxy === undefined ? undefined : parseProxy(options.proxy)
  const ca = options.ca === undefined ? undefined : [options.ca].flat()
  return async (request) => {
    const { url } = request
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const literal = isIP(host) !== 0
    const addresses = literal ? [host] : await resolve(host)
    if (addresses.length === 0) {
      throw new UpstreamError('ERR_UPSTREAM', `${url.origin} could not be resolved`)
    }
    for (const address of addresses) request.checkAddress(address)
    const address = addresses[0] as string
    request.signal.throwIfAborted()
    const secure = url.protocol === 'https:'
    const port = Number(url.port || (secure ? 443 : 80))
    const tls = {
      // SNI carries names only; the certificate is checked against the name (or the literal).
      ...(literal ? {} : { servername: host }),
      host: literal ? address : host,
      ...(ca ? { ca } : {}),
    }
    const base: RequestOptions = {
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers: { ...Object.fromEntries(request.headers), host: url.host },
      signal: request.signal,
    }
    if (proxy) {
      const socket = await tunnel(proxy, address, port, request.signal)
      return exchange(secure ? httpsRequest : httpRequest, request, {
        ...base,
        // No agent: Node then takes the connection from `createConnection` (never pooled).
        createConnection: () => (secure ? tlsConnect({ ...tls, socket }) : socket),
      })
    }
    return exchange(secure ? httpsRequest : httpRequest, request, {
      ...base,
      ...tls,
      host: address,
      port,
      agent: false,
    })
  }
}

/**
 * `dns.lookup` runs on libuv's small shared thread pool (4 threads by default, also used by file
 * access and Web Crypto) and cannot be cancelled: names whose nameserver never answers would hold
 * threads long after the fetch's deadline. At most this many lookups run at once per transport.
 */
const MAX_CONCURRENT_LOOKUPS = 2
const MAX_QUEUED_LOOKUPS = 64

function limitConcurrency(fn: Resolve, max: number): Resolve {
  let active = 0
  const queue: (() => void)[] = []
  const release = () => {
    active--
    queue.shift()?.()
  }
  return async (hostname) => {
    if (active >= max) {
      if (queue.length >= MAX_QUEUED_LOOKUPS) throw new Error('too many name lookups waiting')
      await new Promise<void>((resolve) => queue.push(resolve))
    }
    active++
    try {
      return await fn(hostname)
    } finally {
      release()
    }
  }
}

async function resolveAll(hostname: string): Promise<string[]> {
  const answers = await lookup(hostname, { all: true, verbatim: true })
  return answers.map((a) => a.address)
}

type RequestFn = typeof httpRequest

function exchange(
  send: RequestFn,
  request: TransportRequest,
  options: RequestOptions,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const req = send(options, (res: IncomingMessage) => {
      try {
        resolve(toResponse(res, request.method))
      } catch (error) {
        res.destroy()
        reject(error instanceof Error ? error : new Error('bad response'))
      }
    })
    req.on('error', reject)
    if (request.body === undefined) req.end()
    else req.end(request.body)
  })
}

const NULL_BODY = new Set([204, 205, 304])

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers()
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    headers.append(res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '')
  }
  const status = res.statusCode ?? 502
  if (NULL_BODY.has(status) || method === 'HEAD') {
    res.resume()
    return new Response(null, { status, headers })
  }
  const body = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>
  return new Response(body, { status, headers })
}

interface Proxy {
  host: string
  port: number
  authorization?: string
}

function parseProxy(value: string): Proxy {
  const url = new URL(value)
  if (url.protocol !== 'http:') throw new TypeError('the egress proxy must be an http:// URL')
  const user = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    ...(user !== ''
      ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
      : {}),
  }
}

/** Opens a `CONNECT` tunnel to `address:port` through the proxy. */
function tunnel(proxy: Proxy, address: string, port: number, signal: AbortSignal): Promise<Socket> {
  const target = `${isIP(address) === 6 ? `[${address}]` : address}:${port}`
  return new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({
      host: proxy.host,
      port: proxy.port,
      method: 'CONNECT',
      path: target,
      headers: {
        host: target,
        ...(proxy.authorization ? { 'proxy-authorization': proxy.authorization } : {}),
      },
      signal,
      agent: false,
    })
    req.once('connect', (res, socket) => {
      res.resume()
      if (res.statusCode !== 200) {
        socket.destroy()
        reject(new UpstreamError('ERR_UPSTREAM', 'the egress proxy refused the connection'))
        return
      }
      resolve(socket)
    })
    req.once('error', reject)
    req.end()
  })
}
