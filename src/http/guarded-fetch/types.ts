/**
 * The vocabulary of the guarded fetch: its options, the transport contract (how a connection layer
 * is handed a checked request and must check every resolved address), what a request may carry
 * and the response read within the limits, and the defaults.
 */

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
