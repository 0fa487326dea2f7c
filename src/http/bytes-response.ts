/**
 * A `Response` whose body is already in memory, for answers that pass through Gatehouse's own Node
 * path (the gateway's small JSON answers): no web stream is made unless something asks for
 * `body`, and the Node adapter writes the bytes as they are. How, why and the figures:
 * `held-body.ts`. A runtime that reads a response's internal body slot directly (Deno's, Bun's or
 * Workers' own servers) would see none: use it only for answers that stay on Node.
 */
import { HELD_BODY, HeldBody, HoldingBytes, holdsBytes, takeBytes } from './held-body.js'

/** Statuses whose responses have no body (Fetch: "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

/** A `Response` carrying its whole body as bytes; behaves as `new Response(bytes, init)`. */
export class BytesResponse extends HoldingBytes(Response) {
  constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
    // Refused here, as `new Response(bytes, init)` refuses it, not later when a twin is made.
    if (NULL_BODY_STATUS.has(init.status ?? 200)) {
      throw new TypeError(`a response with status ${String(init.status)} cannot have a body`)
    }
    super(null, init)
    this[HELD_BODY] = new HeldBody(bytes, (held) => new Response(held, this.#init()))
  }

  override clone(): Response {
    const real = this[HELD_BODY]?.made
    if (real !== undefined) return real.clone()
    const bytes = this[HELD_BODY]?.bytes
    if (bytes === undefined) throw new TypeError('Response.clone: Body has already been consumed.')
    return new BytesResponse(bytes, this.#init())
  }

  #init(): ResponseInit {
    return { status: this.status, statusText: this.statusText, headers: this.headers }
  }
}

export { takeBytes }

/** Whether `response`'s whole body is in memory, so reading it cannot wait on the network. */
export function isWhole(response: Response): boolean {
  return holdsBytes(response)
}

/**
 * `response` with other headers: a {@link BytesResponse} stays one (its bytes unread), any other
 * response gets its body passed on.
 */
export function withHeaders(response: Response, headers: Headers): Response {
  const init = { status: response.status, statusText: response.statusText, headers }
  const bytes = response instanceof BytesResponse ? takeBytes(response) : undefined
  return bytes !== undefined ? new BytesResponse(bytes, init) : new Response(response.body, init)
}
