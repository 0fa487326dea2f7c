/**
 * The guarded fetch's pipeline: check the URL, take a host slot, send (through the transport,
 * which checks every resolved address, or through fetch with `redirect: 'manual'`), refuse
 * redirects and oversized answers, read the body within the deadline, give the slot back.
 */
import { UpstreamError } from '../../errors.js'
import { parseJSONBody, readBody } from './body.js'
import { failure, raceAbort } from './deadline.js'
import { HostSlots } from './host-slots.js'
import { checkAddress, checkURL } from './policy.js'
import {
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_PER_HOST,
  DEFAULT_MAX_RESPONSE_BYTES,
  type GuardedFetch,
  type GuardedFetchOptions,
  type GuardedRequestInit,
  type GuardedResponse,
} from './types.js'

/**
 * Creates a fetch for server-side requests to URLs that may be influenced by others.
 *
 * Before connecting it refuses (`ERR_FETCH_BLOCKED`): schemes other than https (http only to
 * loopback with `allowHttpLoopback`), userinfo in the URL, and hosts that are literal loopback,
 * private (RFC 1918, fc00::/7), link-local (169.254/16 incl. cloud metadata, fe80::/10), CGNAT,
 * 0/8, multicast, reserved, documentation or IPv4-mapped/-compatible IPv6 addresses, and names
 * under private-use suffixes (`metadata.google.internal`, `*.local`). WHATWG URL parsing has
 * already turned `2130706433`, `0x7f.1` or `0177.0.0.1` into dotted quads.
 * While talking it sends `redirect: 'manual'` and refuses any 3xx (`ERR_UPSTREAM_RESPONSE`), stops
 * at `timeoutMs` (`ERR_UPSTREAM_TIMEOUT`), refuses a `Content-Length` over `maxBytes` and stops
 * reading past it (`ERR_UPSTREAM_RESPONSE`); a network failure is `ERR_UPSTREAM`. Messages name
 * the origin and the status at most, never the remote body. Non-2xx statuses are returned, not
 * thrown.
 *
 * With a `transport`, the addresses a host name resolves to are checked by the same rules and the
 * connection is pinned to a checked address (no DNS rebinding). Without one (the core on its own)
 * only literal hosts are checked: inject a transport wherever a URL can come from outside.
 * At most `maxConcurrentPerHost` requests run per `host:port`; the others wait within the deadline.
 */
export function createGuardedFetch(options: GuardedFetchOptions = {}): GuardedFetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const perHost = options.maxConcurrentPerHost ?? DEFAULT_MAX_CONCURRENT_PER_HOST
  if (!(timeoutMs > 0) || !(maxBytes > 0) || !(perHost >= 1)) {
    throw new TypeError('timeoutMs, maxBytes and maxConcurrentPerHost must be positive')
  }
  const slots = new HostSlots(perHost)
  return async (url, init = {}) => {
    const target = checkURL(url, options)
    const origin = target.origin
    const signal = AbortSignal.timeout(timeoutMs)
    const acquired = slots.acquire(target.host, signal)
    try {
      await raceAbort(acquired, signal)
    } catch (error) {
      // Granted at the last moment after all: give the slot back.
      void acquired.then(() => {
        slots.release(target.host)
      })
      throw failure(error, signal, origin)
    }
    try {
      return await exchange(target, init, signal, options, maxBytes)
    } finally {
      slots.release(target.host)
    }
  }
}

async function exchange(
  target: URL,
  init: GuardedRequestInit,
  signal: AbortSignal,
  options: GuardedFetchOptions,
  maxBytes: number,
): Promise<GuardedResponse> {
  const origin = target.origin
  let response: Response
  try {
    response = await raceAbort(send(target, init, signal, options), signal)
  } catch (error) {
    throw failure(error, signal, origin)
  }
  if ((response.status >= 300 && response.status < 400) || response.type === 'opaqueredirect') {
    await response.body?.cancel().catch(() => undefined)
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} answered with a redirect`)
  }
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined)
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} sent a response that is too large`)
  }
  let body: Uint8Array
  try {
    body = await readBody(response, maxBytes, signal, origin)
  } catch (error) {
    throw failure(error, signal, origin)
  }
  const { status, headers } = response
  return { status, headers, body, json: () => parseJSONBody(body, headers, origin) }
}

function send(
  target: URL,
  init: GuardedRequestInit,
  signal: AbortSignal,
  options: GuardedFetchOptions,
): Promise<Response> {
  const method = init.method ?? 'GET'
  if (options.transport) {
    const headers = new Headers(init.headers)
    let body: string | Uint8Array | undefined
    if (init.body instanceof URLSearchParams) {
      body = init.body.toString()
      if (!headers.has('content-type')) {
        headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8')
      }
    } else {
      body = init.body
    }
    return options.transport({
      url: target,
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal,
      checkAddress: (address) => {
        checkAddress(address, target, options)
      },
    })
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  return fetchImpl(target.href, {
    method,
    ...(init.headers === undefined ? {} : { headers: init.headers }),
    ...(init.body === undefined ? {} : { body: init.body as BodyInit }),
    redirect: 'manual',
    signal,
  })
}
