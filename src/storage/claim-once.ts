/**
 * `claimOnce`: spends a single-use value (a proof's or an assertion's `jti`) with `setIfAbsent`,
 * and tells this request's own claim from someone else's when the store's answer was not its own.
 */
import { StoreError } from '../errors.js'
import type { Store } from './store.js'

/**
 * Claims `key` for `ttlSeconds`; `true` when this call's claim holds it, `false` when another
 * holds it (a replay).
 *
 * The claim writes a random nonce, not a constant, so that two cases that would otherwise look
 * like a replay are recognised as this call's own success: a `setIfAbsent` that a client or
 * cluster sent again after a lost reply (the second run finds the key and answers `false`), and
 * a `StoreError` after the write applied (the reply was lost). Either way the key holds this
 * call's nonce. A `StoreError` is rethrown when the key does not hold it (nothing was claimed, so
 * the client's retry is safe) or cannot be read.
 */
export async function claimOnce(store: Store, key: string, ttlSeconds: number): Promise<boolean> {
  const nonce = crypto.randomUUID()
  let claimed: boolean
  try {
    claimed = await store.setIfAbsent(key, nonce, { ttlSeconds })
  } catch (error) {
    if (!(error instanceof StoreError) || error.code !== 'ERR_STORE_UNAVAILABLE') throw error
    let held: unknown
    try {
      held = await store.get(key)
    } catch {
      throw error
    }
    if (held === nonce) return true
    throw error
  }
  return claimed || (await store.get(key)) === nonce
}
