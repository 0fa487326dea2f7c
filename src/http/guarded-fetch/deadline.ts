/**
 * The guarded fetch's deadline: a race against the abort signal that holds even when an injected
 * fetch ignores the signal, and the one mapping of a failure to the guard's `UpstreamError`
 * (timeout, unreachable), which never carries a remote body.
 */
import { UpstreamError } from '../../errors.js'

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // An injected fetch may ignore the signal; the deadline must hold anyway.
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error('fetch failed'))
      },
    )
  })
}

/** A failure while talking to `origin` as the guard reports it. */
export function failure(error: unknown, signal: AbortSignal, origin: string): UpstreamError {
  if (error instanceof UpstreamError) return error
  if (signal.aborted) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', `${origin} did not answer in time`, {
      cause: error,
    })
  }
  // The cause is the network error of the runtime (no remote body can be in it).
  return new UpstreamError('ERR_UPSTREAM', `${origin} could not be reached`, { cause: error })
}
