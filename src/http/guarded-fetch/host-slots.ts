/**
 * Host slots of the guarded fetch: at most N requests in flight per target `host:port`; the
 * others wait in line (FIFO) until a slot is free or their deadline passes.
 */

/** Per-host counters of requests in flight, with a FIFO queue of waiters per host. */
export class HostSlots {
  readonly #max: number
  readonly #busy = new Map<string, number>()
  readonly #waiting = new Map<string, (() => void)[]>()
  constructor(max: number) {
    this.#max = max
  }
  acquire(host: string, signal: AbortSignal): Promise<void> {
    const busy = this.#busy.get(host) ?? 0
    if (busy < this.#max) {
      this.#busy.set(host, busy + 1)
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      const queue = this.#waiting.get(host) ?? []
      const grant = (): void => {
        signal.removeEventListener('abort', leave)
        resolve()
      }
      const leave = (): void => {
        const i = queue.indexOf(grant)
        if (i >= 0) queue.splice(i, 1)
        if (queue.length === 0) this.#waiting.delete(host)
      }
      signal.addEventListener('abort', leave, { once: true })
      queue.push(grant)
      this.#waiting.set(host, queue)
    })
  }
  release(host: string): void {
    const queue = this.#waiting.get(host)
    const next = queue?.shift()
    if (queue?.length === 0) this.#waiting.delete(host)
    // The slot passes straight to the next waiter; the count stays.
    if (next) {
      next()
      return
    }
    const busy = (this.#busy.get(host) ?? 1) - 1
    if (busy <= 0) this.#busy.delete(host)
    else this.#busy.set(host, busy)
  }
}
