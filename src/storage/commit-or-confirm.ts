/**
 * `commitOrConfirm`: applies one atomic step and settles a storage fault whose outcome is unknown
 * (the backend may have applied the step and lost the reply) by looking for the step's own marker.
 */
import { StoreError } from '../errors.js'
import type { AtomicStep, Store } from './store.js'

/**
 * Applies `step`; `confirm` looks for the step's own unique marker after a fault. The fault is
 * rethrown (503, nothing changed) unless the step is known to have applied.
 *
 * The marker read is final because a store throws only once the step's outcome is settled (the
 * `Store.commit` contract: Redis waits out the step's deadline first). A `false` answer is
 * returned as is: the caller reads the marker on that path too, since a step sent again after a
 * lost reply answers `false` though its first run applied.
 */
export async function commitOrConfirm(
  store: Store,
  step: AtomicStep,
  confirm: () => Promise<boolean>,
): Promise<boolean> {
  try {
    return await store.commit(step)
  } catch (error) {
    if (!(error instanceof StoreError) || error.code !== 'ERR_STORE_UNAVAILABLE') throw error
    let applied: boolean
    try {
      applied = await confirm()
    } catch {
      throw error
    }
    if (applied) return true
    throw error
  }
}
