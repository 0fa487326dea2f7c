/**
 * `Metrics` on prom-client, in a registry of this Gatehouse instance (never the global one, so two
 * instances in one process, or the embedding app's own metrics, do not collide).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AuditEvent } from '../audit-event.js'
import type { BearerOutcome, Metrics, StoreOperation } from './metrics.js'

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Creates the metrics in `registry` (default: a new one). */
export function createPrometheusMetrics(registry: Registry = new Registry()): Metrics & {
  readonly registry: Registry
} {
  const registers = [registry]
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests handled, by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  })
  const latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const tokens = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses issued, by grant type',
    labelNames: ['grant_type'] as const,
    registers,
  })
  const audits = new Counter({
    name: 'gatehouse_audit_events_total',
    help: 'Audit events, by event and outcome',
    labelNames: ['event', 'outcome'] as const,
    registers,
  })
  const bearer = new Counter({
    name: 'gatehouse_bearer_verifications_total',
    help: 'Bearer token checks at the guard, by outcome',
    labelNames: ['outcome'] as const,
    registers,
  })
  const cache = new Counter({
    name: 'gatehouse_verified_token_cache_lookups_total',
    help: 'Verified-token cache lookups, by result (hit or miss)',
    labelNames: ['result'] as const,
    registers,
  })
  const jwks = new Counter({
    name: 'gatehouse_jwks_fetches_total',
    help: 'Signing key set (JWKS) loads, by outcome',
    labelNames: ['outcome'] as const,
    registers,
  })
  const upstream = new Histogram({
    name: 'gatehouse_upstream_request_duration_seconds',
    help: 'Calls to the identity provider, by host and outcome (status class, timeout, error)',
    labelNames: ['host', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const upstreamErrors = new Counter({
    name: 'gatehouse_upstream_errors_total',
    help: 'Failed calls to the identity provider (5xx, timeout, network error), by host and outcome',
    labelNames: ['host', 'outcome'] as const,
    registers,
  })
  const store = new Histogram({
    name: 'gatehouse_store_operation_duration_seconds',
    help: 'Store operations, by operation and outcome (ok or the StoreError code)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const storeErrors = new Counter({
    name: 'gatehouse_store_errors_total',
    help: 'Store operations that failed, by operation and StoreError code',
    labelNames: ['operation', 'code'] as const,
    registers,
  })
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    request(route: string, method: string, status: number, seconds: number) {
      requests.inc({ route, method, status: String(status) })
      latency.observe({ route, method }, seconds)
    },
    bearer(outcome: BearerOutcome) {
      bearer.inc({ outcome })
    },
    audit(event: AuditEvent) {
      audits.inc({ event: event.event, outcome: event.outcome })
      if (event.event === 'tokens_issued' && event.grantType !== undefined) {
        tokens.inc({ grant_type: event.grantType })
      }
    },
    tokenCache(hit: boolean) {
      cache.inc({ result: hit ? 'hit' : 'miss' })
    },
    jwksFetch(outcome: 'ok' | 'error') {
      jwks.inc({ outcome })
    },
    upstream(host: string, outcome: string, seconds: number) {
      upstream.observe({ host, outcome }, seconds)
      if (outcome === '5xx' || outcome === 'timeout' || outcome === 'error') {
        upstreamErrors.inc({ host, outcome })
      }
    },
    store(operation: StoreOperation, outcome: string, seconds: number) {
      store.observe({ operation, outcome }, seconds)
      if (outcome !== 'ok') storeErrors.inc({ operation, code: outcome })
    },
    activeGrants(count: () => Promise<number>, maxAgeSeconds: number, now: () => number) {
      let last: { value: number; at: number } | undefined
      let counting: Promise<void> | undefined
      const refresh = async () => {
        try {
          last = { value: await count(), at: now() }
        } catch {
          // The store errors counter has it; keep the last count rather than fail the scrape.
        } finally {
          counting = undefined
        }
      }
      new Gauge({
        name: 'gatehouse_active_grants',
        help: 'Live grants (refresh-token families) in the store, counted at most once per metrics.activeGrantsRefreshSeconds',
        registers,
        async collect() {
          if (last === undefined || now() - last.at >= maxAgeSeconds * 1000) {
            counting ??= refresh()
            await counting
          }
          if (last !== undefined) this.set(last.value)
        },
      })
    },
  }
}
