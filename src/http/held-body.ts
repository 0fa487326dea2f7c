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
 *   15.5 for a body-less one on Node 20, 12.9 against 6.5 on Node 24 (a 120-byte MCP call with its
 *   headers, 2026-12-07), then the gateway's read through a reader.
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

/** What a holding class adds: the bytes, handed over once. */
interface Holding {
  readonly holding: boolean
  takeHeldBytes(): Uint8Array<ArrayBuffer> | undefined
}

/**
 * `Base` (`Request` or `Response`) with its body held as bytes. A subclass calls `holdBytes` once,
 * right after `super(...)` with no body, giving the bytes and how to make a real twin (the same
 * message with the bytes as a stream-backed body) for the members that need one.
 */
export function HoldingBytes<B extends BodyClass>(Base: B) {
  abstract class Held extends Base implements Holding {
    #bytes: Uint8Array<ArrayBuffer> | undefined
    /** The stream-backed twin, made the first time something needs a real body. */
    #real: InstanceType<B> | undefined
    #used = false
    #makeTwin: ((bytes: Uint8Array<ArrayBuffer> | undefined) => InstanceType<B>) | undefined

    /** Keeps `bytes` as the body; called once, right after `super(...)` with no body. */
    holdBytes(
      bytes: Uint8Array<ArrayBuffer>,
      makeTwin: (bytes: Uint8Array<ArrayBuffer> | undefined) => InstanceType<B>,
    ): void {
      this.#bytes = bytes
      this.#makeTwin = makeTwin
    }

    /**
     * The bytes, when it holds some and nothing has read or exposed the body yet; the body counts
     * as used after.
     */
    takeHeldBytes(): Uint8Array<ArrayBuffer> | undefined {
      if (this.#makeTwin === undefined || this.#used || this.#real !== undefined) return undefined
      this.#used = true
      const bytes = this.#bytes
      this.#bytes = undefined
      return bytes
    }

    /** The real twin once one was made (then every member goes to it). */
    get twinMade(): InstanceType<B> | undefined {
      return this.#real
    }

    /** Whether `holdBytes` was called: the body is the bytes (or the twin made from them). */
    get holding(): boolean {
      return this.#makeTwin !== undefined
    }

    /** The bytes not yet taken, for a copy (`clone()`); `undefined` once used or twinned. */
    get heldBytes(): Uint8Array<ArrayBuffer> | undefined {
      return this.#used || this.#real !== undefined ? undefined : this.#bytes
    }

    // Each member below is the base's own until `holdBytes` is called (a subclass may hold some
    // bodies and not others), then the bytes' or, once one is made, the twin's.

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      if (this.#makeTwin === undefined) return super.body
      return this.#twin()?.body ?? null
    }

    override get bodyUsed(): boolean {
      if (this.#makeTwin === undefined) return super.bodyUsed
      return this.#used || (this.#real?.bodyUsed ?? false)
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      if (this.#makeTwin === undefined) return super.arrayBuffer()
      if (this.#real !== undefined) return this.#real.arrayBuffer()
      return this.#read((bytes) => bytes.slice().buffer)
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      if (this.#makeTwin === undefined) return super.bytes()
      if (this.#real !== undefined) return this.#real.bytes()
      return this.#read((bytes) => bytes.slice())
    }

    override text(): Promise<string> {
      if (this.#makeTwin === undefined) return super.text()
      if (this.#real !== undefined) return this.#real.text()
      return this.#read((bytes) => new TextDecoder().decode(bytes))
    }

    override json(): Promise<unknown> {
      if (this.#makeTwin === undefined) return super.json()
      if (this.#real !== undefined) return this.#real.json()
      return this.#read((bytes) => JSON.parse(new TextDecoder().decode(bytes)) as unknown)
    }

    override blob(): Promise<Blob> {
      if (this.#makeTwin === undefined) return super.blob()
      return this.#used ? unusable() : (this.#twin() as InstanceType<B>).blob()
    }

    override formData(): Promise<FormData> {
      if (this.#makeTwin === undefined) return super.formData()
      return this.#used ? unusable() : (this.#twin() as InstanceType<B>).formData()
    }

    #read<T>(from: (bytes: Uint8Array<ArrayBuffer>) => T): Promise<T> {
      const bytes = this.takeHeldBytes()
      if (bytes === undefined) return unusable()
      return new Promise((resolve) => {
        resolve(from(bytes)) // a parse error rejects, as `json()` does
      })
    }

    /** A real message over the same bytes; `undefined` once the bytes were taken. */
    #twin(): InstanceType<B> | undefined {
      if (this.#real === undefined && !this.#used && this.#makeTwin !== undefined) {
        this.#real = this.#makeTwin(this.#bytes)
        this.#bytes = undefined
      }
      return this.#real
    }
  }
  return Held
}

function unusable(): Promise<never> {
  return Promise.reject(new TypeError('Body is unusable: Body has already been read'))
}

/**
 * The whole body of `message` when it holds its body as bytes and nobody has read it (then its
 * body counts as used); `undefined` for any other message.
 */
export function takeBytes(message: Request | Response): Uint8Array<ArrayBuffer> | undefined {
  const take = (message as Partial<Holding>).takeHeldBytes
  return take === undefined ? undefined : take.call(message)
}

/** Whether `message` holds its whole body in memory, so reading it cannot wait on the network. */
export function holdsBytes(message: Request | Response): boolean {
  return (message as Partial<Holding>).holding === true
}
