/**
 * Which headers cross the gateway. Both directions use allow-lists, so a header nobody thought of
 * (the client's `Authorization` and cookies, proxy headers, hop-by-hop headers, an upstream's
 * `Set-Cookie`) never passes: failing closed is the point.
 */
import { PASSED_REQUEST_HEADERS } from '../config/gateway-schema.js'

/** Request headers an MCP server needs from the client (MCP transports §Streamable HTTP). */
const REQUEST_HEADERS = PASSED_REQUEST_HEADERS

/** Response headers the client needs from the MCP server. */
const RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'mcp-session-id',
  'mcp-protocol-version',
  'cache-control',
  'retry-after',
  'allow',
] as const

/**
 * The headers sent upstream: the allow-listed ones of `incoming` that its `Connection` does not
 * name, then the route's own (credential, identity headers), which replace any of the same name.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  own: readonly (readonly [string, string])[],
): Headers {
  const out = new Headers()
  // Fields the client's `Connection` names are for this hop only (RFC 9110 §7.6.1).
  const hopOnly = incoming.get('connection')?.toLowerCase().split(',')
  for (const name of REQUEST_HEADERS) {
    const value = incoming.get(name)
    if (value !== null && !hopOnly?.some((listed) => listed.trim() === name)) out.set(name, value)
  }
  for (const [name, value] of own) out.set(name, value)
  return out
}

/** The headers sent back to the client: the allow-listed ones of the upstream's response. */
export function clientResponseHeaders(upstream: Headers): Headers {
  const out = new Headers()
  for (const name of RESPONSE_HEADERS) {
    const value = upstream.get(name)
    if (value !== null) out.set(name, value)
  }
  // Proxies between here and the client must not buffer event streams.
  if (out.get('content-type')?.startsWith('text/event-stream')) out.set('x-accel-buffering', 'no')
  out.set('access-control-expose-headers', 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate')
  return out
}
