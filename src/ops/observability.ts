/**
 * Everything operators watch, built once per Gatehouse instance from configuration and options:
 * the logger, the audit sink and its writers, the metrics, the instrumented store and upstream
 * fetch, the error hook that logs reasons, and the `/healthz`, `/readyz` and `/metrics` routes.
 * Node-only parts (the audit file, prom-client) are loaded only when asked for.
 */
import type { Registry } from 'prom-client'
import type { ResolvedConfig } from '../config/schema.js'
import type { ErrorHook, OAuthError } from '../errors.js'
import type { Route } from '../http/app.js'
import type { Store } from '../storage/store.js'
import { GRANT_PREFIX } from '../storage/keys.js'
import type { AuditEvent, AuditSink } from '../audit-event.js'
import { createAuditSink, logAuditWriter, type AuditWriter } from './audit.js'
import type { FileAuditWriter } from './audit-file-writer.js'
import { currentContext, loadContextStorage } from './context.js'
import { livenessResponse, readinessResponse, type ReadinessCheck } from './health.js'
import { checkMetricsAccess } from './metrics-access.js'
import { instrumentStore } from './instrumented-store.js'
import { SILENT_LOGGER, type Logger } from './logger.js'
import { NO_METRICS, type Metrics } from './metrics.js'
import { instrumentFetch } from './outbound.js'
import { createTracing, type Tracing } from './tracing.js'

/** The options of `createGatehouse` that this module reads. */
export interface ObservabilityOptions {
  /** A pino-compatible logger; default silent. */
  logger?: Logger
  /** Receives every audit event, whatever `config.audit.sink` says. */
  audit?: AuditWriter
  /** `true`: Prometheus metrics in a registry of their own; a `Registry`: in that one. */
  metrics?: boolean | Registry
  /** The fetch towards identity providers, instrumented here. */
  fetch?: typeof fetch
  /**
   * OpenTelemetry spans when `@opentelemetry/api` is installed (default `true`); `false` keeps
   * Gatehouse from loading it at all.
   */
  tracing?: boolean
}

export interface Observability {
  readonly logger: Logger
  readonly audit: AuditSink
  readonly metrics: Metrics
  /** OpenTelemetry spans (no-op without `@opentelemetry/api`). */
  readonly tracing: Tracing
  /** The prom-client registry, when metrics are on. */
  readonly registry: Registry | undefined
  /** The last audit events of this instance, newest first (kept only with `admin.enabled`). */
  recentAudit(): readonly AuditEvent[]
  /** The fetch to reach identity providers with (trace propagation, latency, errors). */
  readonly fetch: typeof fetch
  /** Wraps the backend store to time its operations. */
  instrumentStore(store: Store): Store
  /**
   * Feeds the active-grants gauge from `store` (the one the grants live in): a `scan` of the
   * grant keys, at most once per `metrics.activeGrantsRefreshSeconds`, only when a scrape asks.
   * Nothing when metrics are off, the setting is 0 or the store cannot scan.
   */
  countGrants(store: Store): void
  /** An error hook that notes the reason on the request line (and logs 5xx), then calls `next`. */
  errorHook(next: ErrorHook | undefined): ErrorHook
  /**
   * `/healthz`, `/readyz` and (when metrics are on and `metrics.listen` is not set) `/metrics`
   * under `basePath`; `addressOf` gives the peer address the adapter recorded (the loopback rule).
   */
  routes(
    basePath: string,
    checks: readonly ReadinessCheck[],
    addressOf: (request: Request) => string | undefined,
  ): Route[]
  close(): Promise<void>
}

/** How many audit events the `/admin` page shows. */
export const RECENT_AUDIT_EVENTS = 50

/** How long `/readyz` waits for each check. */
export const READINESS_TIMEOUT_MS = 2000

export async function createObservability(
  config: ResolvedConfig,
  options: ObservabilityOptions,
  now: () => number,
): Promise<Observability> {
  await loadContextStorage()
  const tracing = await createTracing({ enabled: options.tracing ?? true })
  const logger = options.logger ?? SILENT_LOGGER
  let metrics: Metrics = NO_METRICS
  let registry: Registry | undefined
  const wanted = options.metrics ?? config.metrics.enabled
  if (wanted !== false) {
    const { createPrometheusMetrics } = await import('./prometheus.js')
    const prometheus = createPrometheusMetrics(wanted === true ? undefined : wanted)
    metrics = prometheus
    registry = prometheus.registry
  }
  const writers: AuditWriter[] = []
  const closers: (() => Promise<void>)[] = []
  // The silent logger writes nothing: no writer, so no event is built for it (issue 17).
  if (config.audit.sink === 'log' && logger !== SILENT_LOGGER) writers.push(logAuditWriter(logger))
  if (config.audit.sink === 'file' && config.audit.file !== undefined) {
    // Node only: a variable specifier keeps node:fs out of the runtime-neutral build.
    const specifier = './audit-file.js'
    const { createFileAuditWriter } = (await import(specifier)) as {
      createFileAuditWriter: (path: string) => FileAuditWriter
    }
    const file = createFileAuditWriter(config.audit.file)
    writers.push(file.write)
    closers.push(() => file.close())
  }
  if (options.audit) writers.push(options.audit)
  const recent: AuditEvent[] = []
  if (config.admin.enabled) {
    writers.push((event) => {
      recent.unshift(event)
      if (recent.length > RECENT_AUDIT_EVENTS) recent.pop()
    })
  }
  const audit = createAuditSink({ writers, logger, metrics, now })

  return {
    logger,
    audit,
    metrics,
    tracing,
    registry,
    recentAudit: () => recent,
    fetch: instrumentFetch(options.fetch, metrics, tracing),
    instrumentStore: (store) =>
      metrics === NO_METRICS && !tracing.enabled ? store : instrumentStore(store, metrics, tracing),
    countGrants(store) {
      const seconds = config.metrics.activeGrantsRefreshSeconds
      const scan = store.scan?.bind(store)
      if (metrics === NO_METRICS || seconds === 0 || scan === undefined) return
      metrics.activeGrants(async () => (await scan(GRANT_PREFIX)).length, seconds, now)
    },
    errorHook: (next) => (error: OAuthError) => {
      noteError(error, logger)
      next?.(error)
    },
    routes(basePath, checks, addressOf) {
      const routes: Route[] = [
        {
          path: `${basePath}/healthz`,
          cors: false,
          head: true,
          methods: { GET: () => Promise.resolve(livenessResponse()) },
        },
        {
          path: `${basePath}/readyz`,
          cors: false,
          head: true,
          methods: { GET: () => readinessResponse(checks, READINESS_TIMEOUT_MS) },
        },
      ]
      // With a separate listener the path stays the embedding app's (an unhandled 404 here).
      if (registry && config.metrics.listen === undefined) {
        const access = { token: config.metrics.token, addressOf }
        routes.push({
          path: `${basePath}/metrics`,
          cors: false,
          head: true,
          methods: {
            GET: async (request) => {
              await checkMetricsAccess(request, access)
              return new Response(await metrics.render(), {
                headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' },
              })
            },
          },
        })
      }
      return routes
    },
    async close() {
      await Promise.all(closers.map((c) => c()))
    },
  }
}

/**
 * The error's code and reason go on the request line; server-side failures also get a line of
 * their own with the class name of the cause. Never the description (it may describe an upstream
 * payload) nor the cause's message (it may quote a token).
 */
function noteError(error: OAuthError, logger: Logger): void {
  const context = currentContext()
  if (context) {
    context.error = error.code
    if (error.reason !== undefined) context.reason = error.reason
  }
  if (error.status < 500 && context) return
  const fields: Record<string, unknown> = { error: error.code, status: error.status }
  if (error.reason !== undefined) fields.reason = error.reason
  if (context) fields.requestId = context.requestId
  if (error.cause instanceof Error) fields.causeName = error.cause.name
  if (error.status >= 500) logger.error(fields, 'request failed')
  else logger.info(fields, 'request refused')
}
