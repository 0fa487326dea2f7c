/**
 * Serve a Web-standard handler from `node:http`: translation only, no protocol logic.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

import { OAuthError, toErrorResponse } from '../errors.js'
import { setClientAddress } from '../http/rate-limit.js'

/** A Web-standard request handler, such as Gatehouse's auth handler or `honoApp.fetch`. */
export type WebHandler = (request: Request) => Response | Promise<Response>

/** How Node requests become Web requests. */
export interface NodeAdapterOptions {
  /** Largest request body the handler may read; default 1 MiB. More answers 413. */
  maxBodyBytes?: number
  /** Take the origin from `X-Forwarded-Proto`/`X-Forwarded-Host`; default `false`. */
  trustProxy?: boolean
  /** The public origin (`https://as.example`); when set, Host and X-Forwarded-* are ignored. */
  baseUrl?: string
  /**
   * Host header values accepted (e.g. `['127.0.0.1:8787', 'localhost:8787']`); any other answers
   * 421. Protects loopback deployments from DNS rebinding (MCP transports §Security Warning).
   */
  allowedHosts?: readonly string[]
  /**
   * Experimental, default `false`: start each request's handler in a later macrotask
   * (`setImmediate`) instead of inside the socket's read callback. See docs/benchmarks.md
   * (the yield study) for what it changes and why it stays off.
   */
  yieldBeforeHandler?: boolean
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** Largest response body of stated length that is read whole and written at once. */
const WHOLE_BODY_BYTES = 64 * 1024
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/
const tooLarge = new WeakSet<Request>()

/**
 * Wraps a Web handler as a `node:http` request listener.
 *
 * Bodies over `maxBodyBytes` answer 413 `invalid_request`; an unusable Host or request target
 * answers 400; a handler that throws answers 500 `server_error` (never with the error text).
 */
export function toNodeHandler(
  handler: WebHandler,
  options: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    handleNodeRequest(handler, req, res, options)
      .then((response) => sendWebResponse(res, response))
      .catch(() => res.destroy()) // e.g. a header value Node refuses: nothing sane left to send
  }
  return options.yieldBeforeHandler === true ? (req, res) => setImmediate(serve, req, res) : serve
}

/**
 * Runs the handler for a Node request and settles on the response to send, without sending it.
 *
 * The request's `signal` aborts when the client leaves before the response is done. Answers 400
 * when no Web request can be built, 413 when the handler hit the body cap, 500 `server_error`
 * when it threw (core handlers do not throw; the error is not reported anywhere else).
 */
export async function handleNodeRequest(
  handler: WebHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeAdapterOptions = {},
): Promise<Response> {
  const aborted = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort()
  })
  const host = req.headers.host?.toLowerCase()
  if (options.allowedHosts && (host === undefined || !options.allowedHosts.includes(host))) {
    const misdirected = new OAuthError('invalid_request', 'this server does not serve that host', {
      reason: 'host_not_allowed',
      status: 421,
    })
    return toErrorResponse(misdirected)
  }
  let request: Request
  try {
    request = toWebRequest(req, { ...options, signal: aborted.signal })
  } catch (error) {
    return toErrorResponse(new OAuthError('invalid_request', 'malformed request', { cause: error }))
  }
  let response: Response
  try {
    response = await handler(request)
  } catch (error) {
    response = toErrorResponse(error)
  }
  if (!tooLarge.has(request)) return response
  await response.body?.cancel().catch(() => undefined)
  // The rest of the body stays unread: close the connection rather than drain it.
  const error = new OAuthError('invalid_request', 'request body too large', {
    status: 413,
    reason: 'body_too_large',
    headers: { connection: 'close' },
  })
  return toErrorResponse(error)
}

/**
 * Builds the Web `Request` for a Node request; the body streams lazily, only as the handler reads.
 *
 * The origin comes from `baseUrl`, else (with `trustProxy`) `X-Forwarded-Proto`/`-Host`, else the
 * Host header. Express's `originalUrl` is used when present. Throws `TypeError` for an unusable
 * Host or request target.
 */
export function toWebRequest(
  req: IncomingMessage,
  options: NodeAdapterOptions & { signal?: AbortSignal } = {},
): Request {
  const target = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/'
  // Absolute-form targets (`GET http://evil.test/`) must not choose the origin.
  if (!target.startsWith('/')) throw new TypeError('request target must be a path')
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? ''
    if (!name.startsWith(':')) headers.append(name, req.rawHeaders[i + 1] ?? '')
  }
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const init: RequestInit & { duplex?: 'half' } = { method, headers }
  if (options.signal) init.signal = options.signal
  if (hasBody) {
    init.body = bodyStream(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, () => {
      tooLarge.add(request)
    })
    init.duplex = 'half'
  }
  const request = new Request(`${originOf(req, options)}${target}`, init)
  setClientAddress(request, req.socket.remoteAddress)
  return request
}

/**
 * Writes a Web `Response` to a Node response: status, every header (each Set-Cookie on its own
 * line), and the body streamed chunk by chunk with backpressure, so SSE works.
 *
 * When the client goes away the body stream is cancelled; when the body stream fails midway the
 * connection is destroyed (the status line has gone already).
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value)
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  if (!response.body) {
    res.end()
    return
  }
  // A small body of stated length leaves in one write with the headers, not chunk by chunk.
  const length = Number(response.headers.get('content-length') ?? NaN)
  if (length <= WHOLE_BODY_BYTES) {
    try {
      res.end(new Uint8Array(await response.arrayBuffer()))
    } catch (error) {
      res.destroy(error instanceof Error ? error : undefined)
    }
    return
  }
  const reader = response.body.getReader()
  const cancel = (): void => void reader.cancel().catch(() => undefined)
  res.once('close', cancel)
  // What is written in this turn of the event loop (the headers, a first event, the end of a short
  // stream) leaves in one write instead of one each. The socket itself is held: `res.socket` is
  // gone once the response ends, and a socket left corked would never send again.
  const socket = res.socket
  socket?.cork()
  setImmediate(() => socket?.uncork())
  try {
    // Event streams may wait long for their first event: the client should see the headers now.
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) res.flushHeaders()
    for (;;) {
      const { done, value } = await reader.read()
      if (done || res.destroyed) break
      if (!res.write(value)) await drained(res)
    }
    if (!res.destroyed) res.end()
  } catch (error) {
    res.destroy(error instanceof Error ? error : undefined)
  } finally {
    res.off('close', cancel)
  }
}

function originOf(req: IncomingMessage, options: NodeAdapterOptions): string {
  if (options.baseUrl !== undefined) return new URL(options.baseUrl).origin
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  let protocol = encrypted ? 'https' : 'http'
  let host = req.headers.host
  if (options.trustProxy) {
    const proto = firstValue(req.headers['x-forwarded-proto'])?.toLowerCase()
    if (proto === 'http' || proto === 'https') protocol = proto
    host = firstValue(req.headers['x-forwarded-host']) ?? host
  }
  if (host === undefined || !HOST.test(host)) throw new TypeError('unusable Host header')
  return `${protocol}://${host}`
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header
  return value?.split(',')[0]?.trim() || undefined
}

/** A pull-based body: nothing is read from the socket until the handler reads the body. */
function bodyStream(req: IncomingMessage, max: number, onTooLarge: () => void): ReadableStream {
  let received = 0
  let chunks: AsyncIterator<Buffer> | undefined
  const overflow = (controller: ReadableStreamDefaultController): void => {
    onTooLarge()
    controller.error(new RangeError('request body too large'))
  }
  return new ReadableStream(
    {
      async pull(controller) {
        if (chunks === undefined) {
          // Refuse a declared oversize body without reading any of it.
          if (Number(req.headers['content-length'] ?? 0) > max) {
            overflow(controller)
            return
          }
          chunks = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>
        }
        const next = await chunks.next()
        if (next.done) {
          controller.close()
          return
        }
        received += next.value.byteLength
        if (received > max) {
          overflow(controller)
          return
        }
        controller.enqueue(new Uint8Array(next.value))
      },
    },
    { highWaterMark: 0 },
  )
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
export { nodeSignatureVerifier } from './node-crypto.js'
export { nodeValueCipher } from './node-value-cipher.js'
export { nodeSignatureSigner } from './node-signer.js'
export { nodeSha256 } from './node-sha256.js'
export { nodeCrypto } from './node-crypto-options.js'
export { createNodeTransport } from './node-transport.js'
export type { NodeTransportOptions, Resolve } from './node-transport.js'
export { listenMetrics } from '../ops/metrics-listener.js'
export type { MetricsListener, MetricsListenerOptions } from '../ops/metrics-listener.js'
