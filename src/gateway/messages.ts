/**
 * Reading the JSON-RPC body of a POST once, for policy and header checks, with the answers the
 * gateway gives itself (JSON-RPC-shaped, never carrying upstream text).
 *
 * One part is written by hand: the check for a member name written twice in one object
 * (`structureProblem`), which no JSON parser available here reports. With the `params` checks it
 * adds 1–2 µs to a 200-byte `tools/call` (2.5–3.4 µs for the whole of `parseMessages` against
 * 1.2–1.6 µs for decoding and `JSON.parse` alone) and 0.5–0.9 ms to a 1 MB body of 5,000 small
 * objects and a 900 KB string (3.3–3.7 against 2.4–3.1 ms): Node 20, loops of 200,000 and 30,
 * three runs on a machine busy with a test run.
 *
 * Resource URIs are checked here too: one not written in its normal form is refused
 * (`isNormalURI`), so that policy and the server read one resource.
 */

import { isNormalURI } from '../config/resource-uri.js'

/** One JSON-RPC message as the gateway sees it (only the fields it looks at are typed). */
export interface RPCMessage {
  jsonrpc?: unknown
  id?: unknown
  method?: unknown
  params?: unknown
  result?: unknown
  error?: unknown
}

/** JSON-RPC / MCP error codes the gateway answers with. */
export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** MCP 2026-07-28 (SEP-2243): `Mcp-Method`/`Mcp-Name` differ from the body. */
  headerMismatch: -32020,
  /** Policy refused the call and no scope would change that. */
  forbidden: -32003,
  /** A rate limit of the route (HTTP 429 with `Retry-After`). */
  rateLimited: -32029,
  /** The route's `maxInFlight` requests are already with the MCP server (HTTP 503, `Retry-After`). */
  busy: -32030,
} as const

/** A JSON-RPC error response as an HTTP response. */
export function rpcError(
  status: number,
  code: number,
  message: string,
  id: unknown = null,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ jsonrpc: '2.0', id: validID(id) ? id : null, error: { code, message } }),
    {
      status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    },
  )
}

export function validID(id: unknown): id is string | number {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

/** One decoder for every body: `decode` without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * 415 for a POST whose `Content-Type` is not JSON in UTF-8: `application/json`, with no parameter
 * but `charset=utf-8`. Policy reads the body as UTF-8, and a server that decodes by the stated
 * charset (older MCP SDK transports did) would read a UTF-7 body as other JSON: a tool name
 * policy never saw (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
 */
export function unsupportedMediaType(request: Request): Response | undefined {
  const [type = '', ...parameters] = (request.headers.get('content-type') ?? '').split(';')
  const utf8 = (parameter: string) => {
    const at = parameter.indexOf('=')
    const name = parameter.slice(0, at).trim().toLowerCase()
    const value = parameter
      .slice(at + 1)
      .trim()
      .toLowerCase()
    return at > 0 && name === 'charset' && (value === 'utf-8' || value === '"utf-8"')
  }
  if (type.trim().toLowerCase() === 'application/json' && parameters.every(utf8)) return undefined
  return rpcError(
    415,
    RPC.invalidRequest,
    'Unsupported Media Type: Content-Type must be application/json (UTF-8)',
  )
}

/**
 * The deepest nesting of objects and arrays a body may have, its own (a batch's array, a message)
 * included. A `tools/call`'s arguments start at depth 3, and JSON Schemas and content seldom add
 * more than 15; 64 leaves room for any real message, stays below what servers read (serde_json
 * stops at 128) and far below what `JSON.stringify` can write before its stack runs out (some
 * thousands): a body `JSON.parse` accepts 20,000 deep would fail when a stdio route writes it on.
 */
export const MAX_DEPTH = 64

/**
 * The messages of a POST body, or an error response for one that is not JSON-RPC. `batches`:
 * whether a batch (a JSON array) is allowed, which only MCP revisions before 2025-06-18 send
 * (`allowsBatches`); when not, one answers `400 -32600`.
 */
export function parseMessages(
  bytes: Uint8Array,
  options: { batches: boolean } = { batches: true },
): RPCMessage[] | Response {
  let body: unknown
  let text: string
  try {
    text = UTF8.decode(bytes)
    body = JSON.parse(text)
  } catch {
    return rpcError(400, RPC.parseError, 'Parse error: the body is not JSON')
  }
  const problem = structureProblem(text)
  if (problem === 'duplicate') {
    return rpcError(
      400,
      RPC.invalidRequest,
      'Invalid Request: a member name appears twice in one object',
    )
  }
  if (problem === 'deep') {
    return rpcError(
      400,
      RPC.invalidRequest,
      `Invalid Request: objects and arrays nested more than ${String(MAX_DEPTH)} deep`,
    )
  }
  if (Array.isArray(body) && !options.batches) {
    return rpcError(
      400,
      RPC.invalidRequest,
      'Invalid Request: batches are not part of MCP 2025-06-18 and later',
    )
  }
  const list = Array.isArray(body) ? body : [body]
  if (list.length === 0) return rpcError(400, RPC.invalidRequest, 'Invalid Request: empty batch')
  for (const m of list) {
    if (typeof m !== 'object' || m === null || (m as RPCMessage).jsonrpc !== '2.0') {
      return rpcError(400, RPC.invalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message')
    }
    const msg = m as RPCMessage
    const isCall = typeof msg.method === 'string'
    const isReply = 'result' in msg || 'error' in msg
    if (isCall === isReply || ('id' in msg && msg.id !== undefined && !validID(msg.id))) {
      return rpcError(
        400,
        RPC.invalidRequest,
        'Invalid Request: not a JSON-RPC 2.0 message',
        msg.id,
      )
    }
    // MCP: requests have ids, and only notifications (`notifications/…`) go without one. A call
    // sent as a notification would run with nothing to wait for: no answer, deadline or slot.
    if (isCall && !validID(msg.id) && !(msg.method as string).startsWith('notifications/')) {
      return rpcError(
        400,
        RPC.invalidRequest,
        `Invalid Request: ${String(msg.method)} needs an id (only notifications go without one)`,
      )
    }
    const invalid = isCall ? invalidParams(msg) : undefined
    if (invalid !== undefined) return rpcError(400, RPC.invalidParams, invalid, msg.id)
  }
  // Two requests of one batch with one id: their answers cannot be told apart, so policy could
  // filter one's answer (a `tools/list`) as the other's (a `ping`). An id names one request, and
  // `1` and `"1"` count as one (a server may key its calls by the id's text), as across POSTs.
  if (list.length > 1) {
    const ids = new Set<string>()
    for (const m of list as RPCMessage[]) {
      if (typeof m.method !== 'string' || !validID(m.id)) continue
      const key = String(m.id)
      if (ids.has(key)) {
        return rpcError(400, RPC.invalidRequest, 'Invalid Request: two requests with one id', m.id)
      }
      ids.add(key)
    }
  }
  return list as RPCMessage[]
}

/**
 * What is wrong with the structure of `text` (JSON that `JSON.parse` accepted), if anything:
 * objects and arrays nested past `MAX_DEPTH` (`deep`), or an object with a member name twice
 * (`duplicate`), whichever comes first.
 *
 * A member name written twice: RFC 8259
 * §4 leaves the meaning of such an object to the receiver, and receivers differ: `JSON.parse`
 * keeps the last member, others fail or keep them all. An HTTP route passes the body on as the
 * client wrote it, so a body whose `method` or tool `name` policy read one way could reach the
 * server meaning another; I-JSON (RFC 7493 §2.3) forbids duplicate names, and the gateway refuses
 * them.
 *
 * Names are compared after unescaping (`"n\u0061me"` is `"name"`). In a message object, its
 * `params` object, a listen's filter (`params.notifications`, whose resources policy checks) and
 * a completion's `params.ref` (whose prompt or template policy checks) they are also compared the
 * way lenient servers match them: Go's
 * `encoding/json` matches member names to fields ignoring case, with Unicode folding (`ſ` is
 * `s`, `K` is `k`), and some servers have dropped NUL characters from names (GHSA-wvj2-96wp-fq3f,
 * GHSA-q382-vc8q-7jhj). There `{"name":"echo","Name":"get-env"}` is a duplicate. Deeper objects
 * (a tool's `arguments`) are the caller's data, where `Name` and `name` may both mean something.
 *
 * It needs no general JSON parsing since `text` is known to be valid: a string is a member name
 * exactly when `:` follows it, and the scan jumps from quote to quote with `indexOf`.
 */
function structureProblem(text: string): 'duplicate' | 'deep' | undefined {
  // Per object being read: its names so far (none yet: `null`; one: that name; more: a set), and
  // its place in a message (names there are compared folded). Arrays hold `ARRAY`.
  const open: (ObjectNames | typeof ARRAY)[] = []
  // The folded name of the member whose value is read next, in a message or its `params`.
  let member: string | undefined
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = closingQuote(text, i + 1)
      let next = end + 1
      while (next < n && WHITESPACE.has(text.charCodeAt(next))) next++
      const top = open[open.length - 1]
      if (top !== undefined && top !== ARRAY && text.charCodeAt(next) === COLON) {
        const raw = text.slice(i + 1, end)
        let name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw
        if (top.place !== undefined) name = folded(name)
        if (top.place === 'message' || top.place === 'params') member = name
        if (top.names === null) top.names = name
        else if (typeof top.names === 'string') {
          if (top.names === name) return 'duplicate'
          top.names = new Set([top.names, name])
        } else if (top.names.has(name)) return 'duplicate'
        else top.names.add(name)
        i = next + 1
        continue
      }
      i = end + 1
      continue
    }
    if (c === 0x7b) {
      // A message is the body itself or an element of a top-level batch; its `params`, the filter
      // of a listen (`params.notifications`) and a completion's `params.ref`, which policy
      // reads, are folded too.
      const parent = open[open.length - 1]
      let place: ObjectNames['place']
      if (parent === undefined || (parent === ARRAY && open.length === 1)) place = 'message'
      else if (parent !== ARRAY && parent.place === 'message' && member === 'params') {
        place = 'params'
      } else if (
        parent !== ARRAY &&
        parent.place === 'params' &&
        (member === 'notifications' || member === 'ref')
      ) {
        place = 'filter'
      }
      open.push({ names: null, place })
      if (open.length > MAX_DEPTH) return 'deep'
    } else if (c === 0x5b) {
      open.push(ARRAY)
      if (open.length > MAX_DEPTH) return 'deep'
    } else if (c === 0x7d || c === 0x5d) open.pop()
    i++
  }
  return undefined
}

interface ObjectNames {
  names: string | Set<string> | null
  /**
   * A JSON-RPC message, its `params`, a listen's filter (`params.notifications`) or a
   * completion's `params.ref`: names there are compared folded (case-folded, NUL removed).
   * Elsewhere (none), exactly.
   */
  readonly place: 'message' | 'params' | 'filter' | undefined
}

const ARRAY = Symbol('array')
const QUOTE = 0x22
const COLON = 0x3a
const BACKSLASH = 0x5c
/** JSON's insignificant whitespace (RFC 8259 §2): space, tab, line feed, carriage return. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/** A member name as a lenient server may match it: compatibility-normalized, lower case, no NUL. */
function folded(name: string): string {
  if (PLAIN_ASCII.test(name)) return name.toLowerCase()
  return name.normalize('NFKC').toLowerCase().replaceAll('\0', '')
}

/** Printable ASCII, where compatibility normalization changes nothing and there is no NUL. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/

/** The index of the quote that ends the string whose contents start at `from`. */
function closingQuote(text: string, from: number): number {
  let at = text.indexOf('"', from)
  for (;;) {
    if (at === -1) return text.length // not valid JSON: never the case here
    // A quote after an odd number of backslashes is part of the string.
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return at
    at = text.indexOf('"', at + 1)
  }
}

/**
 * Why a request's `params` are unusable, if they are. MCP's `params` are an object (JSON-RPC's
 * positional arrays are not MCP), and a method that names a tool, prompt or resource names it
 * with a string. Refused here, not left to the server: policy decides on that name, and a server
 * that read an array or a non-string name its own way (`tools[["admin"]]` is `tools.admin` in
 * JavaScript) would run what policy never saw.
 */
function invalidParams(msg: RPCMessage): string | undefined {
  const params = msg.params
  const named = NAMED_METHODS.get(msg.method as string)
  // `null` is no JSON-RPC params, but clients send it for "none" (and the MCP SDKs accept it).
  if (params === undefined || params === null) {
    const needed = named !== undefined || msg.method === LISTEN || msg.method === COMPLETE
    return needed ? `Invalid params: ${String(msg.method)} needs params` : undefined
  }
  if (typeof params !== 'object' || Array.isArray(params)) {
    return 'Invalid params: params must be an object'
  }
  const value = named ? (params as Record<string, unknown>)[named.field] : undefined
  if (named && typeof value !== 'string') {
    return `Invalid params: ${String(msg.method)} needs a string ${named.field}`
  }
  if (named?.kind === 'resources' && !isNormalURI(value as string)) return NOT_NORMAL
  if (msg.method === LISTEN) return invalidFilter(params as Record<string, unknown>)
  if (msg.method === COMPLETE) {
    const ref = completionRef(msg)
    if (ref === undefined) {
      return 'Invalid params: completion/complete needs a ref to a prompt (name) or a resource (uri)'
    }
    if (ref.kind === 'resources' && !isNormalURI(ref.key, true)) return NOT_NORMAL
  }
  return undefined
}

/** The answer for a resource URI not in its normal form: fixed, so that it echoes nothing. */
const NOT_NORMAL = 'Invalid params: a resource URI must be written in its normal form'

/** A `subscriptions/listen` names the resources it subscribes to with strings, as policy reads them. */
function invalidFilter(params: Record<string, unknown>): string | undefined {
  const filter = params.notifications
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    return 'Invalid params: subscriptions/listen needs a notifications object'
  }
  const uris = (filter as Record<string, unknown>).resourceSubscriptions
  if (uris !== undefined && (!Array.isArray(uris) || uris.some((u) => typeof u !== 'string'))) {
    return 'Invalid params: resourceSubscriptions must be an array of URIs'
  }
  if (uris !== undefined && !(uris as string[]).every((u) => isNormalURI(u))) return NOT_NORMAL
  return undefined
}

/**
 * The methods that name a tool, prompt or resource: what policy decides on (`kind`), and the
 * field of `params` that names it, which `Mcp-Name` mirrors (SEP-2243).
 */
export const NAMED_METHODS: ReadonlyMap<
  string,
  { readonly kind: 'tools' | 'prompts' | 'resources'; readonly field: string }
> = new Map([
  ['tools/call', { kind: 'tools', field: 'name' }],
  ['prompts/get', { kind: 'prompts', field: 'name' }],
  ['resources/read', { kind: 'resources', field: 'uri' }],
  ['resources/subscribe', { kind: 'resources', field: 'uri' }],
  ['resources/unsubscribe', { kind: 'resources', field: 'uri' }],
])

/** `completion/complete`: suggestions for an argument of a prompt or a resource template. */
export const COMPLETE = 'completion/complete'

/**
 * The item a `completion/complete` is about, as policy checks it: a prompt by name
 * (`ref/prompt`), or a resource template by its URI template (`ref/resource`, matched against
 * the resource rules as the templates list is). `undefined` when the ref is not one of those.
 */
export function completionRef(
  msg: RPCMessage,
): { kind: 'prompts' | 'resources'; key: string } | undefined {
  const ref = (msg.params as { ref?: unknown } | null | undefined)?.ref
  if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) return undefined
  const { type, name, uri } = ref as Record<string, unknown>
  if (type === 'ref/prompt' && typeof name === 'string') return { kind: 'prompts', key: name }
  if (type === 'ref/resource' && typeof uri === 'string') return { kind: 'resources', key: uri }
  return undefined
}

/**
 * MCP 2026-07-28 `subscriptions/listen`: the request whose answer is an open-ended event stream of
 * change notifications, in place of 2025's `GET` stream. Sent by a client of that revision
 * (`isStatelessEra`), it has no answer deadline and holds no `maxInFlight` slot; like the `GET`
 * stream it ends when the client or the server closes it.
 */
export const LISTEN = 'subscriptions/listen'

/**
 * The first protocol revision without sessions or `initialize` (MCP 2026-07-28, SEP-2567): its
 * clients give their version in `MCP-Protocol-Version` on every request.
 */
export const FIRST_STATELESS_VERSION = '2026-07-28'

/**
 * Whether a request speaks MCP 2026-07-28 or later: a revision date (they sort as text) from then
 * on, and no session, which that revision does not have.
 */
export function isStatelessEra(request: Request): boolean {
  const version = request.headers.get('mcp-protocol-version')
  return (
    version !== null &&
    REVISION.test(version) &&
    version >= FIRST_STATELESS_VERSION &&
    !request.headers.has('mcp-session-id')
  )
}

const REVISION = /^\d{4}-\d{2}-\d{2}$/

/** The first protocol revision without JSON-RPC batches (MCP 2025-06-18 removed them). */
export const FIRST_UNBATCHED_VERSION = '2025-06-18'

/**
 * Whether a request may carry a batch: its `MCP-Protocol-Version` is before 2025-06-18, or absent
 * (which MCP reads as 2025-03-26), or not a revision date (the server refuses that version).
 */
export function allowsBatches(request: Request): boolean {
  const version = request.headers.get('mcp-protocol-version')
  return version === null || !REVISION.test(version) || version < FIRST_UNBATCHED_VERSION
}

/** The name a request is about (tool, prompt or resource), if its method has one. */
export function messageName(msg: RPCMessage): string | undefined {
  if (typeof msg.method !== 'string') return undefined
  const named = NAMED_METHODS.get(msg.method)
  if (named === undefined || typeof msg.params !== 'object' || msg.params === null) return undefined
  const value = (msg.params as Record<string, unknown>)[named.field]
  return typeof value === 'string' ? value : undefined
}

/**
 * MCP 2026-07-28 (SEP-2243): an intermediary that parses the body must refuse a request whose
 * `Mcp-Method`/`Mcp-Name` headers differ from it; `Mcp-Name` is compared as decoded
 * (`decodeHeaderValue`). Headers absent (older clients): nothing to check.
 */
export function headerMismatch(
  request: Request,
  messages: readonly RPCMessage[],
): Response | undefined {
  const method = request.headers.get('mcp-method')
  const name = request.headers.get('mcp-name')
  if (method === null && name === null) return undefined
  const [first] = messages
  const mismatch = (text: string) =>
    rpcError(400, RPC.headerMismatch, `Header mismatch: ${text}`, first?.id)
  if (messages.length !== 1 || first === undefined) return mismatch('Mcp-Method on a batch')
  if (method !== null && method !== first.method)
    return mismatch('Mcp-Method differs from the body')
  if (name !== null) {
    const decoded = decodeHeaderValue(name)
    if (decoded === undefined || decoded !== messageName(first)) {
      return mismatch('Mcp-Name differs from the body')
    }
  }
  return undefined
}

const SENTINEL_START = '=?base64?'
const SENTINEL_END = '?='

/**
 * A SEP-2243 header value as the client meant it. A client encodes a value that cannot go as
 * plain ASCII (non-ASCII, control characters, leading or trailing whitespace, or one that looks
 * like the sentinel itself) as `=?base64?<Base64 of its UTF-8>?=`, markers in lower case, and
 * intermediaries decode it before comparing. Strictly: the standard alphabet with its padding and
 * no stray bits (the one way to write those bytes), and UTF-8 without errors; a sentinel that
 * does not decode so is `undefined`, a mismatch whatever the body says. Any other value is itself.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (
    value.length < SENTINEL_START.length + SENTINEL_END.length ||
    !value.startsWith(SENTINEL_START) ||
    !value.endsWith(SENTINEL_END)
  ) {
    return value
  }
  const encoded = value.slice(SENTINEL_START.length, -SENTINEL_END.length)
  try {
    const binary = atob(encoded)
    if (btoa(binary) !== encoded) return undefined
    return UTF8.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
}
