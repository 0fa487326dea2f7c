/**
 * OpenTelemetry spans, when the application has `@opentelemetry/api` (an optional peer
 * dependency) and registers an SDK. The API is loaded once, lazily, by a dynamic import; without
 * it every `span` call is just the wrapped function (no allocation, no clock read), so Gatehouse
 * costs nothing extra when tracing is absent. With the API but no SDK registered, the API's own
 * no-op tracer answers (non-recording spans).
 *
 * Spans (names and attributes are stable; values are identifiers, never tokens, codes or URLs
 * with queries): the request (`SERVER`, `{method} {route}`), token issuance (`gatehouse.token`),
 * calls to the identity provider (`CLIENT`, `{method}` with `server.address`), the gateway's MCP
 * upstream (`CLIENT`) and store operations (`gatehouse.store {op}`). The current span is carried
 * in Gatehouse's own async slot (and entered into the API's context, for a context manager the
 * application registered), so nesting works without a context manager; an incoming
 * `traceparent` becomes the remote parent of the request span when no span is active.
 */
import type * as OTel from '@opentelemetry/api'
import { createAsyncSlot, currentContext, type AsyncSlot } from './context.js'
import { childTraceparent, parseTraceparent } from './trace.js'

/** The kinds Gatehouse's spans use (the API's `SpanKind`, by name). */
export type SpanKindName = 'internal' | 'server' | 'client'

export interface SpanOptions {
  kind?: SpanKindName
  attributes?: Record<string, string | number | boolean>
  /** For a server span: the request, whose `traceparent` is the parent when no span is active. */
  request?: Request
}

/** What a running span lets the wrapped code do. */
export interface ActiveSpan {
  setAttribute(name: string, value: string | number | boolean): void
  /** Marks the span failed (status ERROR); `name` is the error's class or code, never a message. */
  fail(name: string): void
}

export interface Tracing {
  /** Whether `@opentelemetry/api` was found (spans are recorded once an SDK is registered). */
  readonly enabled: boolean
  /** Runs `fn` in a span; a throw marks the span failed (its class name only) and propagates. */
  span<R>(name: string, options: SpanOptions, fn: (span: ActiveSpan) => Promise<R>): Promise<R>
  /**
   * The `traceparent` for a call made now to another service: the current span's when it is
   * recording; else, when the request came with a valid `traceparent`, its trace id with a new
   * span id; else `undefined`.
   */
  traceparent(): string | undefined
}

/** The request's incoming trace continued with a new span id, when there is one. */
function fromIncoming(): string | undefined {
  const trace = currentContext()?.trace
  return trace !== undefined ? childTraceparent(trace) : undefined
}

const NO_SPAN: ActiveSpan = { setAttribute: () => undefined, fail: () => undefined }

/** Tracing without OpenTelemetry: the function, nothing else. */
export const NO_TRACING: Tracing = {
  enabled: false,
  span: (_name, _options, fn) => fn(NO_SPAN),
  traceparent: fromIncoming,
}

/** The tracer name spans are recorded under (the instrumentation scope). */
export const TRACER_NAME = 'mcp-gatehouse'

let loading: Promise<typeof OTel | undefined> | undefined

/** `@opentelemetry/api` when installed, loaded once; never throws. */
function loadAPI(): Promise<typeof OTel | undefined> {
  loading ??= (async () => {
    try {
      // A variable specifier: an optional peer, absent in most installs and bundles.
      const specifier = '@opentelemetry/api'
      return (await import(specifier)) as typeof OTel
    } catch {
      return undefined
    }
  })()
  return loading
}

/** Tracing through `@opentelemetry/api` when it is installed, else {@link NO_TRACING}. */
export async function createTracing(options: { enabled?: boolean } = {}): Promise<Tracing> {
  if (options.enabled === false) return NO_TRACING
  const api = await loadAPI()
  if (api === undefined) return NO_TRACING
  return otelTracing(api, createAsyncSlot<OTel.Context>())
}

function otelTracing(api: typeof OTel, current: AsyncSlot<OTel.Context>): Tracing {
  // A proxy tracer: it delegates to whichever SDK is registered, also one registered later.
  const tracer = api.trace.getTracer(TRACER_NAME)
  // The API's no-op provider (what a proxy without a delegate answers with): while it is the
  // global one, no SDK is registered and a span would record nothing, so none is started.
  const noop = new api.ProxyTracerProvider().getDelegate()
  const sdkRegistered = (): boolean => {
    const global = api.trace.getTracerProvider()
    const delegate = global instanceof api.ProxyTracerProvider ? global.getDelegate() : global
    return delegate !== noop
  }
  const kinds: Record<SpanKindName, OTel.SpanKind> = {
    internal: api.SpanKind.INTERNAL,
    server: api.SpanKind.SERVER,
    client: api.SpanKind.CLIENT,
  }

  function parentOf(options: SpanOptions): OTel.Context {
    const active = current.get() ?? api.context.active()
    if (options.request === undefined || api.trace.getSpan(active) !== undefined) return active
    const incoming = parseTraceparent(options.request.headers.get('traceparent'))
    if (incoming === undefined) return active
    return api.trace.setSpanContext(active, {
      traceId: incoming.traceId,
      spanId: incoming.parentId,
      traceFlags: parseInt(incoming.flags, 16) & 1,
      isRemote: true,
    })
  }

  async function recorded<R>(
    name: string,
    options: SpanOptions,
    fn: (span: ActiveSpan) => Promise<R>,
  ): Promise<R> {
    const parent = parentOf(options)
    const span = tracer.startSpan(
      name,
      {
        kind: kinds[options.kind ?? 'internal'],
        ...(options.attributes ? { attributes: options.attributes } : {}),
      },
      parent,
    )
    const handle: ActiveSpan = {
      setAttribute: (key, value) => {
        span.setAttribute(key, value)
      },
      fail: (errorName) => {
        span.setStatus({ code: api.SpanStatusCode.ERROR })
        span.setAttribute('error.type', errorName)
      },
    }
    const context = api.trace.setSpan(parent, span)
    try {
      return await current.run(context, () => api.context.with(context, () => fn(handle)))
    } catch (error) {
      handle.fail(errorType(error))
      throw error
    } finally {
      span.end()
    }
  }

  return {
    enabled: true,
    // Not `async`: without an SDK the function's own promise is returned as it is.
    span(name, options, fn) {
      return sdkRegistered() ? recorded(name, options, fn) : fn(NO_SPAN)
    },
    traceparent() {
      const span = api.trace.getSpan(current.get() ?? api.context.active())
      const context = span?.spanContext()
      if (context === undefined || !span?.isRecording() || !api.isSpanContextValid(context)) {
        return fromIncoming()
      }
      const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0')
      return `00-${context.traceId}-${context.spanId}-${flags}`
    },
  }
}

/** An error's code (`OAuthError`, `StoreError`) or class name: never its message. */
function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && /^[a-z_A-Z0-9]{1,64}$/.test(code)) return code
  }
  return error instanceof Error ? error.name : 'unknown'
}
