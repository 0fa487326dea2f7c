/**
 * One log line and one metrics sample per request. The line is built from allow-listed fields
 * only: method, route template (never the raw path or query string, which carry codes and state
 * on /authorize and the IdP callback), status, duration, request id, trace id, client id, subject,
 * and for refusals the error code and internal reason. Headers, cookies and bodies are never read.
 * The request id (the client's `x-request-id` when well-formed, else a new one) is echoed in the
 * response.
 */
import { bindContext, runWithContext, type RequestContext } from './context.js'
import type { Logger } from './logger.js'
import type { Metrics } from './metrics.js'
import { parseTraceparent, requestIDOf } from './trace.js'
import { NO_TRACING, type Tracing } from './tracing.js'

type Handler = (request: Request) => Promise<Response>

/** The methods Gatehouse's endpoints answer; any other is counted, logged and traced as one. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * The request's method as a bounded label: a client chooses the method, and runtimes other than
 * Node's parser pass any token on, so an unknown one is `_OTHER` (as OpenTelemetry's HTTP
 * conventions name it) instead of a new metrics series per name.
 */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER'
}

export interface RequestLogOptions {
  logger: Logger
  metrics: Metrics
  /** `fetch` (the authorization server's endpoints) or `guard` (protected resources). */
  component: 'fetch' | 'guard'
  /** The route template the request matched (a bounded set, used as a metrics label). */
  routeOf: (request: Request) => string
  /** The peer address the adapter recorded, if any. */
  addressOf?: (request: Request) => string | undefined
  /** Routes whose `client_id` query parameter (a public identifier) goes on the line. */
  clientIdInQuery?: ReadonlySet<string>
  /** Responses the embedding app handles (not ours): logged at debug level, not counted. */
  isUnhandled?: (response: Response) => boolean
  /** OpenTelemetry: a server span per request (`{method} {route}`). */
  tracing?: Tracing
  /** Sees each answer and the request's context before the line is written (the guard's count). */
  observe?: (response: Response, context: RequestContext) => void
}

/** Wraps `handler` with the request line, metrics, the request-id header and a server span. */
export function withRequestLog(handler: Handler, options: RequestLogOptions): Handler {
  const tracing = options.tracing ?? NO_TRACING
  const logged = requestLine(handler, options)
  if (!tracing.enabled) return logged
  return (request) => {
    const route = options.routeOf(request)
    const method = methodLabel(request.method)
    return tracing.span(
      `${method} ${route}`,
      {
        kind: 'server',
        request,
        attributes: {
          'http.request.method': method,
          'http.route': route,
          'gatehouse.component': options.component,
        },
      },
      async (span) => {
        const response = await logged(request)
        span.setAttribute('http.response.status_code', response.status)
        if (response.status >= 500) span.fail(String(response.status))
        return response
      },
    )
  }
}

function requestLine(handler: Handler, options: RequestLogOptions): Handler {
  const { logger, metrics } = options
  const tracing = options.tracing ?? NO_TRACING
  return async (request) => {
    const started = performance.now()
    // The trace on the line: the client's, else (with OpenTelemetry) the request span's.
    const trace =
      parseTraceparent(request.headers.get('traceparent')) ??
      (tracing.enabled ? parseTraceparent(tracing.traceparent() ?? null) : undefined)
    const ip = options.addressOf?.(request)
    const context: RequestContext = {
      requestId: requestIDOf(request),
      ...(trace ? { trace } : {}),
      ...(ip !== undefined ? { ip } : {}),
    }
    const route = options.routeOf(request)
    if (options.clientIdInQuery?.has(route)) {
      const clientId = new URL(request.url).searchParams.get('client_id')
      if (clientId !== null && clientId.length <= 256) context.clientId = clientId
    }
    bindContext(request, context)
    let response: Response
    try {
      response = await runWithContext(context, () => handler(request))
    } catch (error) {
      line(500, error)
      throw error
    }
    options.observe?.(response, context)
    if (options.isUnhandled?.(response) === true) {
      logger.debug(
        { requestId: context.requestId, method: methodLabel(request.method) },
        'not handled',
      )
      return response
    }
    line(response.status)
    return withRequestID(response, context.requestId)

    function line(status: number, thrown?: unknown): void {
      const durationMs = Math.round((performance.now() - started) * 100) / 100
      const method = methodLabel(request.method)
      metrics.request(route, method, status, durationMs / 1000)
      const level = status >= 500 ? 'error' : 'info'
      if (logger.isLevelEnabled?.(level) === false) return
      const fields: Record<string, unknown> = {
        component: options.component,
        requestId: context.requestId,
        method,
        route,
        status,
        durationMs,
      }
      if (context.trace) fields.traceId = context.trace.traceId
      if (context.clientId !== undefined) fields.clientId = context.clientId
      if (context.subject !== undefined) fields.subject = context.subject
      if (context.error !== undefined) fields.error = context.error
      if (context.reason !== undefined) fields.reason = context.reason
      // Only the class name of an escaped error: its message may quote a payload.
      if (thrown !== undefined) fields.errorName = thrown instanceof Error ? thrown.name : 'unknown'
      logger[level](fields, 'request')
    }
  }
}

/** The response with `x-request-id` set (copied when its headers are immutable). */
function withRequestID(response: Response, requestId: string): Response {
  try {
    response.headers.set('x-request-id', requestId)
    return response
  } catch {
    const copy = new Response(response.body, response)
    copy.headers.set('x-request-id', requestId)
    return copy
  }
}
