/**
 * Answers whose body is already entirely in memory (a small JSON answer the HTTP client collected).
 * They are marked so that what waits for a body's end (the upstream call's tracking, the route's
 * in-flight count) settles at once and passes the body on without wrapping it in another stream:
 * on Node 20 every web stream costs a `makeTransferable`, and a proxied call used to wrap its
 * answer twice.
 */
const whole = new WeakSet<Response>()

/** Marks `response` as whole (its body is in memory) and returns it. */
export function markWhole(response: Response): Response {
  whole.add(response)
  return response
}

/** Whether `response`'s body is in memory, so reading it cannot wait on the network. */
export function isWhole(response: Response): boolean {
  return whole.has(response)
}
