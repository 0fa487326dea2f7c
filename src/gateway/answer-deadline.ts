/**
 * The deadline on an event-stream answer from an HTTP upstream (MCP lifecycle §Timeouts): the
 * JSON-RPC responses to the calls of one POST must arrive within `timeoutMs`; a progress
 * notification for one of the calls' progress tokens restarts the clock (work is happening), but
 * never past `maxMs` from the start.
 * When the deadline passes, each call still open gets a JSON-RPC error event in the stream, the
 * stream ends, and `onTimeout` is told which ids (to cancel them at the server). Events pass
 * through as they arrive: the stream is only read alongside, never held back. An event longer than
 * `maxEventChars` (an upstream that never ends its event) is treated like a passed deadline, so
 * what is kept to read alongside stays bounded. Only an event that can be an answer or a progress
 * notification is parsed: the others (log messages, most of a busy stream) are passed over.
 */
import { finishBody, watchBody } from './body-watch.js'
import { callDeadline } from './call-deadline.js'
import { RPC, validID, type RPCMessage } from './messages.js'

type ID = string | number

/** Longest single event read alongside by default (characters): 16 MiB of JSON-RPC. */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024

export interface AnswerDeadline {
  /** The answer's body to pass on in place of the one given. */
  body: ReadableStream<Uint8Array>
  /** Stops the clock (the client went away). */
  stop: () => void
  /**
   * The client cancelled its call `id` (MCP cancellation). The call is no longer waited for; when
   * it was the last one, the stream ends now with an error answer for it, and the server's stream
   * is closed. Otherwise the stream goes on for the others (nothing can be put into the middle of
   * the server's events) and an answer that still comes for it passes, for the client to ignore.
   */
  cancel: (id: ID) => void
}

/**
 * Whether an event's text can hold a JSON-RPC answer or a progress notification: an answer has a
 * `result` or `error` member. An event with any escape in it (`\u0065`, `\/`: a name or method
 * may be written so) is read the long way.
 */
const mayMatter = (event: string): boolean =>
  event.includes('"result"') ||
  event.includes('"error"') ||
  event.includes('notifications/progress') ||
  event.includes('\\')

export function answerDeadline(
  source: ReadableStream<Uint8Array>,
  options: {
    ids: readonly ID[]
    /** The calls' `_meta.progressToken`s: progress for these restarts the clock. */
    progressTokens: readonly unknown[]
    timeoutMs: number
    maxMs: number
    onTimeout: (ids: ID[]) => void
    /** When the request was sent (the clock runs from there); default now. */
    startedAt?: number
    now?: () => number
    /** Longest event kept while calls are open; longer fails them like the deadline. */
    maxEventChars?: number
  },
): AnswerDeadline {
  const now = options.now ?? Date.now
  const maxEventChars = options.maxEventChars ?? MAX_EVENT_CHARS
  // JSON-RPC ids 1 and "1" are different calls.
  const pending = new Map(options.ids.map((id) => [JSON.stringify(id), id]))
  const tokens = new Set(options.progressTokens.map((t) => JSON.stringify(t)))
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''

  const stop = () => {
    clock.clear()
    pending.clear()
  }
  /** Ends the stream with an error answer for each of `ids`. */
  const end = (ids: readonly ID[], message: string) => {
    stop()
    // An event cut in half is ended first, so the client's parser sees whole events after it.
    let out = buffer.length > 0 ? '\n\n' : ''
    for (const id of ids) {
      const error = { code: RPC.internalError, message }
      out += `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error })}\n\n`
    }
    buffer = ''
    finishBody(body, encoder.encode(out))
  }
  const fire = () => {
    const ids = [...pending.values()]
    if (ids.length === 0) {
      stop()
      return
    }
    end(ids, 'the MCP server did not answer in time')
    options.onTimeout(ids)
  }
  const cancel = (id: ID) => {
    if (!pending.delete(JSON.stringify(id)) || pending.size > 0) return
    end([id], 'the request was cancelled by the client')
  }
  // The calls' one clock: the rule for progress and the maximum is the stdio/SSE routes' own.
  const clock = callDeadline({
    timeoutMs: options.timeoutMs,
    maxMs: options.maxMs,
    onTimeout: fire,
    ...(options.startedAt !== undefined ? { startedAt: options.startedAt } : {}),
    now,
  })
  if (pending.size === 0) clock.clear()
  const seen = (event: string) => {
    if (!mayMatter(event)) return
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
    if (data.length === 0) return
    let msg: RPCMessage
    try {
      msg = JSON.parse(data.join('\n')) as RPCMessage
    } catch {
      return
    }
    if (msg.method === undefined && validID(msg.id)) {
      if (pending.delete(JSON.stringify(msg.id)) && pending.size === 0) clock.clear()
    } else if (
      msg.method === 'notifications/progress' &&
      tokens.has(
        JSON.stringify((msg.params as { progressToken?: unknown } | undefined)?.progressToken),
      )
    ) {
      clock.progress()
    }
  }

  const body = watchBody(source, {
    chunk(chunk) {
      if (pending.size === 0) return
      buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n')
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        seen(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
      }
      // Never a whole stream in memory: an event this long fails the open calls.
      if (buffer.length > maxEventChars) fire()
    },
    end: stop,
  })
  return { body, stop, cancel }
}
