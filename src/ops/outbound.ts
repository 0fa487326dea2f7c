/**
 * The fetch Gatehouse uses towards the identity provider, instrumented: it carries the incoming
 * request's trace on (a W3C `traceparent` with the same trace id and a new span id, unless the
 * caller set one) and times each call by host and outcome. URLs, bodies and answers are not
 * recorded: token requests carry codes and secrets.
 */
import { currentContext } from './context.js'
import type { Metrics } from './metrics.js'
import { childTraceparent } from './trace.js'

/** Wraps `base` (read at call time when omitted, like `globalThis.fetch`). */
export function instrumentFetch(base: typeof fetch | undefined, metrics: Metrics): typeof fetch {
  return async (input, init) => {
    const target = input instanceof Request ? input.url : String(input)
    let host = 'unknown'
    try {
      host = new URL(target).host
    } catch {
      // Not a URL: the underlying fetch will refuse it.
    }
    const trace = currentContext()?.trace
    let request = init
    if (trace) {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}))
      if (!headers.has('traceparent')) headers.set('traceparent', childTraceparent(trace))
      request = { ...init, headers }
    }
    const started = performance.now()
    try {
      const response = await (base ?? globalThis.fetch)(input, request)
      metrics.upstream(host, `${Math.floor(response.status / 100)}xx`, elapsed(started))
      return response
    } catch (error) {
      const timeout =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      metrics.upstream(host, timeout ? 'timeout' : 'error', elapsed(started))
      throw error
    }
  }
}

function elapsed(started: number): number {
  return (performance.now() - started) / 1000
}
