/**
 * A store wrapper for fault injection: armed at call N, it makes the Nth store call of the next
 * request fail with `StoreError` `ERR_STORE_UNAVAILABLE`, either before the call reaches the
 * backend (nothing happened) or after it did (the backend applied it, the reply was lost). It
 * records the calls that changed something, so a test can tell whether a failed request left
 * anything behind.
 */
import { StoreError } from '../../src/errors.js'
import type { Store } from '../../src/storage/store.js'

export type FaultMode = 'before' | 'after'

export interface FaultyStore extends Store {
  /** Fails the `index`th call (0-based) from now on, once. */
  arm(index: number, mode: FaultMode): void
  /** Stops injecting; returns whether the armed fault fired. */
  disarm(): boolean
  /** Store calls that took effect since the last `arm` (method names). */
  readonly effects: readonly string[]
  /** Store calls made since the last `arm` (method names). */
  readonly calls: readonly string[]
}

const METHODS = [
  'get',
  'set',
  'setIfAbsent',
  'take',
  'delete',
  'commit',
  'acquireLock',
  'releaseLock',
] as const
type Method = (typeof METHODS)[number]

/** Whether a call with this result changed the store. */
function changed(method: Method, result: unknown): boolean {
  switch (method) {
    case 'get':
      return false
    case 'take':
      return result !== undefined
    case 'set':
    case 'delete':
      return true
    case 'setIfAbsent':
    case 'commit':
    case 'acquireLock':
    case 'releaseLock':
      return result === true
  }
}

export function faultyStore(inner: Store): FaultyStore {
  let armedAt: number | undefined
  let mode: FaultMode = 'before'
  let fired = false
  let calls: string[] = []
  let effects: string[] = []
  const fault = (method: string) =>
    new StoreError('ERR_STORE_UNAVAILABLE', `injected fault in ${method}`)

  const wrapped = {} as Record<Method, (...args: unknown[]) => Promise<unknown>>
  for (const method of METHODS) {
    wrapped[method] = async (...args: unknown[]) => {
      const index = calls.length
      calls.push(method)
      const inject = armedAt === index
      if (inject) fired = true
      if (inject && mode === 'before') throw fault(method)
      const result = await (
        Reflect.get(inner, method) as (this: Store, ...a: unknown[]) => Promise<unknown>
      ).apply(inner, args)
      if (changed(method, result)) effects.push(method)
      if (inject) throw fault(method)
      return result
    }
  }
  return {
    ...(wrapped as unknown as Omit<Store, 'close'>),
    close: () => inner.close(),
    arm(index, how) {
      armedAt = index
      mode = how
      fired = false
      calls = []
      effects = []
    },
    disarm() {
      armedAt = undefined
      return fired
    },
    get effects() {
      return effects
    },
    get calls() {
      return calls
    },
  }
}
