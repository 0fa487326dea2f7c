/**
 * The client side of one MCP session that the gateway serves itself (stdio and legacy SSE
 * routes): Streamable HTTP (spec 2025-11-25, Transports §Streamable HTTP) over the messages the
 * MCP server behind it sends.
 *
 * - A POST with requests is answered with one JSON body (an object, or an array for a batch) when
 *   the answers are all the process sends for it. When anything else comes first (progress, a log
 *   message, a question for the client), or no answer has come after `streamAfterMs`, the answer
 *   becomes an event stream; the events so far go first. A stream started by the wait opens with
 *   a priming event (an id, no data) for clients of 2025-11-25 and later, so a long call stays
 *   resumable from its first byte.
 * - A POST of notifications and responses only is answered `202`.
 * - `GET` opens the one stream for messages that belong to no request; with `Last-Event-ID` it
 *   replays that stream's later events (see event-buffer.ts) and, if it is not finished, carries
 *   it on live, taking it over from a connection that dropped. `DELETE` ends the session.
 *
 * Written by hand in place of the MCP SDK's `WebStandardStreamableHTTPServerTransport` because
 * measurement showed it must be faster. That transport answers every call with an event stream
 * (a web stream, then two writes to the socket: the headers, later the event and the end). On a
 * stdio route under load (bench/gateway.bench.mjs, 16 connections, Node 20) the gateway spent
 * about 30% of its busy time in those socket writes, and the route carried 0.27–0.32x of what the
 * same server carries over its own HTTP transport (target 0.8x); figures for this file are in
 * docs/benchmarks.md.
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js'
import { BytesResponse } from '../http/bytes-response.js'
import { onDeparture } from '../http/ending.js'
import type { EventBuffer } from './event-buffer.js'
import { RPC, rpcError, validID, type RPCMessage } from './messages.js'
import type { UpstreamCall } from './upstream.js'

type ID = string | number

export interface ServedSessionOptions<T = unknown> {
  id: string
  /** Recent events for `Last-Event-ID` (none: events carry no ids and nothing is replayed). */
  events?: EventBuffer | undefined
  /**
   * A message from the client, in the order received, with the `tag` its POST was handed in with
   * (only messages the session accepted get here).
   */
  onMessage: (message: RPCMessage, tag: T | undefined) => void
  /** The session ended (`DELETE` or `close()`); called once. A `DELETE` is answered after it. */
  onClose: () => Promise<void> | void
  /** How long a POST waits for its answers before its answer becomes a stream; default 1000 ms. */
  streamAfterMs?: number
  /** How often an open stream gets a comment line, so that idle connections stay up; 15 s. */
  keepAliveMs?: number
}

/** Most messages in one POST (a batch): each is a call to the MCP server. */
export const MAX_BATCH = 100

/** Where a stream's events are written while its client is connected. */
interface Sink {
  write(text: string): void
  end(): void
}

/** One POST with requests, until every request in it is answered. */
interface Exchange {
  /** The stream's name in the event buffer. */
  stream: string
  /** The requests not answered yet. */
  open: Set<ID>
  batch: boolean
  /** The client's protocol version (2025-11-25 and later understand a priming event). */
  version: string
  /** While the answer's form is undecided: the answers so far and where the response goes. */
  held: RPCMessage[]
  respond: ((response: Response) => void) | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  /** Once it is a stream: the client's connection (none after a drop, until a resume). */
  sink: Sink | undefined
  /** The client left before the answer's form was decided: later answers are dropped. */
  gone: boolean
}

const STANDALONE = 'get'
const encoder = new TextEncoder()

/** One server-sent event carrying `message` (with an event id for resumption when given). */
export const eventText = (id: string | undefined, message: unknown): string =>
  `event: message\n${id !== undefined ? `id: ${id}\n` : ''}data: ${JSON.stringify(message)}\n\n`

export class ServedSession<T = unknown> {
  readonly id: string
  readonly #o: ServedSessionOptions<T>
  readonly #byRequest = new Map<ID, Exchange>()
  /** Exchanges that became streams and are not finished, by stream name (for resumption). */
  readonly #streams = new Map<string, Exchange>()
  #standalone: Sink | undefined
  #initialized = false
  #closed = false
  #answeredAt = 0
  #next = 0

  constructor(options: ServedSessionOptions<T>) {
    this.id = options.id
    this.#o = options
  }

  /**
   * Answers one request of this session; `messages` is the POST's parsed body, `tag` goes with
   * each of its messages to `onMessage`.
   */
  async handle(
    request: Request,
    messages?: readonly RPCMessage[],
    body?: Uint8Array,
    tag?: T,
  ): Promise<Response> {
    if (this.#closed) return rpcError(404, -32001, 'Session not found')
    switch (request.method) {
      case 'POST':
        return this.#post(request, messages ?? [], body, tag)
      case 'GET':
        return this.#get(request)
      case 'DELETE':
        this.#close()
        await this.#o.onClose()
        return new Response(null, { status: 200, headers: { 'mcp-session-id': this.id } })
      default:
        return rpcError(405, RPC.invalidRequest, 'Method not allowed', null, {
          allow: 'GET, POST, DELETE',
        })
    }
  }

  /** Whether a request of this session still waits for its answer (the session is not idle). */
  get busy(): boolean {
    return this.#byRequest.size > 0
  }

  /** When a request of this session last got its answer (or was cancelled); 0: none yet. */
  get answeredAt(): number {
    return this.#answeredAt
  }

  /**
   * Sends a message of the process to the client: an answer on its request's POST, a message about
   * a request (`relatedRequestId`) there too, anything else on the `GET` stream.
   */
  send(message: RPCMessage, options?: { relatedRequestId?: ID }): void {
    if (this.#closed) return
    const answer = typeof message.method !== 'string'
    const key = answer ? message.id : options?.relatedRequestId
    const exchange = validID(key) ? this.#byRequest.get(key) : undefined
    if (!exchange) {
      // An answer nobody waits for (its POST was refused or its session restarted), or a
      // notification about a call that has ended, goes nowhere; a request from the server, or a
      // message about no call, goes on the GET stream.
      if (!answer && (validID(message.id) || options?.relatedRequestId === undefined)) {
        this.#toStandalone(message)
      }
      return
    }
    if (answer && validID(key)) {
      exchange.open.delete(key)
      this.#byRequest.delete(key)
      this.#answeredAt = Date.now()
    }
    if (exchange.respond) {
      if (answer) {
        exchange.held.push(message)
        if (exchange.open.size === 0) this.#answerWhole(exchange)
        return
      }
      this.#startStream(exchange, false)
    }
    if (!exchange.gone) this.#event(exchange, message)
    if (exchange.open.size === 0) this.#finish(exchange)
  }

  /**
   * The client cancelled its request `id` and the MCP server was told (MCP cancellation): no
   * answer will come for it (the bridge drops one that still comes), so its POST stops waiting
   * for it and the id is no longer in flight. When the POST then waits for nothing, its answer
   * ends:
   * - not yet begun: the batch's other answers as one body, or, with none, an event stream that
   *   ends at once. It carries no event id, so a client does not reconnect to resume it;
   * - already a stream: an error answer for the cancelled request goes first. The client has
   *   event ids by now, and a stream that ends without the answer tells it to reconnect and wait
   *   (spec 2025-11-25, §Resumability); the answer it ignores (§Cancellation: "SHOULD ignore any
   *   response ... that arrives afterward") ends that at once.
   */
  forget(id: ID): void {
    const exchange = this.#byRequest.get(id)
    if (!exchange) return
    this.#byRequest.delete(id)
    exchange.open.delete(id)
    this.#answeredAt = Date.now()
    if (exchange.respond) {
      if (exchange.open.size > 0) return
      if (exchange.held.length > 0) {
        this.#answerWhole(exchange)
        return
      }
      clearTimeout(exchange.timer)
      const respond = exchange.respond
      exchange.respond = undefined
      respond(this.#streamResponse('', undefined, () => undefined, true))
      return
    }
    if (!exchange.gone) {
      const error = { code: RPC.internalError, message: 'the request was cancelled by the client' }
      this.#event(exchange, { jsonrpc: '2.0', id, error })
    }
    if (exchange.open.size === 0) this.#finish(exchange)
  }

  /** Ends the session: open streams end, waiting requests get `404`; `onClose` follows. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#close()
    await this.#o.onClose()
  }

  #close(): void {
    this.#closed = true
    const gone = rpcError(404, -32001, 'Session not found')
    for (const exchange of new Set(this.#byRequest.values())) {
      clearTimeout(exchange.timer)
      exchange.respond?.(gone.clone())
      exchange.sink?.end()
    }
    this.#byRequest.clear()
    for (const exchange of this.#streams.values()) exchange.sink?.end()
    this.#streams.clear()
    this.#standalone?.end()
    this.#standalone = undefined
  }

  #post(
    request: Request,
    messages: readonly RPCMessage[],
    body: Uint8Array | undefined,
    tag: T | undefined,
  ): Promise<Response> {
    const refused = postRefusal(request, messages)
    if (refused) return Promise.resolve(refused)
    const init = messages.find((m) => m.method === 'initialize')
    if (init) {
      if (this.#initialized) {
        return Promise.resolve(
          rpcError(400, RPC.invalidRequest, 'Invalid Request: the session is already initialized'),
        )
      }
      this.#initialized = true
    } else {
      const wrongVersion = this.#checkVersion(request)
      if (wrongVersion) return Promise.resolve(wrongVersion)
    }
    const requests = messages.filter((m) => typeof m.method === 'string' && validID(m.id))
    // An id still in flight in this session (or twice in one batch) would take the other's answer.
    const ids = new Set(requests.map((m) => m.id as ID))
    if (ids.size < requests.length || requests.some((m) => this.#byRequest.has(m.id as ID))) {
      return Promise.resolve(
        rpcError(400, RPC.invalidRequest, 'Invalid Request: a request with this id is in flight'),
      )
    }
    if (requests.length === 0) {
      for (const m of messages) this.#o.onMessage(m, tag)
      return Promise.resolve(
        new Response(null, { status: 202, headers: { 'mcp-session-id': this.id } }),
      )
    }
    const params = init?.params as { protocolVersion?: unknown } | undefined
    const version =
      typeof params?.protocolVersion === 'string'
        ? params.protocolVersion
        : (request.headers.get('mcp-protocol-version') ?? '2025-03-26')
    return new Promise<Response>((respond) => {
      const exchange: Exchange = {
        stream: `post-${String(++this.#next)}`,
        open: ids,
        batch: startsWithBracket(body),
        version,
        held: [],
        respond,
        timer: undefined,
        sink: undefined,
        gone: false,
      }
      for (const id of exchange.open) this.#byRequest.set(id, exchange)
      exchange.timer = setTimeout(() => {
        if (exchange.respond) this.#startStream(exchange, true)
      }, this.#o.streamAfterMs ?? 1000)
      // The client leaving before the form is decided ends the response now (and with it the
      // request's in-flight count). The ids stay taken until the process answers, so that a late
      // answer never reaches a new request that reused one.
      onDeparture(request, () => {
        if (!exchange.respond) return
        clearTimeout(exchange.timer)
        exchange.respond(new Response(null, { status: 499 }))
        exchange.respond = undefined
        exchange.held = []
        exchange.gone = true
      })
      // The process may answer at once (a shared process's cached initialize result).
      for (const m of messages) this.#o.onMessage(m, tag)
    })
  }

  #get(request: Request): Response {
    if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) {
      return rpcError(
        406,
        RPC.invalidRequest,
        'Not Acceptable: the client must accept text/event-stream',
      )
    }
    const refused = this.#checkVersion(request)
    if (refused) return refused
    const last = request.headers.get('last-event-id')
    const resumed = last !== null ? this.#o.events?.resume(last) : undefined
    if (resumed) {
      // Spec §Resumability: the events after the last one seen, on that stream only.
      const replay = this.#o.events?.after(resumed.stream, resumed.seq) ?? []
      const text = replay.map((e) => eventText(e.id, e.message)).join('')
      const exchange = this.#streams.get(resumed.stream)
      if (resumed.stream === STANDALONE) {
        this.#standalone?.end()
        return this.#streamResponse(text, (sink) => (this.#standalone = sink), this.#dropStandalone)
      }
      // A finished stream: the replay, then the end, as the stream itself ended.
      if (!exchange) return this.#streamResponse(text, undefined, () => undefined, true)
      // A stream still waiting for answers: taken over from the connection that dropped.
      exchange.sink?.end()
      return this.#streamResponse(text, (sink) => (exchange.sink = sink), dropFrom(exchange))
    }
    // An id this session does not know replays nothing: a fresh stream, as without the header.
    if (this.#standalone) {
      return rpcError(
        409,
        RPC.invalidRequest,
        'Conflict: only one GET stream is allowed per session',
      )
    }
    return this.#streamResponse('', (sink) => (this.#standalone = sink), this.#dropStandalone)
  }

  /** The client left the `GET` stream (unless a resume has replaced it already). */
  readonly #dropStandalone = (sink: Sink): void => {
    if (this.#standalone === sink) this.#standalone = undefined
  }

  #checkVersion(request: Request): Response | undefined {
    const version = request.headers.get('mcp-protocol-version')
    if (version === null || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined
    return rpcError(
      400,
      RPC.invalidRequest,
      `Bad Request: unsupported MCP-Protocol-Version (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    )
  }

  /** Every answer came before anything else: one JSON body, written in one go. */
  #answerWhole(exchange: Exchange): void {
    clearTimeout(exchange.timer)
    const respond = exchange.respond
    exchange.respond = undefined
    const body = exchange.batch || exchange.held.length > 1 ? exchange.held : exchange.held[0]
    exchange.held = []
    respond?.(
      new BytesResponse(encoder.encode(JSON.stringify(body)), {
        status: 200,
        headers: { 'content-type': 'application/json', 'mcp-session-id': this.id },
      }),
    )
  }

  /** The answer becomes a stream: the events held so far go first. */
  #startStream(exchange: Exchange, waited: boolean): void {
    clearTimeout(exchange.timer)
    const respond = exchange.respond
    exchange.respond = undefined
    const events = this.#o.events
    let first = ''
    // A client of 2025-11-25 or later gets an id before the first event (a priming event).
    if (waited && events && exchange.version >= '2025-11-25') {
      first = `id: ${events.store(exchange.stream, {})}\ndata: \n\n`
    }
    this.#streams.set(exchange.stream, exchange)
    respond?.(this.#streamResponse(first, (sink) => (exchange.sink = sink), dropFrom(exchange)))
    const held = exchange.held
    exchange.held = []
    for (const m of held) this.#event(exchange, m)
    if (exchange.open.size === 0) this.#finish(exchange)
  }

  #event(exchange: Exchange, message: RPCMessage): void {
    const id = this.#o.events?.store(exchange.stream, message)
    exchange.sink?.write(eventText(id, message))
  }

  #finish(exchange: Exchange): void {
    this.#streams.delete(exchange.stream)
    exchange.sink?.end()
    exchange.sink = undefined
  }

  #toStandalone(message: RPCMessage): void {
    // Kept for a resume even while no GET stream is open.
    const id = this.#o.events?.store(STANDALONE, message)
    this.#standalone?.write(eventText(id, message))
  }

  /**
   * An event stream starting with `first`; `attach` is given its sink (it gets the later events),
   * `detach` runs when the client leaves. `ended`: nothing follows `first`.
   */
  #streamResponse(
    first: string,
    attach: ((sink: Sink) => void) | undefined,
    detach: (sink: Sink) => void,
    ended = false,
  ): Response {
    let open = true
    let sink: Sink | undefined
    let stopKeepAlive = (): void => undefined
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (first !== '') controller.enqueue(encoder.encode(first))
        if (ended || !attach) {
          controller.close()
          return
        }
        // A comment line now and then: proxies close connections idle for a minute or so, and a
        // connection that died unnoticed is found out (the write fails, the stream is cancelled).
        const keepAlive = setInterval(() => {
          if (open) controller.enqueue(encoder.encode(': keepalive\n\n'))
        }, this.#o.keepAliveMs ?? 15_000)
        keepAlive.unref()
        stopKeepAlive = () => {
          clearInterval(keepAlive)
        }
        const mine: Sink = {
          write: (text) => {
            if (open) controller.enqueue(encoder.encode(text))
          },
          end: () => {
            if (!open) return
            open = false
            stopKeepAlive()
            controller.close()
          },
        }
        sink = mine
        attach(mine)
      },
      cancel: () => {
        open = false
        stopKeepAlive()
        if (sink) detach(sink)
      },
    })
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        'mcp-session-id': this.id,
      },
    })
  }
}

/**
 * The transport's checks of a POST that hold for any session (spec §Sending Messages to the
 * Server): made before a session is opened for an `initialize`, so a refused one opens nothing.
 */
export function postRefusal(
  request: Request,
  messages: readonly RPCMessage[] | undefined,
): Response | undefined {
  const accept = request.headers.get('accept') ?? ''
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    return rpcError(
      406,
      RPC.invalidRequest,
      'Not Acceptable: the client must accept both application/json and text/event-stream',
    )
  }
  if (!(request.headers.get('content-type') ?? '').includes('application/json')) {
    return rpcError(
      415,
      RPC.invalidRequest,
      'Unsupported Media Type: Content-Type must be application/json',
    )
  }
  if (messages && messages.length > MAX_BATCH) {
    return rpcError(
      400,
      RPC.invalidRequest,
      `Invalid Request: a batch holds at most ${String(MAX_BATCH)} messages`,
    )
  }
  if (messages && messages.length > 1 && messages.some((m) => m.method === 'initialize')) {
    return rpcError(400, RPC.invalidRequest, 'Invalid Request: initialize must be sent alone')
  }
  return undefined
}

/** What the idle sweep of a route's sessions keeps per session. */
export interface Sweepable {
  /** Milliseconds since the epoch of the last request. */
  lastSeen: number
}

/**
 * Whether the sweep closes a session at `now`: no request for `idleSeconds`, none waiting for its
 * answer, and none answered since; or, whatever waits, no request for `idleSeconds` plus
 * `maxTimeoutSeconds` (no call waits longer, so something is stuck).
 */
export function idle(
  session: Sweepable,
  served: Pick<ServedSession, 'busy' | 'answeredAt'>,
  now: number,
  limits: { idleSeconds: number; maxTimeoutSeconds: number },
): boolean {
  const limit = now - limits.idleSeconds * 1000
  if (!served.busy) return Math.max(session.lastSeen, served.answeredAt) < limit
  return session.lastSeen < limit - limits.maxTimeoutSeconds * 1000
}

/**
 * Records the owner of a new session (`call.opened`) before it is used. When that fails (a store
 * fault: rethrown) or the id is somehow another's (`500`), `abandon` drops the session, which must
 * not forget any binding: the one under that id is not the session's own.
 */
export async function recordOwner(
  call: Pick<UpstreamCall, 'opened'>,
  id: string,
  abandon: () => Promise<void>,
): Promise<Response | undefined> {
  let owned: boolean
  try {
    owned = await call.opened(id)
  } catch (error) {
    await abandon()
    throw error
  }
  if (owned) return undefined
  await abandon()
  return rpcError(500, RPC.internalError, 'the session could not be opened; try again')
}

/** Forgets the connection of an exchange's stream when its client leaves (a drop). */
const dropFrom =
  (exchange: Exchange) =>
  (sink: Sink): void => {
    if (exchange.sink === sink) exchange.sink = undefined
  }

/** Whether a JSON body is an array (a batch), looking past a byte-order mark and whitespace. */
function startsWithBracket(body: Uint8Array | undefined): boolean {
  if (!body) return false
  const bom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0
  for (let i = bom; i < body.length; i++) {
    const byte = body[i]
    if (byte === 0x5b) return true
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false
  }
  return false
}
