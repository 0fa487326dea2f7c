/**
 * What Gatehouse measures, as a small port: the Prometheus implementation (prometheus.ts, through
 * prom-client) is loaded only when metrics are enabled, so the core carries no cost without it.
 * Labels are bounded sets (route templates, outcomes, grant types, hosts of configured IdPs);
 * never a client id, subject or raw path.
 */
import type { AuditEvent } from '../audit-event.js'

/** How a bearer-token check ended at the guard. */
export type BearerOutcome =
  'ok' | 'missing' | 'invalid' | 'insufficient_scope' | 'revoked' | 'error'

/** The store operations that are timed. */
export type StoreOperation =
  | 'get'
  | 'set'
  | 'setIfAbsent'
  | 'take'
  | 'delete'
  | 'commit'
  | 'acquireLock'
  | 'releaseLock'
  | 'scan'

export interface Metrics {
  /** One handled request: route template, method, status, seconds taken. */
  request(route: string, method: string, status: number, seconds: number): void
  bearer(outcome: BearerOutcome): void
  /** Every audit event (tokens issued by grant type come from here). */
  audit(event: AuditEvent): void
  /** A verified-token cache lookup. */
  tokenCache(hit: boolean): void
  /** A load of a signing key set (JWKS) from a remote or local source. */
  jwksFetch(outcome: 'ok' | 'error'): void
  /** An outbound call to the identity provider: `outcome` is `2xx`…`5xx`, `timeout` or `error`. */
  upstream(host: string, outcome: string, seconds: number): void
  /** A store operation: `outcome` is `ok` or the `StoreError` code. */
  store(operation: StoreOperation, outcome: string, seconds: number): void
  /**
   * Where the active-grants gauge comes from: `count` runs at a scrape when its last answer is
   * older than `maxAgeSeconds` (one count at a time), else the last answer is reported.
   */
  activeGrants(count: () => Promise<number>, maxAgeSeconds: number, now: () => number): void
  /** The Prometheus text exposition format's content type. */
  readonly contentType: string
  /** The metrics in Prometheus text format. */
  render(): Promise<string>
}

const nothing = () => undefined

/** Measures nothing (metrics disabled). */
export const NO_METRICS: Metrics = {
  request: nothing,
  bearer: nothing,
  audit: nothing,
  tokenCache: nothing,
  jwksFetch: nothing,
  upstream: nothing,
  store: nothing,
  activeGrants: nothing,
  contentType: 'text/plain',
  render: () => Promise.resolve(''),
}
