/**
 * One pass-through layer over an answer's body for everything the gateway watches in it: the
 * answer deadline reading events alongside, the upstream call's end, the route's in-flight counts.
 * A watcher on a body this module made (`watchBody`, or `pushedBody`, the HTTP client's) joins it
 * instead of wrapping it again, so an HTTP upstream's SSE answer reaches the client through one
 * stream however many watch it (policy's rewrite of a `tools/list` answer adds its own).
 *
 * Written instead of a `TransformStream` for the deadline (`pipeThrough`) and one more
 * `ReadableStream` per end callback because measurement showed each layer costs on every SSE
 * event: on a burst of 200 events from the MCP SDK server (2 cores, Node 20, 2026-12-06) the
 * events reached the gateway on time, and the layers were the delay. Added delay per event, p50,
 * in the same runs: +1.5 to +2.5 ms with the layers, +0.8 to +1.1 ms now, +1.6 ms through `fetch`.
 */

/** What a watcher is told. */
export interface BodyWatcher {
  /** Each chunk, after it is passed on. */
  chunk?: (chunk: Uint8Array) => void
  /** Once: the body ended, failed, was finished early, or its reader went away. */
  end?: () => void
}

interface Watched {
  watchers: BodyWatcher[]
  finish: (last?: Uint8Array) => void
}

const watched = new WeakMap<ReadableStream<Uint8Array>, Watched>()

/**
 * `body` as it is, with `watcher` told what passes. Returns `body` itself when it is already a
 * watched body (the watcher joins), else one new stream to read in its place.
 */
export function watchBody(
  body: ReadableStream<Uint8Array>,
  watcher: BodyWatcher,
): ReadableStream<Uint8Array> {
  const known = watched.get(body)
  if (known) {
    known.watchers.push(watcher)
    return body
  }
  const watchers = [watcher]
  const reader = body.getReader()
  let ended = false
  let out: ReadableStreamDefaultController<Uint8Array> | undefined
  const end = (): void => {
    if (ended) return
    ended = true
    for (const w of watchers) w.end?.()
  }
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller
    },
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>
      try {
        next = await reader.read()
      } catch (error) {
        if (ended) return
        end()
        controller.error(error)
        return
      }
      // Finished early while the read was waiting: what came after is not passed on.
      if (ended) return
      if (next.done) {
        end()
        controller.close()
        return
      }
      controller.enqueue(next.value)
      for (const w of watchers) w.chunk?.(next.value)
    },
    async cancel(reason) {
      end()
      await reader.cancel(reason).catch(() => undefined)
    },
  })
  watched.set(stream, {
    watchers,
    finish(last) {
      if (ended || !out) return
      try {
        if (last) out.enqueue(last)
        out.close()
      } catch {
        // The reader already went away.
      }
      end()
      void reader.cancel().catch(() => undefined)
    },
  })
  return stream
}

/**
 * Ends a watched body now: `last` is its final chunk, the rest of the source is not read.
 * Does nothing for a body `watchBody` did not make, or one that has ended.
 */
export function finishBody(body: ReadableStream<Uint8Array>, last?: Uint8Array): void {
  watched.get(body)?.finish(last)
}

/** The producing side of a body made by `pushedBody`. */
export interface BodyFeed {
  body: ReadableStream<Uint8Array>
  /** Passes a chunk on; false when the reader is behind, so the producer should pause. */
  push: (chunk: Uint8Array) => boolean
  close: () => void
  error: (reason: unknown) => void
}

/** Chunks a pushed body holds for a slow reader before `push` asks the producer to pause. */
const FEED_CHUNKS = 16

/**
 * A body fed by callbacks (the HTTP client's), which watchers join without a layer of their own:
 * the chunks wait in one queue, and a read takes the next one. `resume` is called when the reader
 * has caught up; `cancel` when it went away or a watcher finished the body early.
 */
export function pushedBody(source: {
  resume: () => void
  cancel: (reason: unknown) => void
}): BodyFeed {
  const watchers: BodyWatcher[] = []
  const queue: Uint8Array[] = []
  let state: 'open' | 'closed' | 'errored' | 'ended' = 'open'
  let failure: unknown
  let out: ReadableStreamDefaultController<Uint8Array> | undefined
  let waiting: (() => void) | undefined
  const end = (): void => {
    state = 'ended'
    for (const w of watchers) w.end?.()
  }
  const pass = (controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array) => {
    controller.enqueue(chunk)
    for (const w of watchers) w.chunk?.(chunk)
  }
  // One step of the reader: the next chunk, the end, or nothing yet (then wait for the producer).
  const step = (controller: ReadableStreamDefaultController<Uint8Array>): boolean => {
    const chunk = queue.shift()
    if (chunk) {
      pass(controller, chunk)
      if (queue.length === FEED_CHUNKS - 1 && state === 'open') source.resume()
      return true
    }
    if (state === 'closed') {
      end()
      controller.close()
      return true
    }
    if (state === 'errored') {
      end()
      controller.error(failure)
      return true
    }
    return state === 'ended'
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        out = controller
      },
      pull(controller) {
        if (step(controller)) return
        return new Promise<void>((resolve) => {
          waiting = () => {
            waiting = undefined
            if (state !== 'ended') step(controller)
            resolve()
          }
        })
      },
      cancel(reason) {
        if (state === 'ended') return
        end()
        queue.length = 0
        source.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
  watched.set(body, {
    watchers,
    finish(last) {
      if (state === 'ended' || !out) return
      queue.length = 0
      try {
        if (last) out.enqueue(last)
        out.close()
      } catch {
        // The reader already went away.
      }
      end()
      waiting?.()
      source.cancel(new Error('finished early'))
    },
  })
  return {
    body,
    push(chunk) {
      if (state !== 'open') return false
      // undici, resumed in the middle of a chunk of a chunked body with nothing new to read,
      // reports an empty piece. Queued, it would pause the upstream again at once, and a reader
      // that keeps reading would spin on empty chunks without the event loop ever reading the
      // socket (it hung a test on a loaded machine). It carries nothing: it is dropped.
      if (chunk.length === 0) return queue.length < FEED_CHUNKS
      queue.push(chunk)
      waiting?.()
      return queue.length < FEED_CHUNKS
    },
    close() {
      if (state !== 'open') return
      state = 'closed'
      waiting?.()
    },
    error(reason) {
      if (state !== 'open') return
      state = 'errored'
      failure = reason
      waiting?.()
    },
  }
}
