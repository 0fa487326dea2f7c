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
import { parseTraceparent, requestIdOf } from './trace.js'

type Handler = (request: Request) => Promise<Response>

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
}

/** Wraps `handler` with the request line, metrics and the request-id header. */
export function withRequestLog(handler: Handler, options: RequestLogOptions): Handler {
  const { logger, metrics } = options
  return async (request) => {
    const started = performance.now()
    const trace = parseTraceparent(request.headers.get('traceparent'))
    const ip = options.addressOf?.(request)
    const context: RequestContext = {
      requestId: requestIdOf(request),
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
    if (options.isUnhandled?.(response) === true) {
      logger.debug({ requestId: context.requestId, method: request.method }, 'not handled')
      return response
    }
    line(response.status)
    return withRequestId(response, context.requestId)

    function line(status: number, thrown?: unknown): void {
      const durationMs = Math.round((performance.now() - started) * 100) / 100
      metrics.request(route, request.method, status, durationMs / 1000)
      const fields: Record<string, unknown> = {
        component: options.component,
        requestId: context.requestId,
        method: request.method,
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
      if (status >= 500) logger.error(fields, 'request')
      else logger.info(fields, 'request')
    }
  }
}

/** The response with `x-request-id` set (copied when its headers are immutable). */
function withRequestId(response: Response, requestId: string): Response {
  try {
    response.headers.set('x-request-id', requestId)
    return response
  } catch {
    const copy = new Response(response.body, response)
    copy.headers.set('x-request-id', requestId)
    return copy
  }
}
