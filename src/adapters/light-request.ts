/**
 * The Node adapter's light request (`lightRequest`): an object that is a `Request` to everything
 * that reads it through its members (`instanceof Request` holds), but builds undici's `Request`
 * only when a member other than `method`, `url`, `headers`, `signal` and the body is used.
 *
 * Written by hand because measurement showed it must be faster. Building undici's `Request` for a
 * body-less request with seven headers costs 14.0 µs of CPU on Node 20.20.2 and 4.9 µs on Node
 * 24.22.3, against 3.6 and 3.4 µs for its parts alone (the URL parsed, a `Headers` filled; loops
 * of 100,000, 2026-12-07): most of the difference is the `AbortController` undici makes for every
 * `Request`, the copy of the headers into a second `Headers`, and the conversion of its init. In a
 * CPU profile of the gateway under load, building undici's `Request` took 4.4% of busy time (226
 * of 5,110 ms), its `AbortController` 1.5%. What the whole adapter gains: docs/benchmarks.md, Node adapter.
 *
 * Only for handlers that never pass the request on whole: undici's `new Request(request)` and
 * `fetch(request)` read a real request's internal state, so they throw `TypeError` for this one
 * (Node 20 to 24, checked). Every member of `Request` works, including `clone()`, which gives a
 * light request again. The body is held as bytes (`held-body.ts`) or there is none: the adapter
 * makes a light request only for those, and only for the methods undici takes as they are.
 */
import { HELD_BODY, HeldBody, HoldingBytes } from '../http/held-body.js'

/** Where a request's `signal` comes from (the adapter's record of the client leaving). */
export interface SignalSource {
  readonly signal: AbortSignal
}

/** The methods a light request may carry: undici keeps them as they are and refuses none. */
export const LIGHT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
])

/** The real `Request` behind a light one, made on first need. */
const REAL = Symbol('gatehouse.realRequest')

/**
 * The members a light request answers itself; every other member of `Request.prototype` is
 * given one that asks the real request (defined below the class).
 */
class LightBase {
  readonly #url: string
  readonly #method: string
  readonly #headers: Headers
  readonly #source: SignalSource
  #real: Request | undefined

  /** `url` must be absolute; it is parsed here, so an unusable one throws as `Request` would. */
  constructor(url: string, method: string, headers: Headers, source: SignalSource) {
    this.#url = new URL(url).href
    this.#method = method
    this.#headers = headers
    this.#source = source
  }

  get url(): string {
    return this.#url
  }

  get method(): string {
    return this.#method
  }

  /** The request's own headers (a handler may change them, as a `Request`'s). */
  get headers(): Headers {
    return this.#headers
  }

  get signal(): AbortSignal {
    return this.#source.signal
  }

  /** What `util.inspect` shows: this request's own state, not the real one's behind it. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    const { method, url, headers, signal } = this
    const bodyUsed = (this as unknown as Request).bodyUsed
    return `Request ${inspect({ method, url, headers, signal, bodyUsed }, options)}`
  }

  /** The real request, body-less, for the members this one does not answer itself. */
  [REAL](): Request {
    this.#real ??= new Request(this.#url, { method: this.#method, headers: this.headers })
    return this.#real
  }
}

// Everything else a `Request` has (`cache`, `mode`, `redirect`, `referrer`, `keepalive`,
// `integrity`, the body's readers when no body is held, ...) is the real request's.
for (const name of Reflect.ownKeys(Request.prototype)) {
  if (name === 'constructor' || Object.hasOwn(LightBase.prototype, name)) continue
  const member = Object.getOwnPropertyDescriptor(Request.prototype, name)
  if (member?.get !== undefined) {
    Object.defineProperty(LightBase.prototype, name, {
      configurable: true,
      enumerable: true, // as undici's own members are (`for…in` lists them)
      get(this: LightBase) {
        return (this[REAL]() as unknown as Record<PropertyKey, unknown>)[name]
      },
    })
  } else if (typeof member?.value === 'function') {
    Object.defineProperty(LightBase.prototype, name, {
      configurable: true,
      enumerable: true,
      writable: true,
      value(this: LightBase, ...args: unknown[]) {
        const real = this[REAL]() as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>
        return real[name]?.(...args)
      },
    })
  }
}
// `instanceof Request`, and `Symbol.toStringTag` ('Request') from there.
Object.setPrototypeOf(LightBase.prototype, Request.prototype)

/** `LightBase` seen as what it stands for: the constructor {@link HoldingBytes} extends. */
const LightBaseAsRequest = LightBase as unknown as new (
  url: string,
  method: string,
  headers: Headers,
  source: SignalSource,
) => Request

/**
 * A light request. With `bytes`, its body is those bytes, held (empty ones for a request that
 * came with no length and no chunked coding); without, it has none (`GET`, `HEAD`).
 */
export class LightRequest extends HoldingBytes(LightBaseAsRequest) {
  readonly #source: SignalSource

  constructor(
    url: string,
    method: string,
    headers: Headers,
    source: SignalSource,
    bytes?: Uint8Array<ArrayBuffer>,
  ) {
    super(url, method, headers, source)
    this.#source = source
    if (bytes !== undefined) holdBody(this, bytes)
  }

  /** A light request again, with its own headers and the same body; its signal is this one's. */
  override clone(): Request {
    const held = this[HELD_BODY]
    const again = (bytes?: Uint8Array<ArrayBuffer>) =>
      new LightRequest(this.url, this.method, new Headers(this.headers), this.#source, bytes)
    return held === undefined ? again() : cloneHeld(held, this.#source, again)
  }
}

// Request's members are enumerable (`for…in` lists them); the class members answering them here
// would hide them from it.
for (const proto of [
  LightBase.prototype,
  Object.getPrototypeOf(LightRequest.prototype) as object,
  LightRequest.prototype,
]) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const member = Object.getOwnPropertyDescriptor(proto, name)
    if (name === 'constructor' || !(name in Request.prototype) || member === undefined) continue
    Object.defineProperty(proto, name, { ...member, enumerable: true })
  }
}

/** A request class of this folder whose body may be held (`HoldingBytes`). */
type HoldingRequest = Request & { [HELD_BODY]: HeldBody<Request> | undefined }

/**
 * Holds `bytes` as `request`'s body. The real twin, made when a member needs one, gets the
 * request's URL, method and a copy of its headers as they are at that moment.
 */
export function holdBody(request: HoldingRequest, bytes: Uint8Array<ArrayBuffer>): void {
  request[HELD_BODY] = new HeldBody(
    bytes,
    (held) =>
      new Request(request.url, {
        method: request.method,
        headers: new Headers(request.headers),
        body: held ?? null,
      }),
  )
}

/**
 * The clone of a request whose body is `held`: `again(bytes)` while the bytes are unread; once a
 * real twin holds them, the twin's clone, following `source`'s signal; once read, the `TypeError`
 * a real request's `clone()` throws.
 */
export function cloneHeld(
  held: HeldBody<Request>,
  source: SignalSource,
  again: (bytes: Uint8Array<ArrayBuffer>) => Request,
): Request {
  const bytes = held.bytes
  if (bytes !== undefined) return again(bytes)
  const real = held.made
  if (real === undefined) throw new TypeError('Request.clone: Body has already been consumed.')
  return followingSignal(real.clone(), source)
}

/** A copy that keeps `source`'s signal, and whose clones do too. */
export function followingSignal(copy: Request, source: SignalSource): Request {
  return Object.defineProperties(copy, {
    signal: { get: () => source.signal, enumerable: true },
    clone: {
      enumerable: true,
      value(this: Request): Request {
        return followingSignal(Request.prototype.clone.call(this), source)
      },
    },
  })
}
