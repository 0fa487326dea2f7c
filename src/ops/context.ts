/**
 * Per-request context: the request id and trace context of the request being handled, and what
 * became known while handling it (client id, subject, error reason). Audit events and outbound
 * calls to the identity provider find it without every function passing it along.
 *
 * It rides on `AsyncLocalStorage` where the runtime has one (Node, Bun, Deno, Workers with
 * `nodejs_compat`); it is loaded by a dynamic import so the core stays runtime-neutral. Where it
 * is missing, request lines are still complete, but audit events carry no `requestId` and outbound
 * calls no `traceparent`.
 */

/** What a request carries through its handling. Only identifiers; never a token or a header. */
export interface RequestContext {
  readonly requestId: string
  /** W3C trace context of the incoming request, when it sent a valid one. */
  readonly trace?: { traceId: string; parentId: string; flags: string }
  /** The peer address the adapter recorded. */
  readonly ip?: string
  clientId?: string
  subject?: string
  /** The grant type of the tokens this request issued (the token span's attribute). */
  grantType?: string
  /** `OAuthError` code and reason of a refusal, for the request line. */
  error?: string
  reason?: string
  /** The bearer token's grant was revoked (the guard counts it apart from invalid tokens). */
  revoked?: boolean
  /** The guard accepted the request's token and counted it (its answer is not counted again). */
  tokenAccepted?: boolean
}

interface Storage {
  run<R>(store: RequestContext, fn: () => R): R
  getStore(): RequestContext | undefined
}

let storage: Storage | undefined
let StorageClass: (new () => Storage) | undefined
let loading: Promise<void> | undefined

/** Loads `AsyncLocalStorage` once, if the runtime has it. Never fails. */
export function loadContextStorage(): Promise<void> {
  loading ??= (async () => {
    try {
      // A variable specifier: bundlers for runtimes without it leave it alone, and it fails here.
      const specifier = 'node:async_hooks'
      const mod = (await import(specifier)) as {
        AsyncLocalStorage: new () => Storage
      }
      StorageClass = mod.AsyncLocalStorage
      storage = new mod.AsyncLocalStorage()
    } catch {
      storage = undefined
    }
  })()
  return loading
}

const byRequest = new WeakMap<Request, RequestContext>()

/**
 * Ties `context` to `request`, for code that holds the request, where the runtime has no
 * `AsyncLocalStorage`. With it, the context that {@link runWithContext} makes current is the
 * request's wherever the request is handled, and no entry is made: a `WeakMap` entry per request
 * is an ephemeron the garbage collector traces (~1 µs a protected request over HTTP, issue 17).
 */
export function bindContext(request: Request, context: RequestContext): void {
  if (storage === undefined) byRequest.set(request, context)
}

/** The context bound to `request`, else the current one. */
export function contextOf(request: Request): RequestContext | undefined {
  return byRequest.get(request) ?? currentContext()
}

/** Runs `fn` with `context` as the current request context. */
export function runWithContext<R>(context: RequestContext, fn: () => R): R {
  return storage ? storage.run(context, fn) : fn()
}

/** The context of the request being handled, if any (and if the runtime can tell). */
export function currentContext(): RequestContext | undefined {
  return storage?.getStore()
}

/** A value carried through async calls like the request context (tracing's current span). */
export interface AsyncSlot<T> {
  run<R>(value: T, fn: () => R): R
  get(): T | undefined
}

/** A new slot; without `AsyncLocalStorage` (after {@link loadContextStorage}) it holds nothing. */
export function createAsyncSlot<T>(): AsyncSlot<T> {
  if (StorageClass === undefined) return { run: (_value, fn) => fn(), get: () => undefined }
  const slot = new StorageClass() as unknown as {
    run<R>(store: T, fn: () => R): R
    getStore(): T | undefined
  }
  return { run: (value, fn) => slot.run(value, fn), get: () => slot.getStore() }
}
