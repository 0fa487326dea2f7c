/**
 * A whole body kept as bytes beside a body-less `Request` or `Response`, for messages that stay on
 * Gatehouse's own Node path: no web stream is made unless something asks for `body` (or `blob()`,
 * `formData()`), and whoever knows to can take the bytes as they are (`takeBytes`).
 *
 * Written by hand because measurement showed it must be faster. A `Request` or `Response` built
 * from bytes makes a web stream at once, and a reader then has to read it back:
 * - a `Response`: 15–26 µs of CPU on Node 20–24 (25.9 µs against 1.3 µs for a body-less one on
 *   Node 20, 15.1 against 1.8 on Node 24), and ~5 µs more to read it; a proxied call paid both for
 *   every answer;
 * - a `Request` (the Node adapter's, a body read whole before the handler runs): 32.9 µs against
 *   15.5 for a body-less one on Node 20, 12.9 against 6.5 on Node 24 (a 120-byte MCP call with
 *   seven headers, loops of 200,000, 2026-12-07), then the gateway's read through a reader. What
 *   that did to the gateway as a whole: docs/benchmarks.md, Gateway.
 *
 * The message itself is body-less and the bytes are kept beside it, so its body is only visible to
 * code that goes through its properties and methods (`body`, `text()`, `clone()`, ...), as Node
 * code does. What reads a message's internal body slot directly sees none: `new Request(request)`
 * and `fetch(request)` on Node, and Deno's, Bun's or Workers' own servers. Use it only for messages
 * whose every reader is known.
 */

/** What `Request` and `Response` share: the body and its readers. */
interface BodyMembers {
  readonly body: ReadableStream<Uint8Array<ArrayBuffer>> | null
  readonly bodyUsed: boolean
  arrayBuffer(): Promise<ArrayBuffer>
  bytes(): Promise<Uint8Array<ArrayBuffer>>
  text(): Promise<string>
  json(): Promise<unknown>
  blob(): Promise<Blob>
  formData(): Promise<FormData>
}

/** A constructor of `Request`s or `Response`s (what {@link HoldingBytes} extends). */
// A mixin's base must take `any[]` (TypeScript's rule for mixin classes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type BodyClass = new (...args: any[]) => BodyMembers

/**
 * Where a holding message keeps its held body. A symbol: a handler given such a request sees only
 * the members of a `Request`, and cannot swap its body or read the bytes without using it.
 */
export const HELD_BODY = Symbol('gatehouse.heldBody')

/** A held body: the bytes until used, or the stream-backed twin once something needed one. */
export class HeldBody<M extends BodyMembers> {
  #bytes: Uint8Array<ArrayBuffer> | undefined
  #real: M | undefined
  #used = false
  /** What `body` answers once the bytes are used: a stream already read, as a real one is. */
  #spent: ReadableStream<Uint8Array<ArrayBuffer>> | undefined
  readonly #makeTwin: (bytes: Uint8Array<ArrayBuffer> | undefined) => M

  constructor(
    bytes: Uint8Array<ArrayBuffer>,
    makeTwin: (bytes: Uint8Array<ArrayBuffer> | undefined) => M,
  ) {
    this.#bytes = bytes
    this.#makeTwin = makeTwin
  }

  /** The bytes, when nothing has read or exposed the body yet; the body counts as used after. */
  take(): Uint8Array<ArrayBuffer> | undefined {
    if (this.#used || this.#real !== undefined) return undefined
    this.#used = true
    const bytes = this.#bytes
    this.#bytes = undefined
    return bytes
  }

  /** The bytes not yet taken, for a copy (`clone()`); `undefined` once used or twinned. */
  get bytes(): Uint8Array<ArrayBuffer> | undefined {
    return this.#used || this.#real !== undefined ? undefined : this.#bytes
  }

  get used(): boolean {
    return this.#used || (this.#real?.bodyUsed ?? false)
  }

  /** The real twin once one was made (then every member goes to it). */
  get made(): M | undefined {
    return this.#real
  }

  /** A real message over the same bytes; `undefined` once the bytes were taken. */
  twin(): M | undefined {
    if (this.#real === undefined && !this.#used) {
      this.#real = this.#makeTwin(this.#bytes)
      this.#bytes = undefined
    }
    return this.#real
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    const twin = this.twin()
    if (twin !== undefined) return twin.body
    // Used: a stream already locked, so a second read fails as it would on a real message
    // (rather than reading as an empty body).
    if (this.#spent === undefined) {
      this.#spent = new ReadableStream()
      this.#spent.getReader()
    }
    return this.#spent
  }

  read<T>(from: (bytes: Uint8Array<ArrayBuffer>) => T): Promise<T> {
    const bytes = this.take()
    if (bytes === undefined) return unusable()
    return new Promise((resolve) => {
      resolve(from(bytes)) // a parse error rejects, as `json()` does
    })
  }
}

/**
 * `Base` (`Request` or `Response`) whose body may be held as bytes: a subclass sets
 * `this[HELD_BODY]` to a {@link HeldBody} right after `super(...)` with no body. Each member is
 * the base's own until then (a subclass may hold some bodies and not others), then the bytes' or,
 * once one is made, the twin's. What they give out is a copy, never a view of the held bytes:
 * those may be a `Buffer` in Node's shared pool, whose `.buffer` holds other requests' bytes.
 */
export function HoldingBytes<B extends BodyClass>(Base: B) {
  abstract class Held extends Base {
    [HELD_BODY]: HeldBody<InstanceType<B>> | undefined

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      const held = this[HELD_BODY]
      return held === undefined ? super.body : held.body
    }

    override get bodyUsed(): boolean {
      const held = this[HELD_BODY]
      return held === undefined ? super.bodyUsed : held.used
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.arrayBuffer()
      return held.made?.arrayBuffer() ?? held.read((bytes) => copy(bytes).buffer)
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.bytes()
      return held.made?.bytes() ?? held.read(copy)
    }

    override text(): Promise<string> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.text()
      return held.made?.text() ?? held.read((bytes) => new TextDecoder().decode(bytes))
    }

    override json(): Promise<unknown> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.json()
      return (
        held.made?.json() ??
        held.read((bytes) => JSON.parse(new TextDecoder().decode(bytes)) as unknown)
      )
    }

    override blob(): Promise<Blob> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.blob()
      return held.twin()?.blob() ?? unusable()
    }

    override formData(): Promise<FormData> {
      const held = this[HELD_BODY]
      if (held === undefined) return super.formData()
      return held.twin()?.formData() ?? unusable()
    }
  }
  return Held
}

/** A plain `Uint8Array` with memory of its own (`Buffer#slice` would be a view of the same). */
function copy(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}

function unusable(): Promise<never> {
  return Promise.reject(new TypeError('Body is unusable: Body has already been read'))
}

/** What holds a body, seen from outside. */
interface Holding {
  [HELD_BODY]?: HeldBody<BodyMembers>
}

/**
 * The whole body of `message` when it holds its body as bytes and nobody has read it (then its
 * body counts as used); `undefined` for any other message. Read-only: the bytes are the held
 * ones, which a clone of the message shares.
 */
export function takeBytes(message: Request | Response): Uint8Array<ArrayBuffer> | undefined {
  return (message as Holding)[HELD_BODY]?.take()
}

/** Whether `message` holds its whole body in memory, so reading it cannot wait on the network. */
export function holdsBytes(message: Request | Response): boolean {
  return (message as Holding)[HELD_BODY] !== undefined
}
