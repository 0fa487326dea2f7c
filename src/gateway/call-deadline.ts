/**
 * The deadline of one call whose answer the gateway waits for itself (stdio and legacy SSE
 * routes, where the gateway is the client of the MCP server). MCP lifecycle §Timeouts: a request's
 * timeout MAY be reset when a progress notification for that request's `progressToken` arrives
 * (work is happening), but a maximum total timeout is enforced however much progress is reported.
 * So `timeoutMs` runs from the call's start and again from each `progress()`, never past `maxMs`
 * from the start. HTTP routes read the same clock's events off the event stream (`answer-deadline.ts`).
 */

export interface CallDeadline {
  /** A progress notification for the call arrived: the clock starts again (within `maxMs`). */
  progress(): void
  /** The answer came (or the call was dropped): the deadline will not fire. */
  clear(): void
}

export function callDeadline(options: {
  timeoutMs: number
  /** However much progress, the call fails this long after its start (at least `timeoutMs`). */
  maxMs: number
  onTimeout: () => void
  /** When the call was sent (both clocks run from there); default now. */
  startedAt?: number
  now?: () => number
}): CallDeadline {
  const now = options.now ?? Date.now
  const started = options.startedAt ?? now()
  const cutOff = started + Math.max(options.timeoutMs, options.maxMs)
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = (from: number) => {
    clearTimeout(timer)
    const wait = Math.max(0, Math.min(from + options.timeoutMs, cutOff) - now())
    timer = setTimeout(() => {
      timer = undefined
      options.onTimeout()
    }, wait)
  }
  arm(started)
  return {
    progress() {
      if (timer !== undefined) arm(now())
    },
    clear() {
      clearTimeout(timer)
      timer = undefined
    },
  }
}
