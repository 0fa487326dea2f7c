/**
 * A `Store` that times every operation and counts failures by `StoreError` code. It sits under
 * the encryption layer, so it measures the backend itself; keys and values pass through untouched
 * and are never recorded.
 */
import { StoreError } from '../errors.js'
import type { AtomicStep, LockOptions, SetOptions, Store } from '../storage/store.js'
import type { Metrics, StoreOperation } from './metrics.js'
import { NO_TRACING, type Tracing } from './tracing.js'

/**
 * Wraps `store`; `close` is passed through untimed, `scan` only when the store has it. With
 * OpenTelemetry each operation is a span `gatehouse.store {operation}` (no key, no value).
 */
export function instrumentStore(
  store: Store,
  metrics: Metrics,
  tracing: Tracing = NO_TRACING,
): Store {
  const measured = async <R>(operation: StoreOperation, run: () => Promise<R>): Promise<R> => {
    const started = performance.now()
    try {
      const result = await run()
      metrics.store(operation, 'ok', (performance.now() - started) / 1000)
      return result
    } catch (error) {
      const code = error instanceof StoreError ? error.code : 'error'
      metrics.store(operation, code, (performance.now() - started) / 1000)
      throw error
    }
  }
  const timed = tracing.enabled
    ? <R>(operation: StoreOperation, run: () => Promise<R>): Promise<R> =>
        tracing.span(
          `gatehouse.store ${operation}`,
          { kind: 'client', attributes: { 'db.operation.name': operation } },
          () => measured(operation, run),
        )
    : measured
  const scan = store.scan?.bind(store)
  return {
    get: <T>(key: string) => timed('get', () => store.get<T>(key)),
    set: (key: string, value: unknown, options?: SetOptions) =>
      timed('set', () => store.set(key, value, options)),
    setIfAbsent: (key: string, value: unknown, options?: SetOptions) =>
      timed('setIfAbsent', () => store.setIfAbsent(key, value, options)),
    take: <T>(key: string) => timed('take', () => store.take<T>(key)),
    delete: (key: string) => timed('delete', () => store.delete(key)),
    commit: (step: AtomicStep) => timed('commit', () => store.commit(step)),
    acquireLock: (key: string, owner: string, options: LockOptions) =>
      timed('acquireLock', () => store.acquireLock(key, owner, options)),
    releaseLock: (key: string, owner: string) =>
      timed('releaseLock', () => store.releaseLock(key, owner)),
    ...(scan !== undefined ? { scan: (prefix: string) => timed('scan', () => scan(prefix)) } : {}),
    close: () => store.close(),
  }
}
