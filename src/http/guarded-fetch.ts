/**
 * The one outbound HTTP path of Gatehouse: every URL the server fetches (JWKS, discovery,
 * introspection, …) goes through `createGuardedFetch`, which applies the SSRF and resource rules
 * of the security catalogue (A.2.14) before and while talking to the remote.
 */

import { UpstreamError } from '../errors.js'

/** Options of `createGuardedFetch`. */
export interface GuardedFetchOptions {
  /** The underlying fetch; default `globalThis.fetch`, read at call time. */
  fetch?: typeof fetch
  /** Whole-exchange deadline (connect, headers and body), in ms. Default 5000. */
  timeoutMs?: number
  /** Largest response body accepted, in bytes. Default 512 KiB. */
  maxBytes?: number
  /** Allow `http:` (and https) to loopback hosts: 127.0.0.0/8, `::1`, `localhost`. Default false. */
  allowHttpLoopback?: boolean
  /** Allow literal private and special-use addresses over https. Default false. */
  dangerouslyAllowPrivateNetwork?: boolean
  /**
   * Makes the connection instead of `fetch`, checking every address a name resolves to with
   * `checkAddress` and connecting only to a checked one (`createNodeTransport` from
   * `mcp-gatehouse/node`). Without it only literal hosts are checked. Takes precedence over `fetch`.
   */
  transport?: GuardedTransport
  /** Requests in flight per target host (`host:port`); more wait for a slot within the deadline. Default 4. */
  maxConcurrentPerHost?: number
}

/** One outbound request handed to a `GuardedTransport`. */
export interface TransportRequest {
  /** The checked URL (https, or http to loopback when allowed). */
  url: URL
  method: string
  headers: Headers
  body?: string | Uint8Array
  /** Aborts at the guard's deadline; the transport must stop connecting and reading. */
  signal: AbortSignal
  /**
   * Applies the guard's address policy to an IP address the host name resolved to; throws
   * `UpstreamError` `ERR_FETCH_BLOCKED` when it is refused. The transport must call it for every
   * resolved address before connecting, and connect only to an address that passed (pinning).
   */
  checkAddress(address: string): void
}

/**
 * The connection layer of a guarded fetch: resolves the name once, checks each address with
 * `request.checkAddress`, connects to a checked address (TLS server name and Host from the URL),
 * follows no redirect, and answers with the response as it streams in.
 */
export type GuardedTransport = (request: TransportRequest) => Promise<Response>

/** What a guarded request may carry. */
export interface GuardedRequestInit {
  method?: string
  headers?: Record<string, string> | Headers
  body?: string | Uint8Array | URLSearchParams
}

/** A response read to the end within the limits. */
export interface GuardedResponse {
  status: number
  headers: Headers
  body: Uint8Array
  /**
   * The body as JSON. Requires a JSON media type (`application/json` or `+json`).
   *
   * @throws {UpstreamError} `ERR_UPSTREAM_RESPONSE` for another media type or invalid JSON.
   */
  json(): unknown
}

/** A fetch that applies the guard's rules; see `createGuardedFetch`. */
export type GuardedFetch = (url: string, init?: GuardedRequestInit) => Promise<GuardedResponse>

/** Default response size cap of a guarded fetch (512 KiB). */
export const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024
/** Default deadline of a guarded fetch (5 s). */
export const DEFAULT_FETCH_TIMEOUT_MS = 5000
/** Default number of requests in flight per target host. */
export const DEFAULT_MAX_CONCURRENT_PER_HOST = 4

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
    const target = checkUrl(url, options)
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
  return { status, headers, body, json: () => parseJsonBody(body, headers, origin) }
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

/** The address policy: the host rules of `checkUrl`, applied to one resolved IP address. */
function checkAddress(address: string, target: URL, options: GuardedFetchOptions): void {
  const kind = classifyAddress(address)
  if (kind === 'public' || options.dangerouslyAllowPrivateNetwork === true) return
  if (kind === 'loopback' && options.allowHttpLoopback === true) return
  throw blocked(`${target.origin} resolves to a ${kind} address`)
}

/**
 * Classifies an IP address as a resolver returns it (`10.0.0.1`, `::1`, `::ffff:7f00:1`, and
 * odd numeric spellings, which are normalised the way URLs are). Anything that is not an IP
 * address is `special-use`, so a strange resolver answer never passes as public.
 */
export function classifyAddress(address: string): HostClass {
  const text = address.trim()
  if (text === '' || /[\s/?#@\\%]/.test(text)) return 'special-use'
  let hostname: string
  try {
    hostname = new URL(`http://${text.includes(':') ? `[${text}]` : text}/`).hostname
  } catch {
    return 'special-use'
  }
  if (hostname.startsWith('[')) {
    const words = parseIpv6(hostname.slice(1, -1))
    return words === undefined ? 'special-use' : classifyIpv6(words)
  }
  const v4 = parseIpv4(hostname)
  return v4 === undefined ? 'special-use' : classifyIpv4(v4)
}

/** Per-host counters of requests in flight, with a FIFO queue of waiters per host. */
class HostSlots {
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

function checkUrl(raw: string, options: GuardedFetchOptions): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw blocked('the URL is invalid')
  }
  if (url.username !== '' || url.password !== '') throw blocked('URLs with credentials are refused')
  const host = classifyHost(url.hostname)
  const loopbackAllowed = host === 'loopback' && options.allowHttpLoopback === true
  if (url.protocol === 'http:') {
    if (!loopbackAllowed) throw blocked('only https URLs are fetched')
  } else if (url.protocol !== 'https:') {
    throw blocked('only https URLs are fetched')
  }
  if (host !== 'public' && !loopbackAllowed && options.dangerouslyAllowPrivateNetwork !== true) {
    throw blocked(`${url.origin} is a ${host} address`)
  }
  return url
}

/** The class of a URL host: a public name or address, or a special-use literal. */
export type HostClass = 'public' | 'loopback' | 'private' | 'special-use'

/**
 * Classifies a WHATWG-parsed `URL.hostname` without resolving it: literal IPv4/IPv6 addresses by
 * range, `localhost` and `*.localhost` (RFC 6761) as loopback, names under `.internal`, `.local`,
 * `.localdomain` and `.home.arpa` as private, every other name as `public` (not resolved).
 */
export function classifyHost(hostname: string): HostClass {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback'
  // Names reserved for private use (`metadata.google.internal`, mDNS, home networks).
  if (PRIVATE_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'private'
  if (name.startsWith('[') && name.endsWith(']')) {
    const words = parseIpv6(name.slice(1, -1))
    return words === undefined ? 'special-use' : classifyIpv6(words)
  }
  const v4 = parseIpv4(name)
  return v4 === undefined ? 'public' : classifyIpv4(v4)
}

const PRIVATE_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa']

function parseIpv4(name: string): number | undefined {
  // URL parsing has normalised every IPv4 spelling to four decimal octets.
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name)
  if (match === null) return undefined
  let value = 0
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i])
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

// [network, prefix length, class]; anything not listed is public.
const IPV4_RANGES: readonly (readonly [number, number, HostClass])[] = [
  [ipv4(127, 0, 0, 0), 8, 'loopback'],
  [ipv4(0, 0, 0, 0), 8, 'special-use'],
  [ipv4(10, 0, 0, 0), 8, 'private'],
  [ipv4(100, 64, 0, 0), 10, 'private'], // CGNAT (RFC 6598)
  [ipv4(169, 254, 0, 0), 16, 'private'], // link-local, cloud metadata
  [ipv4(172, 16, 0, 0), 12, 'private'],
  [ipv4(192, 0, 0, 0), 24, 'special-use'], // IETF protocol assignments
  [ipv4(192, 0, 2, 0), 24, 'special-use'], // TEST-NET-1
  [ipv4(192, 88, 99, 0), 24, 'special-use'], // 6to4 relay anycast
  [ipv4(192, 168, 0, 0), 16, 'private'],
  [ipv4(198, 18, 0, 0), 15, 'special-use'], // benchmarking
  [ipv4(198, 51, 100, 0), 24, 'special-use'], // TEST-NET-2
  [ipv4(203, 0, 113, 0), 24, 'special-use'], // TEST-NET-3
  [ipv4(224, 0, 0, 0), 4, 'special-use'], // multicast
  [ipv4(240, 0, 0, 0), 4, 'special-use'], // reserved, broadcast
]

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

function classifyIpv4(address: number): HostClass {
  for (const [network, prefix, kind] of IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
    if ((address & mask) >>> 0 === network) return kind
  }
  return 'public'
}

function parseIpv6(text: string): number[] | undefined {
  // URL serialises IPv6 compressed, lower-case, without zone or dotted tail; stay strict anyway.
  if (!/^[0-9a-f:]+$/.test(text)) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] ?? '').split(':') : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const words = [...head, ...Array<string>(missing).fill('0'), ...tail].map((w) =>
    /^[0-9a-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN,
  )
  return words.some(Number.isNaN) ? undefined : words
}

function classifyIpv6(w: number[]): HostClass {
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0] = w
  const upperZero = w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0
  if (upperZero && w5 === 0 && w6 === 0 && w7 === 1) return 'loopback' // ::1
  if (upperZero && w5 === 0) return 'special-use' // ::, ::/96 IPv4-compatible
  if (upperZero && w5 === 0xffff) return 'special-use' // ::ffff:0:0/96 IPv4-mapped
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0xffff && w5 === 0) {
    return 'special-use' // ::ffff:0:0:0/96 IPv4-translated (RFC 2765)
  }
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 1) return 'special-use' // local-use NAT64 (RFC 8215)
  // 2001::/23 IETF protocol assignments: Teredo (2001::/32) embeds an arbitrary IPv4 address,
  // and the rest (ORCHID, benchmarking, AMT …) is no place for a client's document.
  if (w0 === 0x2001 && (w1 & 0xfe00) === 0) return 'special-use'
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0) {
    // NAT64 (RFC 6052): judge the embedded IPv4 address.
    const embedded = classifyIpv4(((w6 << 16) | w7) >>> 0)
    return embedded === 'public' ? 'public' : 'special-use'
  }
  if (w0 === 0x0100 && w1 === 0 && w2 === 0 && w3 === 0) return 'special-use' // discard 100::/64
  if (w0 === 0x2001 && w1 === 0x0db8) return 'special-use' // documentation
  if (w0 === 0x2002) return 'special-use' // 6to4 embeds arbitrary IPv4
  if ((w0 & 0xfe00) === 0xfc00) return 'private' // unique local fc00::/7
  if ((w0 & 0xffc0) === 0xfe80) return 'private' // link-local fe80::/10
  if ((w0 & 0xffc0) === 0xfec0) return 'private' // site-local (deprecated)
  if ((w0 & 0xff00) === 0xff00) return 'special-use' // multicast
  return 'public'
}

function blocked(why: string): UpstreamError {
  return new UpstreamError('ERR_FETCH_BLOCKED', `fetch refused: ${why}`)
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

async function readBody(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
  origin: string,
): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await raceAbort(reader.read(), signal)
      if (done) break
      total += value.byteLength
      if (total > maxBytes) {
        throw new UpstreamError(
          'ERR_UPSTREAM_RESPONSE',
          `${origin} sent a response that is too large`,
        )
      }
      chunks.push(value)
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined)
    throw error
  }
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0]
  const body = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

function failure(error: unknown, signal: AbortSignal, origin: string): UpstreamError {
  if (error instanceof UpstreamError) return error
  if (signal.aborted) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', `${origin} did not answer in time`, {
      cause: error,
    })
  }
  // The cause is the network error of the runtime (no remote body can be in it).
  return new UpstreamError('ERR_UPSTREAM', `${origin} could not be reached`, { cause: error })
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

function parseJsonBody(body: Uint8Array, headers: Headers, origin: string): unknown {
  if (!JSON_TYPE.test(headers.get('content-type') ?? '')) {
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} did not answer with JSON`)
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown
  } catch {
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} sent invalid JSON`)
  }
}
