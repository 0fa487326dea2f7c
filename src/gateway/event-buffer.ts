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
 * Whether a stream is finished (every request of its POST answered) is the session's to know: a
 * finished stream's replay ends after its last event, as the stream itself would have.
 */
import { randomBytes } from 'node:crypto'
import type { RPCMessage } from './messages.js'

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
  #seq = 0
  #streamNo = 0
  #bytes = 0

  constructor(limits: EventBufferLimits) {
    this.#limits = limits
  }

  /** Keeps `message` as the next event of `stream` (if it fits) and returns its id. */
  store(stream: StreamId, message: RPCMessage): EventId {
    let state = this.#streams.get(stream)
    if (!state) {
      state = { no: ++this.#streamNo, retained: 0 }
      this.#streams.set(stream, state)
      this.#streamOf.set(state.no, stream)
    }
    const seq = ++this.#seq
    const id = `${this.#prefix}.${String(state.no)}.${String(seq)}`
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
  resume(lastEventId: string): { stream: StreamId; seq: number } | undefined {
    return this.#parse(lastEventId)
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
