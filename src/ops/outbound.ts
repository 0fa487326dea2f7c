/**
 * The fetch Gatehouse uses towards the identity provider, instrumented: it carries the incoming
 * request's trace on (a W3C `traceparent`: with OpenTelemetry, the call's own client span; else
 * the same trace id and a new span id; unless the caller set one) and times each call by host and
 * outcome. URLs, bodies and answers are not recorded: token requests carry codes and secrets.
 */
import type { Metrics } from './metrics.js'
import { NO_TRACING, type Tracing } from './tracing.js'

/** Wraps `base` (read at call time when omitted, like `globalThis.fetch`). */
export function instrumentFetch(
  base: typeof fetch | undefined,
  metrics: Metrics,
  tracing: Tracing = NO_TRACING,
): typeof fetch {
  return async (input, init) => {
    const target = input instanceof Request ? input.url : String(input)
    let host = 'unknown'
    try {
      host = new URL(target).host
    } catch {
      // Not a URL: the underlying fetch will refuse it.
    }
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const call = async (): Promise<Response> => {
      const traceparent = tracing.traceparent()
      let request = init
      if (traceparent !== undefined) {
        const headers = new Headers(
          init?.headers ?? (input instanceof Request ? input.headers : {}),
        )
        if (!headers.has('traceparent')) headers.set('traceparent', traceparent)
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
    if (!tracing.enabled) return call()
    return tracing.span(
      method,
      {
        kind: 'client',
        attributes: {
          'http.request.method': method,
          'server.address': host,
          'peer.service': 'idp',
        },
      },
      async (span) => {
        const response = await call()
        span.setAttribute('http.response.status_code', response.status)
        if (response.status >= 500) span.fail(String(response.status))
        return response
      },
    )
  }
}

function elapsed(started: number): number {
  return (performance.now() - started) / 1000
}
