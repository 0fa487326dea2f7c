/**
 * `Last-Event-ID` resumption for sessions the gateway serves itself (stdio and legacy SSE routes:
 * the MCP SDK's server transport speaks Streamable HTTP to the client, one per session). Spec
 * 2025-11-25, Streamable HTTP §Resumability and Redelivery: events carry ids unique across the
 * session's streams that name their stream; a client that reconnects with `GET` and
 * `Last-Event-ID` gets the events after that id on that stream, never those of another stream.
 *
 * One buffer per session, in this instance's memory, bounded by event count and bytes: the oldest
 * events go first, and an event larger than the byte bound is delivered but not kept. Ids are
 * `{random per session}.{stream}.{sequence}`: an id of another session (or a guessed one) is
 * unknown here, and an unknown id never replays anything (the `GET` is served as a fresh stream).
 * Whether a stream is finished (every request of its POST answered) is tracked too, so that its
 * replay ends after the last event, as the stream itself would have (the SDK would hold a replayed
 * stream open after its answer was already stored). There is deliberately no
 * `getStreamIdForEventId`: with it the SDK answers `409` while the dropped connection still looks
 * open (a connection that died without a reset can look open for minutes); without it a resume
 * takes the stream over and the old connection is closed.
 */
import { randomBytes } from 'node:crypto'
import type {
  EventId,
  EventStore,
  StreamId,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

export interface EventBufferLimits {
  /** Most events kept per session (0: no resumption, events carry no ids). */
  maxEvents: number
  /** Most bytes of event data kept per session. */
  maxBytes: number
}

interface Stored {
  id: EventId
  stream: StreamId
  seq: number
  message: JSONRPCMessage
  bytes: number
}

interface StreamState {
  no: number
  /** Events of the stream still in the buffer. */
  retained: number
  /** Every request of the stream's POST has its answer stored. */
  complete: boolean
}

/** The SDK stores an empty message as the "priming" event that opens a resumable stream. */
const isPriming = (message: JSONRPCMessage) => Object.keys(message).length === 0

export class EventBuffer implements EventStore {
  readonly #limits: EventBufferLimits
  readonly #prefix = randomBytes(16).toString('base64url')
  /** Oldest first. */
  readonly #events: Stored[] = []
  readonly #streams = new Map<StreamId, StreamState>()
  readonly #streamOf = new Map<number, StreamId>()
  /** An unanswered request (JSON of its id) → the unanswered requests of its POST, itself too. */
  readonly #waiting = new Map<string, Set<string>>()
  #seq = 0
  #streamNo = 0
  #bytes = 0

  constructor(limits: EventBufferLimits) {
    this.#limits = limits
  }

  /**
   * The requests of one POST, before it is handed to the transport: their stream is complete once
   * all are answered. Returns a function that forgets them (the POST was refused).
   */
  expect(ids: readonly (string | number)[]): () => void {
    const batch = new Set(ids.map((id) => JSON.stringify(id)))
    for (const key of batch) this.#waiting.set(key, batch)
    return () => {
      for (const key of batch) if (this.#waiting.get(key) === batch) this.#waiting.delete(key)
    }
  }

  storeEvent(stream: StreamId, message: JSONRPCMessage): Promise<EventId> {
    return Promise.resolve(this.store(stream, message))
  }

  /** Keeps `message` as the next event of `stream` (if it fits) and returns its id. */
  store(stream: StreamId, message: JSONRPCMessage): EventId {
    let state = this.#streams.get(stream)
    if (!state) {
      state = { no: ++this.#streamNo, retained: 0, complete: false }
      this.#streams.set(stream, state)
      this.#streamOf.set(state.no, stream)
    }
    const seq = ++this.#seq
    const id = `${this.#prefix}.${String(state.no)}.${String(seq)}`
    this.#answered(state, message)
    const bytes = isPriming(message) ? 0 : Buffer.byteLength(JSON.stringify(message))
    if (bytes <= this.#limits.maxBytes) {
      this.#events.push({ id, stream, seq, message, bytes })
      state.retained++
      this.#bytes += bytes
      this.#evict()
    } else if (state.retained === 0) {
      this.#forget(stream, state)
    }
    return id
  }

  replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (id: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const known = this.#parse(lastEventId)
    // The transport is only handed ids `resume` knows; nothing is replayed for any other.
    if (!known) return Promise.resolve('')
    const after = this.after(known.stream, known.seq)
    return after
      .reduce((done, e) => done.then(() => send(e.id, e.message)), Promise.resolve())
      .then(() => known.stream)
  }

  /**
   * What a `GET` with this `Last-Event-ID` resumes: `undefined` for an id that is not one of this
   * session's streams (another session's, a guessed one, or one whose stream left the buffer).
   */
  resume(lastEventId: string): { stream: StreamId; seq: number; complete: boolean } | undefined {
    const known = this.#parse(lastEventId)
    if (!known) return undefined
    return { ...known, complete: this.#streams.get(known.stream)?.complete === true }
  }

  /** The kept events of `stream` after sequence number `seq`, oldest first (no priming events). */
  after(stream: StreamId, seq: number): { id: EventId; message: JSONRPCMessage }[] {
    return this.#events
      .filter((e) => e.stream === stream && e.seq > seq && !isPriming(e.message))
      .map(({ id, message }) => ({ id, message }))
  }

  #parse(id: string): { stream: StreamId; seq: number } | undefined {
    const parts = id.split('.')
    if (parts.length !== 3 || parts[0] !== this.#prefix) return undefined
    const no = Number(parts[1])
    const seq = Number(parts[2])
    if (!Number.isSafeInteger(no) || !Number.isSafeInteger(seq)) return undefined
    const stream = this.#streamOf.get(no)
    return stream === undefined ? undefined : { stream, seq }
  }

  /** A response completes its stream once every request of its POST is answered. */
  #answered(state: StreamState, message: JSONRPCMessage): void {
    if (!('id' in message) || 'method' in message) return
    const key = JSON.stringify(message.id)
    const batch = this.#waiting.get(key)
    if (!batch) {
      // A response with no POST on record: a stream holds one request's answer (the usual case).
      state.complete = true
      return
    }
    this.#waiting.delete(key)
    batch.delete(key)
    if (batch.size === 0) state.complete = true
  }

  #evict(): void {
    const { maxEvents, maxBytes } = this.#limits
    while (this.#events.length > maxEvents || this.#bytes > maxBytes) {
      const gone = this.#events.shift()
      if (!gone) return
      this.#bytes -= gone.bytes
      const state = this.#streams.get(gone.stream)
      if (state && --state.retained === 0) this.#forget(gone.stream, state)
    }
  }

  #forget(stream: StreamId, state: StreamState): void {
    this.#streams.delete(stream)
    this.#streamOf.delete(state.no)
  }
}

/**
 * A `GET` of a session served by the gateway, checked for `Last-Event-ID` before the session's
 * transport sees it: an id this session does not know is dropped (the client gets a fresh stream,
 * as without the header); a complete stream is replayed here and ends; any other goes on to the
 * transport, which replays the stream and carries it on live.
 */
export function resumeRequest(
  buffer: EventBuffer | undefined,
  request: Request,
  sessionId: string,
): Request | Response {
  const last = request.headers.get('last-event-id')
  if (request.method !== 'GET' || last === null || !buffer) return request
  const resumed = buffer.resume(last)
  if (!resumed) {
    const headers = new Headers(request.headers)
    headers.delete('last-event-id')
    return new Request(request, { headers, signal: request.signal })
  }
  const accept = request.headers.get('accept') ?? ''
  if (!resumed.complete || !accept.includes('text/event-stream')) return request
  const body = buffer
    .after(resumed.stream, resumed.seq)
    .map((e) => `event: message\nid: ${e.id}\ndata: ${JSON.stringify(e.message)}\n\n`)
    .join('')
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'mcp-session-id': sessionId,
    },
  })
}
