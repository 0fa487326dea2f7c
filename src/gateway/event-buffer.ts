/**
 * `Last-Event-ID` resumption for sessions the gateway serves itself (stdio and legacy SSE routes,
 * served-session.ts). Spec 2025-11-25, Streamable HTTP §Resumability and Redelivery: events carry
 * ids unique across the session's streams that name their stream; a client that reconnects with
 * `GET` and `Last-Event-ID` gets the events after that id on that stream, never those of another
 * stream.
 *
 * One buffer per session, in this instance's memory, bounded by event count and bytes: the oldest
 * events go first, and an event larger than the byte bound is delivered but not kept. Ids are
 * `{random per session}.{stream}.{sequence}`: an id of another session (or a guessed one) is
 * unknown here, and an unknown id never replays anything (the `GET` is served as a fresh stream).
 * Whether a stream is finished (every request of its POST answered) is tracked too, so that its
 * replay ends after the last event, as the stream itself would have.
 */
import { randomBytes } from 'node:crypto'
import { validID, type RPCMessage } from './messages.js'

type EventId = string
type StreamId = string

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
  message: RPCMessage
  bytes: number
}

interface StreamState {
  no: number
  /** Events of the stream still in the buffer. */
  retained: number
  /** Every request of the stream's POST has its answer stored. */
  complete: boolean
}

/** An empty message is the "priming" event that opens a resumable stream (no data). */
const isPriming = (message: RPCMessage) => Object.keys(message).length === 0

export class EventBuffer {
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
   * The requests of one POST whose answer became a stream, before its first event is kept: the
   * stream is complete once all are answered.
   */
  expect(ids: Iterable<string | number>): void {
    const batch = new Set([...ids].map((id) => JSON.stringify(id)))
    for (const key of batch) this.#waiting.set(key, batch)
  }

  /** Keeps `message` as the next event of `stream` (if it fits) and returns its id. */
  store(stream: StreamId, message: RPCMessage): EventId {
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
  after(stream: StreamId, seq: number): { id: EventId; message: RPCMessage }[] {
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
  #answered(state: StreamState, message: RPCMessage): void {
    if (!validID(message.id) || typeof message.method === 'string') return
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
