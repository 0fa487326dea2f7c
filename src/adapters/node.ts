/**
 * Serve a Web-standard handler from `node:http`: translation only, no protocol logic.
 *
 * Written here rather than taken from `@hono/node-server`: Gatehouse needs a Host allow-list, the
 * origin only from `baseUrl` or a trusted proxy, absolute-form targets refused and a cap on
 * chunked bodies, which that listener does not offer. bench/adapter.bench.mjs measures both for a
 * sign-in's two requests (Node 20.20.2, 2026-12-07): 97.7 µs of server CPU per request here by
 * default, 82.5 with `holdSmallBody` and 68.4 with `lightRequest` too (the options `gatehouse
 * serve` sets), against 63.5 µs for that listener with the global `Request`/`Response` kept and
 * 27.8 µs for `node:http` by hand. Much of what is left is the handler's own `Response`: one
 * made with a 1 KB body costs ~27 µs of CPU on Node 20 (a web stream for its body), which Hono's
 * listener avoids only by replacing the global `Response`, as a library must not.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

import { OAuthError, toErrorResponse } from '../errors.js'
import { Ending, recordDeparture } from '../http/ending.js'
import { HELD_BODY, HoldingBytes, takeBytes } from '../http/held-body.js'
import { setClientAddress } from '../http/rate-limit.js'
import {
  cloneHeld,
  followingSignal,
  holdBody,
  LIGHT_METHODS,
  LightRequest,
  type SignalSource,
} from './light-request.js'

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
  /**
   * Default `false`: a body read whole before the handler runs (a stated length up to 64 KiB) is
   * kept as bytes beside a body-less `Request` instead of becoming a web stream. The request's own
   * members (`body`, `text()`, `json()`, `formData()`, `clone()`, ...) give it as usual, but
   * `new Request(request)` and `fetch(request)` carry no body: set it only for handlers that never
   * do either, as `gatehouse serve` does. Building the `Request` costs ~6 µs less on Node 24 and
   * ~17 µs less on Node 20, and reading the body needs no stream (`src/http/held-body.ts`; the
   * gateway's CPU per proxied call with it: docs/benchmarks.md, Gateway).
   */
  holdSmallBody?: boolean
  /**
   * Default `false`: the handler gets a light request, which builds undici's `Request` only when
   * a member other than `method`, `url`, `headers`, `signal` and the body is used (a small body is
   * then held as bytes, as with `holdSmallBody`). Every member of `Request` works, `clone()` too,
   * but `new Request(request)` and `fetch(request)` throw `TypeError`: set it only for handlers
   * that never pass the request on whole, as `gatehouse serve` does for Gatehouse's own. Saves
   * ~10 µs of CPU a request on Node 20 and 22 (`src/adapters/light-request.ts`).
   */
  lightRequest?: boolean
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
 * answers 400; a handler that throws answers 500 `server_error` (never with the error text). A
 * body of stated length up to 64 KiB is read before the handler runs; a client that leaves before
 * sending all of it never reaches the handler.
 *
 * The request's `signal` aborts when the client leaves before the response is done, and so does
 * a `clone()`'s. A new `Request` made from it (`new Request(request)`, `fetch(request)`) does not
 * follow it: pass `{ signal: request.signal }` where an upstream call should stop with the client.
 */
export function toNodeHandler(
  handler: WebHandler,
  options: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    answer(handler, req, res, options, true)
      .then((response) => sendWebResponse(res, response))
      .catch(() => res.destroy()) // e.g. a header value Node refuses: nothing sane left to send
  }
  return options.yieldBeforeHandler === true ? (req, res) => setImmediate(serve, req, res) : serve
}

/**
 * Runs the handler for a Node request and settles on the response to send, without sending it.
 * The body is read only as the handler reads it.
 *
 * The request's `signal` aborts when the client leaves before the response is done (as in
 * {@link toNodeHandler}). Answers 400
 * when no Web request can be built, 413 when the handler hit the body cap, 500 `server_error`
 * when it threw (core handlers do not throw; the error is not reported anywhere else).
 */
export function handleNodeRequest(
  handler: WebHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeAdapterOptions = {},
): Promise<Response> {
  return answer(handler, req, res, options, false)
}

/**
 * `handleNodeRequest`, and with `readSmallBody` a body of stated length up to 64 KiB (and within
 * `maxBodyBytes`) is read before the handler runs and handed to it whole: a web stream over the
 * socket costs ~10 µs a request more on Node 20 (bench/adapter.bench.mjs). The Express middleware
 * does not, because a request Gatehouse does not handle keeps its body for the app.
 */
async function answer(
  handler: WebHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeAdapterOptions,
  readSmallBody: boolean,
): Promise<Response> {
  // The client's departure: an `AbortSignal` only when a handler asks for one (~7 µs on Node 20).
  const departure = new Ending()
  res.once('close', () => {
    if (!res.writableFinished) departure.end()
  })
  const host = req.headers.host?.toLowerCase()
  if (options.allowedHosts && (host === undefined || !options.allowedHosts.includes(host))) {
    const misdirected = new OAuthError('invalid_request', 'this server does not serve that host', {
      reason: 'host_not_allowed',
      status: 421,
    })
    return toErrorResponse(misdirected)
  }
  let body: Buffer | undefined
  // Only a body nobody has begun to read (a listener that wraps this one may have).
  const unread = !req.readableEnded && !req.readableDidRead
  if (
    readSmallBody &&
    unread &&
    hasSmallBody(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
  ) {
    body = req.destroyed ? undefined : await readWhole(req)
    if (body === undefined) {
      return toErrorResponse(new OAuthError('invalid_request', 'the request body was cut off'))
    }
  }
  let request: Request
  try {
    request = buildRequest(req, options, { own: departure }, body)
    recordDeparture(request, departure)
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
 * Builds the Web `Request` for a Node request; the body streams lazily, only as the handler reads,
 * unless it was read whole already (`wholeBody`): then it is the request's body, or with
 * `holdSmallBody` held beside it as bytes.
 *
 * The origin comes from `baseUrl`, else (with `trustProxy`) `X-Forwarded-Proto`/`-Host`, else the
 * Host header. Express's `originalUrl` is used when present. Throws `TypeError` for an unusable
 * Host or request target. With `signal`, the request's signal follows it, and so does that of
 * every `Request` made from this one.
 */
export function toWebRequest(
  req: IncomingMessage,
  options: NodeAdapterOptions & { signal?: AbortSignal } = {},
): Request {
  return buildRequest(req, options, { follow: options.signal }, undefined)
}

/**
 * `own`: the request's `signal` is that source's (a {@link NodeRequest}); `follow`: a plain
 * `Request` whose signal follows it, so that every `Request` made from it follows too.
 */
function buildRequest(
  req: IncomingMessage,
  options: NodeAdapterOptions,
  signal: { own?: SignalSource; follow?: AbortSignal | undefined },
  wholeBody: Buffer | undefined,
): Request {
  const target = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/'
  // Absolute-form targets (`GET http://evil.test/`) must not choose the origin.
  if (!target.startsWith('/')) throw new TypeError('request target must be a path')
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const url = `${originOf(req, options)}${target}`
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? ''
    if (!name.startsWith(':')) headers.append(name, req.rawHeaders[i + 1] ?? '')
  }
  // A request with neither a length nor chunked coding has an empty body (RFC 9112 §6.3).
  const unframed =
    req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined
  if (
    signal.own &&
    options.lightRequest === true &&
    LIGHT_METHODS.has(method) &&
    (wholeBody !== undefined || !hasBody || unframed)
  ) {
    const bytes = (wholeBody ?? (hasBody ? new Uint8Array(0) : undefined)) as
      Uint8Array<ArrayBuffer> | undefined
    const request = new LightRequest(url, method, headers, signal.own, bytes) as Request
    setClientAddress(request, req.socket.remoteAddress)
    return request
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers }
  if (signal.follow) init.signal = signal.follow
  if (wholeBody !== undefined && signal.own && options.holdSmallBody === true) {
    const request = new NodeRequest(url, init, signal.own, wholeBody as Uint8Array<ArrayBuffer>)
    setClientAddress(request, req.socket.remoteAddress)
    return request
  }
  if (wholeBody !== undefined) {
    init.body = wholeBody as Uint8Array<ArrayBuffer>
  } else if (hasBody) {
    init.body = bodyStream(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, () => {
      tooLarge.add(request)
    })
    init.duplex = 'half'
  }
  const request = signal.own ? new NodeRequest(url, init, signal.own) : new Request(url, init)
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
  // An answer already in memory (the gateway's JSON answers) leaves as it is, with no stream.
  const bytes = takeBytes(response)
  if (bytes !== undefined) {
    res.setHeader('content-length', bytes.byteLength)
    res.end(bytes)
    return
  }
  if (!response.body) {
    res.end()
    return
  }
  // A body that is not the length its header states ends the connection with an error rather
  // than leaving bytes for the next response on it, or a client waiting for bytes never sent.
  if (response.headers.has('content-length')) res.strictContentLength = true
  // A small body of stated length leaves in one write with the headers, not chunk by chunk. Read
  // through the reader: `arrayBuffer()` costs ~7 µs more on Node 20.
  const length = Number(response.headers.get('content-length') ?? NaN)
  if (length <= WHOLE_BODY_BYTES) {
    try {
      res.end(await readAll(response.body.getReader()))
    } catch (error) {
      res.destroy(error instanceof Error ? error : undefined)
    }
    return
  }
  let reader: ReadableStreamDefaultReader<Uint8Array>
  try {
    reader = response.body.getReader()
  } catch (error) {
    // A body the handler locked or used already: nothing to send, and no error page either.
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  const cancel = (): void => void reader.cancel().catch(() => undefined)
  // The client may have left before this listener existed (its 'close' is past): nothing is sent,
  // and the body is cancelled, so that whatever waits on its end (in-flight counts) learns of it.
  // (A function: the check is made again after each wait, when the client may have left.)
  const gone = (): boolean => res.destroyed
  if (gone()) {
    cancel()
    return
  }
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
      if (done) break
      if (gone()) {
        cancel()
        break
      }
      if (!res.write(value)) await drained(res)
    }
    if (!gone()) res.end()
  } catch (error) {
    res.destroy(error instanceof Error ? error : undefined)
  } finally {
    res.off('close', cancel)
  }
}

/**
 * The request handed to the handler: its `signal` is the adapter's own, which aborts when the
 * client leaves, and so is a clone's (and a clone's clone's). A plain `Request` given that signal
 * would make a second one that follows it (a listener, a weak reference, a finalizer): ~40 µs a
 * request on Node 20, a third of the adapter's cost (bench/adapter.bench.mjs). A new `Request`
 * built from this one (as `fetch(request)` does) gets a signal of its own that does not abort:
 * pass `{ signal: request.signal }` where that matters.
 */
class NodeRequest extends HoldingBytes(Request) {
  readonly #source: SignalSource

  /** With `bytes` (and `init` without a body), the body is those bytes, held (`holdSmallBody`). */
  constructor(
    url: string,
    init: RequestInit,
    source: SignalSource,
    bytes?: Uint8Array<ArrayBuffer>,
  ) {
    super(url, init)
    this.#source = source
    if (bytes !== undefined) holdBody(this, bytes)
  }

  override get signal(): AbortSignal {
    return this.#source.signal
  }

  override clone(): Request {
    const held = this[HELD_BODY]
    if (held === undefined) return followingSignal(super.clone(), this.#source)
    return cloneHeld(held, this.#source, (bytes) => {
      const init = { method: this.method, headers: new Headers(this.headers) }
      return new NodeRequest(this.url, init, this.#source, bytes)
    })
  }
}

/** A body of stated length, not chunked, small enough to read whole before the handler runs. */
function hasSmallBody(req: IncomingMessage, max: number): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false
  if (req.headers['transfer-encoding'] !== undefined) return false
  const length = Number(req.headers['content-length'] ?? NaN)
  return length <= WHOLE_BODY_BYTES && length <= max
}

/** The whole body, or `undefined` when the client left before sending all of it. */
function readWhole(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
    }
    const settle = (body: Buffer | undefined): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onCut)
      req.off('close', onCut)
      resolve(body)
    }
    const onEnd = (): void => {
      settle(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    }
    const onCut = (): void => {
      settle(undefined)
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onCut)
    req.once('close', onCut)
  })
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
}

/** `baseUrl`'s origin, parsed once per distinct `baseUrl` rather than once per request. */
const baseOrigins = new Map<string, string>()

function originOf(req: IncomingMessage, options: NodeAdapterOptions): string {
  if (options.baseUrl !== undefined) {
    let origin = baseOrigins.get(options.baseUrl)
    if (origin === undefined) {
      origin = new URL(options.baseUrl).origin
      if (baseOrigins.size < 64) baseOrigins.set(options.baseUrl, origin)
    }
    return origin
  }
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
