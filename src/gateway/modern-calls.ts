/**
 * MCP 2026-07-28 clients on a stdio route, translated onto the 2025 protocol the process speaks
 * (`modernClients: translate`). That revision has no sessions and no `initialize`: every request
 * carries its protocol version, the client's name and capabilities in `_meta`; every result
 * carries `resultType`, and lists and reads carry cache hints; the server asks the client for
 * input (elicitation, sampling, roots) by answering the call `input_required` instead of sending
 * it a request (multi round-trip requests); change notifications come on the stream of a
 * `subscriptions/listen` request. No surveyed gateway translates between the two (landscape §6).
 *
 * The gateway initializes the process once, with the first client's capabilities
 * (`Bridge.initialized`; a process that 2025 sessions initialized keeps their answer). Then:
 * - `server/discover` is answered from the process's `initialize` result;
 * - any other request goes to the process as a call of its own (`ModernCall`, a session of the
 *   bridge for as long as the call runs), with the envelope taken out of `_meta`. Its answer
 *   comes back with `resultType: "complete"` and the process's `serverInfo` in `_meta`, and lists
 *   and reads also get `cacheScope: "private"` (behind the gateway an answer is one caller's) and
 *   `ttlMs: 0` unless the process gave one;
 * - progress about the call, or a wait past `streamAfterMs`, makes its answer an event stream;
 * - a request of the process for the client while the call runs answers the call
 *   `input_required`, with the process's request as the one input request and a `requestState`
 *   that is a random token of this instance, bound to the caller. The client's retry carries
 *   the answer to the process, which has been working on the same call all along. The client
 *   has `waitMs` (the route's `timeoutSeconds`) to come back, however much progress the process
 *   reports, or says it will not (`notifications/cancelled`); then the call is cancelled;
 * - a client that closes its answer's stream cancels the call at the process;
 * - `subscriptions/listen` streams carry the process's list changes and the updates of the
 *   resources they subscribe to: the process is subscribed (`resources/subscribe`) while anyone
 *   listens to a resource, and its updates go only to the streams that subscribed to it. The
 *   acknowledgement names what the stream will carry. Log messages are not translated: a 2025
 *   process's are not tied to a request, and a 2026-07-28 client asks for them per request.
 *
 * Calls, their `requestState`s and listen streams live in this instance's memory, as the process
 * does: a client's retry must reach the instance that holds the call.
 */
import { randomBytes } from 'node:crypto'
import { BytesResponse } from '../http/bytes-response.js'
import { principalKey, principalOf } from '../jwt/access-token.js'
import { FIRST_STATELESS_VERSION, LISTEN, messageName, RPC, rpcError, validID } from './messages.js'
import type { RPCMessage } from './messages.js'
import { eventText, postRefusal } from './served-session.js'
import type { Bridge, BridgeSession } from './stdio-bridge.js'
import { within } from './subscriptions.js'
import type { UpstreamCall } from './upstream.js'

type ID = string | number

/** The revisions translated: those without `initialize`. */
export const MODERN_VERSIONS: readonly string[] = [FIRST_STATELESS_VERSION]
/** The revision the gateway speaks to the process when it initializes it. */
const PROCESS_VERSION = '2025-11-25'
const PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion'
const CLIENT_INFO = 'io.modelcontextprotocol/clientInfo'
const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities'
const SERVER_INFO = 'io.modelcontextprotocol/serverInfo'
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId'
/** MCP 2026-07-28: the request's protocol version is not one the receiver speaks (HTTP 400). */
const UNSUPPORTED_VERSION = -32022
const RESOURCE_UPDATED = 'notifications/resources/updated'
/** Results with cache hints in 2026-07-28 (SEP-2549). */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
])
/** Methods of 2025 sessions that 2026-07-28 has not: a client of that revision never sends them. */
const REMOVED = new Set([
  'initialize',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
])
/**
 * The process's requests for the client that a 2026-07-28 client answers by retrying its call
 * (`inputRequests`), with the client capability each needs.
 */
const INPUT_REQUESTS: ReadonlyMap<string, string> = new Map([
  ['sampling/createMessage', 'sampling'],
  ['elicitation/create', 'elicitation'],
  ['roots/list', 'roots'],
])
/** `subscriptions/listen` filter members and the notifications they stand for. */
const LIST_CHANGES = [
  ['toolsListChanged', 'notifications/tools/list_changed', 'tools'],
  ['promptsListChanged', 'notifications/prompts/list_changed', 'prompts'],
  ['resourcesListChanged', 'notifications/resources/list_changed', 'resources'],
] as const

export interface ModernCallsOptions {
  /**
   * A call waiting for the client's input is its sign-in's (grant's), not only the caller's
   * (`user` mode with the caller's credentials in the environment: the process holds that
   * sign-in's).
   */
  bindToGrant?: boolean
  /** How long a call that asked for input waits for the client's retry; 60 s. */
  waitMs?: number
  /** How long a call waits for its answer before the answer becomes a stream; 1000 ms. */
  streamAfterMs?: number
  /** How often an open stream gets a comment line; 15 s. */
  keepAliveMs?: number
}

type Fields = Record<string, unknown>

const isRecord = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The 2026-07-28 clients of one stdio route, over the bridges of its processes. */
export class ModernCalls {
  readonly #o: ModernCallsOptions
  readonly #anchors = new Map<Bridge, Anchor>()
  /** Calls waiting for the client's input, by their current `requestState`. */
  readonly #waiting = new Map<string, ModernCall>()

  constructor(options: ModernCallsOptions = {}) {
    this.#o = options
  }

  /**
   * Answers one 2026-07-28 POST (already past the route's checks) on the process `bridge` gives
   * (asked for only once the request has passed this file's checks: a refused request starts no
   * process).
   */
  async handle(call: UpstreamCall, bridgeFor: () => Promise<Bridge | Response>): Promise<Response> {
    const { request } = call
    if (request.method !== 'POST') {
      return rpcError(
        405,
        RPC.invalidRequest,
        'Method not allowed: MCP 2026-07-28 has no GET stream and no session to delete',
        null,
        { allow: 'POST' },
      )
    }
    const messages = call.messages ?? []
    const refused = postRefusal(request, messages)
    if (refused) return refused
    const [msg] = messages
    if (msg === undefined || typeof msg.method !== 'string') {
      return rpcError(400, RPC.invalidRequest, 'Invalid Request: this revision sends no answers')
    }
    const owner =
      principalKey(principalOf(call.token)) +
      (this.#o.bindToGrant === true ? `\n${call.token.grantId ?? ''}` : '')
    // A call is cancelled by closing its stream; one waiting for the client's input has none.
    if (!validID(msg.id)) {
      if (msg.method === 'notifications/cancelled') this.#cancelWaiting(owner, msg.params)
      return new Response(null, { status: 202 })
    }
    const meta = isRecord(msg.params) && isRecord(msg.params._meta) ? msg.params._meta : {}
    const version = meta[PROTOCOL_VERSION]
    if (typeof version !== 'string' || !isRecord(meta[CLIENT_CAPABILITIES])) {
      const missing = typeof version !== 'string' ? PROTOCOL_VERSION : CLIENT_CAPABILITIES
      return rpcError(400, RPC.invalidParams, `Invalid params: _meta needs ${missing}`, msg.id)
    }
    if (!MODERN_VERSIONS.includes(version)) return unsupportedVersion(msg.id, version)
    if (version !== request.headers.get('mcp-protocol-version')) {
      return rpcError(
        400,
        RPC.headerMismatch,
        'Header mismatch: MCP-Protocol-Version differs from the body',
        msg.id,
      )
    }
    if (REMOVED.has(msg.method)) {
      return rpcError(
        404,
        RPC.methodNotFound,
        `Method not found: ${msg.method} is not in this revision`,
        msg.id,
      )
    }
    const state = isRecord(msg.params) ? msg.params.requestState : undefined
    if (state !== undefined) return this.#resume(call, msg, owner, state)
    const bridge = await bridgeFor()
    if (bridge instanceof Response) return bridge
    const anchor = await this.#anchor(bridge, meta)
    if (anchor instanceof Response) return anchor
    anchor.lastSeen = Date.now()
    if (msg.method === 'server/discover') return json(msg.id, discoverResult(anchor.init))
    if (msg.method === LISTEN) return anchor.listen(request, msg, this.#o.keepAliveMs)
    const modern = new ModernCall(bridge, anchor, msg, owner, this.#o, {
      asking: (c, token) => this.#waiting.set(token, c),
      resumed: (token) => this.#waiting.delete(token),
    })
    if (call.rewrite) modern.rewrites.set(msg.id, { request: msg, rewrite: call.rewrite })
    return modern.start(request)
  }

  /** The client's retry of a call that asked for input: its answers go to the process. */
  #resume(call: UpstreamCall, msg: RPCMessage, owner: string, state: unknown): Promise<Response> {
    const waiting = typeof state === 'string' ? this.#waiting.get(state) : undefined
    // Another caller's state is answered as one that does not exist.
    // In-band, as MCP servers answer a state they cannot use (HTTP 200, JSON-RPC -32602).
    if (!waiting || waiting.owner !== owner) {
      return Promise.resolve(
        rpcError(200, RPC.invalidParams, 'Invalid params: unknown or expired requestState', msg.id),
      )
    }
    if (waiting.method !== msg.method || waiting.name !== messageName(msg)) {
      return Promise.resolve(
        rpcError(
          200,
          RPC.invalidParams,
          'Invalid params: requestState belongs to another request',
          msg.id,
        ),
      )
    }
    this.#waiting.delete(state as string)
    return waiting.resume(call.request, msg)
  }

  /**
   * `notifications/cancelled` for a call that waits for its client's input (the client gave up
   * answering): its `requestId` is that of the request answered `input_required`.
   */
  #cancelWaiting(owner: string, params: unknown): void {
    const id = isRecord(params) ? params.requestId : undefined
    for (const waiting of this.#waiting.values()) {
      if (waiting.owner === owner && waiting.answers(id)) {
        waiting.cancel()
        return
      }
    }
  }

  /** The bridge's anchor, with the process initialized; an error response if it cannot be. */
  async #anchor(bridge: Bridge, meta: Fields): Promise<Anchor | Response> {
    let anchor = this.#anchors.get(bridge)
    if (anchor?.ready === true) return anchor
    if (!anchor) {
      anchor = new Anchor(bridge, () => {
        if (this.#anchors.get(bridge) === anchor) this.#anchors.delete(bridge)
      })
      this.#anchors.set(bridge, anchor)
      bridge.attach(anchor, true)
    }
    // The first caller's name goes to a process others may share: strings of bounded size only.
    const given = isRecord(meta[CLIENT_INFO]) ? meta[CLIENT_INFO] : {}
    const clientInfo = {
      name: typeof given.name === 'string' ? given.name.slice(0, 100) : 'gatehouse',
      version: typeof given.version === 'string' ? given.version.slice(0, 50) : '1',
    }
    // Counted as a call while the process starts: a slow start is not idleness (sweep).
    anchor.calls++
    const init = await bridge
      .initialized({
        protocolVersion: PROCESS_VERSION,
        capabilities: clientCapabilities(meta[CLIENT_CAPABILITIES]),
        clientInfo,
      })
      .finally(() => {
        anchor.calls--
        anchor.lastSeen = Date.now()
      })
    if (!isRecord(init)) {
      return rpcError(502, RPC.internalError, 'the MCP server did not start; try again')
    }
    anchor.init = init
    anchor.ready = true
    return anchor
  }

  /**
   * Lets go of the processes of anchors unused since `limit` (ms since the epoch) with no call or
   * listen stream open: a `user` process with no session left stops.
   */
  sweep(limit: number): void {
    for (const [bridge, anchor] of this.#anchors) {
      if (anchor.idleSince(limit)) {
        this.#anchors.delete(bridge)
        bridge.detach(anchor)
      }
    }
    for (const [token, waiting] of this.#waiting) if (waiting.done) this.#waiting.delete(token)
  }

  /** Ends every listen stream (the gateway is closing; calls end with their processes). */
  close(): void {
    for (const anchor of this.#anchors.values()) anchor.end()
    this.#anchors.clear()
    this.#waiting.clear()
  }
}

/**
 * What the bridge sees of the 2026-07-28 clients of one process: a session that keeps the process
 * (and the `initialize` answer) while it is used, and receives its list changes for the listen
 * streams.
 */
class Anchor implements BridgeSession {
  readonly rewrites = new Map()
  readonly internal = true
  readonly transport = {
    send: (message: RPCMessage) => {
      this.#notify(message)
    },
    forget: () => undefined,
    close: () => {
      this.end()
      return Promise.resolve()
    },
  }
  init: Fields = {}
  /** `init` holds the process's `initialize` answer. */
  ready = false
  lastSeen = Date.now()
  calls = 0
  readonly #listeners = new Set<{
    id: ID
    filter: Fields
    resources: ReadonlySet<string>
    write: (text: string) => void
  }>()
  readonly #ends = new Set<() => void>()
  /** How many listeners listen to each resource. */
  readonly #listening = new Map<string, number>()
  /**
   * The resources this anchor asked the process to subscribe to and did not take back, with the
   * request that asked: a refused one is dropped, so that the next listener asks again.
   */
  readonly #held = new Map<string, string>()
  /** This anchor's subscribes not answered yet: request id → resource. */
  readonly #subscribing = new Map<string, string>()
  readonly #bridge: Bridge
  readonly #gone: () => void
  #next = 0

  constructor(bridge: Bridge, gone: () => void) {
    this.#bridge = bridge
    this.#gone = gone
  }

  idleSince(limit: number): boolean {
    return this.calls === 0 && this.#listeners.size === 0 && this.lastSeen < limit
  }

  /**
   * A `subscriptions/listen` request: an event stream that acknowledges what it will carry (the
   * list changes and resource updates the client asked for that the process announces), then
   * carries them. The process is subscribed to each resource while someone listens to it (the
   * route's policy has passed every one of them).
   */
  listen(request: Request, msg: RPCMessage, keepAliveMs = 15_000): Response {
    const params = isRecord(msg.params) ? msg.params : {}
    const wanted = isRecord(params.notifications) ? params.notifications : {}
    const capabilities = isRecord(this.init.capabilities) ? this.init.capabilities : {}
    const filter: Fields = {}
    for (const [member, , capability] of LIST_CHANGES) {
      const offered = capabilities[capability]
      if (wanted[member] === true && isRecord(offered) && offered.listChanged === true) {
        filter[member] = true
      }
    }
    const subscribable =
      isRecord(capabilities.resources) && capabilities.resources.subscribe === true
    const resources = new Set(
      subscribable && Array.isArray(wanted.resourceSubscriptions)
        ? wanted.resourceSubscriptions.filter((uri): uri is string => typeof uri === 'string')
        : [],
    )
    if (resources.size > 0) filter.resourceSubscriptions = [...resources]
    const id = msg.id as ID
    const subscription = { [SUBSCRIPTION_ID]: id }
    const stream = eventStream(keepAliveMs, {
      open: (write, end) => {
        const listener = { id, filter, resources, write }
        for (const uri of resources) this.#subscribe(uri, 1)
        const stop = () => {
          this.#listeners.delete(listener)
          write(
            eventText(undefined, { jsonrpc: '2.0', id, result: complete({ _meta: subscription }) }),
          )
          end()
        }
        this.#listeners.add(listener)
        this.#ends.add(stop)
        write(
          eventText(undefined, {
            jsonrpc: '2.0',
            method: 'notifications/subscriptions/acknowledged',
            params: { notifications: filter, _meta: subscription },
          }),
        )
        return () => {
          if (!this.#listeners.delete(listener)) return
          this.#ends.delete(stop)
          this.lastSeen = Date.now()
          for (const uri of resources) this.#subscribe(uri, -1)
        }
      },
      signal: request.signal,
    })
    return stream.response
  }

  /** Ends the listen streams with their final answer; the process is gone or the gateway closes. */
  end(): void {
    for (const stop of [...this.#ends]) stop()
    this.#gone()
  }

  /**
   * One more (or one fewer) listener of `uri`. The process is asked to subscribe when a listener
   * comes and it holds no subscription of this anchor's (the first listener, or one after a
   * refusal), and to unsubscribe when the last listener goes.
   */
  #subscribe(uri: string, by: 1 | -1): void {
    const now = (this.#listening.get(uri) ?? 0) + by
    if (now > 0) this.#listening.set(uri, now)
    else this.#listening.delete(uri)
    const ask = by === 1 && !this.#held.has(uri)
    const release = by === -1 && now === 0 && this.#held.has(uri)
    if (!ask && !release) return
    const id = `gw-listen-${String(++this.#next)}`
    if (ask) {
      this.#held.set(uri, id)
      this.#subscribing.set(id, uri)
    } else this.#held.delete(uri)
    this.#bridge.fromClient(this, {
      jsonrpc: '2.0',
      id,
      method: ask ? 'resources/subscribe' : 'resources/unsubscribe',
      params: { uri },
    })
  }

  #notify(message: RPCMessage): void {
    // The answer to a subscribe of this anchor: refused (or not answered in time), the process
    // holds nothing for it, and the next listener asks again. The listeners are still counted.
    if (typeof message.method !== 'string') {
      const id = String(message.id)
      const uri = this.#subscribing.get(id)
      this.#subscribing.delete(id)
      if (uri !== undefined && message.error !== undefined && this.#held.get(uri) === id) {
        this.#held.delete(uri)
      }
      return
    }
    if (message.method === RESOURCE_UPDATED) {
      const params = isRecord(message.params) ? message.params : {}
      const uri = params.uri
      if (typeof uri !== 'string') return
      const meta = isRecord(params._meta) ? params._meta : {}
      for (const listener of this.#listeners) {
        const concerned = (subscribed: string) =>
          this.#bridge.singleUser ? within(uri, subscribed) : uri === subscribed
        if (![...listener.resources].some(concerned)) continue
        listener.write(
          eventText(undefined, {
            jsonrpc: '2.0',
            method: RESOURCE_UPDATED,
            params: { ...params, _meta: { ...meta, [SUBSCRIPTION_ID]: listener.id } },
          }),
        )
      }
      return
    }
    const change = LIST_CHANGES.find(([, method]) => method === message.method)
    if (!change) return
    for (const listener of this.#listeners) {
      if (listener.filter[change[0]] !== true) continue
      const params = isRecord(message.params) ? message.params : {}
      const meta = isRecord(params._meta) ? params._meta : {}
      listener.write(
        eventText(undefined, {
          jsonrpc: '2.0',
          method: message.method,
          params: { ...params, _meta: { ...meta, [SUBSCRIPTION_ID]: listener.id } },
        }),
      )
    }
  }
}

interface WaitingHooks {
  /** The call asks the client for input under `token` (its `requestState`). */
  asking(call: ModernCall, token: string): void
  /** `token` is no longer the call's state (the call ended, or asks anew). */
  resumed(token: string): void
}

/** One call of a 2026-07-28 client at the process, across the client's retries. */
class ModernCall implements BridgeSession {
  readonly rewrites = new Map<
    ID,
    { request: RPCMessage; rewrite: NonNullable<UpstreamCall['rewrite']> }
  >()
  readonly transport = {
    send: (message: RPCMessage, options?: { relatedRequestId?: ID }) => {
      this.#fromProcess(message, options?.relatedRequestId)
    },
    forget: () => {
      this.#end(undefined)
    },
    close: () => {
      this.#end(error(this.#replyId, 'the MCP server stopped; try again'))
      return Promise.resolve()
    },
  }
  readonly owner: string
  readonly method: string
  readonly name: string | undefined
  done = false
  readonly #bridge: Bridge
  readonly #anchor: Anchor
  readonly #request: RPCMessage
  readonly #o: ModernCallsOptions
  readonly #hooks: WaitingHooks
  /** The id the process knows the call by: the first request's. */
  readonly #id: ID
  /** The id of the POST waiting now (a retry has its own). */
  #replyId: ID
  #reply: Reply | undefined
  /** The process's requests for the client not answered yet, by the bridge's id for them. */
  readonly #asked = new Map<string, RPCMessage>()
  #state: string | undefined
  /** The client capabilities the latest request of the call declared. */
  #capabilities: Fields
  /** While the call waits for its client's retry: when it gives up. */
  #parked: ReturnType<typeof setTimeout> | undefined
  /** The process's answer, when it came while the client was away. */
  #answer: RPCMessage | undefined

  constructor(
    bridge: Bridge,
    anchor: Anchor,
    msg: RPCMessage,
    owner: string,
    options: ModernCallsOptions,
    hooks: WaitingHooks,
  ) {
    this.#bridge = bridge
    this.#anchor = anchor
    this.#request = msg
    this.owner = owner
    this.method = msg.method as string
    this.name = messageName(msg)
    this.#id = msg.id as ID
    this.#replyId = this.#id
    this.#capabilities = declaredCapabilities(msg)
    this.#o = options
    this.#hooks = hooks
  }

  /** Sends the call to the process; the answer (or a question) settles the response. */
  start(request: Request): Promise<Response> {
    const reply = this.#await(request)
    this.#anchor.calls++
    this.#bridge.attach(this, true)
    this.#bridge.fromClient(this, forwardable(this.#request))
    return reply
  }

  /** The client's retry with its answers (`inputResponses`); the call goes on at the process. */
  resume(request: Request, msg: RPCMessage): Promise<Response> {
    clearTimeout(this.#parked)
    this.#state = undefined
    this.#replyId = msg.id as ID
    this.#capabilities = declaredCapabilities(msg)
    const reply = this.#await(request)
    const responses = isRecord(msg.params) ? msg.params.inputResponses : undefined
    if (isRecord(responses)) {
      for (const [key, result] of Object.entries(responses)) {
        if (!this.#asked.delete(key)) continue
        this.#bridge.fromClient(this, { jsonrpc: '2.0', id: key, result })
      }
    }
    // The process answered the call while the client was away: this retry gets the answer.
    if (this.#answer) this.#finish(this.#answer)
    else if (this.#asked.size > 0) this.#ask()
    return reply
  }

  #await(request: Request): Promise<Response> {
    const reply = new Reply(request.signal, this.#o, () => {
      // The client closed its request: the process stops working on the call.
      this.#bridge.fromClient(this, {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: this.#id, reason: 'the client closed the request' },
      })
      this.#end(undefined)
    })
    this.#reply = reply
    return reply.response
  }

  #fromProcess(message: RPCMessage, related: ID | undefined): void {
    if (this.done) return
    if (typeof message.method !== 'string') {
      if (message.id !== this.#id) return
      // Answered while the client is away (it has questions to answer): kept for its retry.
      if (this.#reply === undefined && this.#state !== undefined) this.#answer = message
      else this.#finish(message)
      return
    }
    if (validID(message.id)) {
      const needs = INPUT_REQUESTS.get(message.method)
      if (message.method === 'ping') {
        this.#bridge.fromClient(this, { jsonrpc: '2.0', id: message.id, result: {} })
      } else if (needs === undefined || !isRecord(this.#capabilities[needs])) {
        // Nothing a 2026-07-28 client could answer, or not this client (it did not declare it).
        this.#bridge.fromClient(
          this,
          refusal(message.id, `the client cannot answer ${message.method.slice(0, 60)}`),
        )
      } else {
        this.#asked.set(String(message.id), message)
        this.#ask()
      }
      return
    }
    // Progress and other messages about this call; anything else is not this call's.
    if (related === this.#id) this.#reply?.event(message)
  }

  /** Whether `id` is that of the request last answered `input_required` (and not retried yet). */
  answers(id: unknown): boolean {
    return this.#state !== undefined && this.#reply === undefined && id === this.#replyId
  }

  /** The client will not retry: the process stops working on the call. */
  cancel(): void {
    this.#bridge.fromClient(this, {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: this.#id, reason: 'the client did not answer' },
    })
    this.#end(undefined)
  }

  /** The process's answer to the call goes to the POST waiting now, and the call ends. */
  #finish(message: RPCMessage): void {
    this.#end(
      message.result !== undefined
        ? {
            jsonrpc: '2.0',
            id: this.#replyId,
            result: lift(this.method, message.result, this.#anchor.init),
          }
        : { ...message, id: this.#replyId },
    )
  }

  /** Answers the waiting POST `input_required` with every question the process has open. */
  #ask(): void {
    const reply = this.#reply
    if (!reply) return
    this.#reply = undefined
    // The client has until the call's deadline to come back, however much progress is made.
    clearTimeout(this.#parked)
    this.#parked = setTimeout(() => {
      if (!this.done && this.#reply === undefined) this.cancel()
    }, this.#o.waitMs ?? 60_000)
    this.#parked.unref()
    if (this.#state !== undefined) this.#hooks.resumed(this.#state)
    const state = randomBytes(24).toString('base64url')
    this.#state = state
    const inputRequests: Fields = {}
    for (const [key, m] of this.#asked) {
      inputRequests[key] = {
        method: m.method,
        ...(m.params !== undefined ? { params: m.params } : {}),
      }
    }
    this.#hooks.asking(this, state)
    reply.final({
      jsonrpc: '2.0',
      id: this.#replyId,
      result: complete({ inputRequests, requestState: state }, 'input_required'),
    })
  }

  /** The call is over: `answer` (if any) goes to the waiting POST, and the call leaves the bridge. */
  #end(answer: RPCMessage | undefined): void {
    if (this.done) return
    this.done = true
    clearTimeout(this.#parked)
    if (this.#state !== undefined) this.#hooks.resumed(this.#state)
    const reply = this.#reply
    this.#reply = undefined
    if (answer) reply?.final(answer)
    else reply?.abandon()
    // Questions the client never answered: the process is not left waiting for them.
    for (const key of this.#asked.keys()) {
      this.#bridge.fromClient(this, refusal(key, 'the call ended before the client answered'))
    }
    this.#asked.clear()
    this.#anchor.calls--
    this.#anchor.lastSeen = Date.now()
    this.#bridge.detach(this)
  }
}

/**
 * The response to one POST: one JSON body when the answer is the first thing to come, else an
 * event stream (something about the call came first, or `streamAfterMs` passed).
 */
class Reply {
  readonly response: Promise<Response>
  #respond: ((response: Response) => void) | undefined
  #write: ((text: string) => void) | undefined
  #close: (() => void) | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #over = false
  readonly #keepAliveMs: number
  readonly #cancelled: () => void
  readonly #signal: AbortSignal

  constructor(signal: AbortSignal, options: ModernCallsOptions, cancelled: () => void) {
    this.#signal = signal
    this.#keepAliveMs = options.keepAliveMs ?? 15_000
    this.#cancelled = cancelled
    this.response = new Promise((respond) => {
      this.#respond = respond
    })
    this.#timer = setTimeout(() => {
      this.#stream()
    }, options.streamAfterMs ?? 1000)
    signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  readonly #onAbort = (): void => {
    if (this.#over) return
    this.#settle()
    this.#respond?.(new Response(null, { status: 499 }))
    this.#cancelled()
  }

  /** A message about the call: the answer becomes a stream, if it is not one yet. */
  event(message: RPCMessage): void {
    if (this.#over) return
    this.#stream()
    this.#write?.(eventText(undefined, message))
  }

  /** The answer (or `input_required`): the last thing this POST gets. */
  final(message: RPCMessage): void {
    if (this.#over) return
    const write = this.#write
    const close = this.#close
    this.#settle()
    if (write && close) {
      write(eventText(undefined, message))
      close()
      return
    }
    this.#respond?.(json(undefined, undefined, message))
  }

  /** No answer will come (cancelled): a stream ends, an undecided answer becomes an empty stream. */
  abandon(): void {
    if (this.#over) return
    const close = this.#close
    this.#settle()
    if (close) close()
    else
      this.#respond?.(
        eventStream(this.#keepAliveMs, { open: (_w, end) => (end(), () => undefined) }).response,
      )
  }

  #settle(): void {
    this.#over = true
    clearTimeout(this.#timer)
    this.#signal.removeEventListener('abort', this.#onAbort)
  }

  #stream(): void {
    if (this.#write || this.#over) return
    clearTimeout(this.#timer)
    const stream = eventStream(this.#keepAliveMs, {
      open: (write, end) => {
        this.#write = write
        this.#close = end
        return () => {
          if (!this.#over) this.#onAbort()
        }
      },
    })
    this.#respond?.(stream.response)
    this.#respond = undefined
  }
}

/**
 * An event stream: `open` gets a writer and an end, and returns what to do when the client
 * leaves. A comment line every `keepAliveMs` keeps idle connections up.
 */
function eventStream(
  keepAliveMs: number,
  handlers: {
    open: (write: (text: string) => void, end: () => void) => () => void
    signal?: AbortSignal
  },
): { response: Response } {
  const encoder = new TextEncoder()
  let open = true
  let left = (): void => undefined
  let keepAlive: ReturnType<typeof setInterval> | undefined
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      const end = () => {
        if (!open) return
        open = false
        clearInterval(keepAlive)
        controller.close()
      }
      keepAlive = setInterval(() => {
        if (open) controller.enqueue(encoder.encode(': keepalive\n\n'))
      }, keepAliveMs)
      keepAlive.unref()
      left = handlers.open((text) => {
        if (open) controller.enqueue(encoder.encode(text))
      }, end)
      handlers.signal?.addEventListener(
        'abort',
        () => {
          if (!open) return
          open = false
          clearInterval(keepAlive)
          left()
        },
        { once: true },
      )
    },
    cancel: () => {
      if (!open) return
      open = false
      clearInterval(keepAlive)
      left()
    },
  })
  return {
    response: new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
    }),
  }
}

/** The request as the process gets it: no 2026-07-28 envelope, no retry members. */
function forwardable(msg: RPCMessage): RPCMessage {
  if (!isRecord(msg.params)) return msg
  const { inputResponses: _responses, requestState: _state, ...params } = msg.params
  if (isRecord(params._meta)) {
    const meta = Object.fromEntries(
      Object.entries(params._meta).filter(([key]) => !key.startsWith('io.modelcontextprotocol/')),
    )
    if (Object.keys(meta).length > 0) params._meta = meta
    else delete params._meta
  }
  return { ...msg, params }
}

/** The 2025 capabilities the process is told the client has: those it can answer by retrying. */
function clientCapabilities(declared: unknown): Fields {
  if (!isRecord(declared)) return {}
  const out: Fields = {}
  for (const key of ['sampling', 'elicitation', 'roots'] as const) {
    if (isRecord(declared[key])) out[key] = key === 'roots' ? {} : declared[key]
  }
  return out
}

/** A 2026-07-28 result from a 2025 one. */
function lift(method: string, result: unknown, init: Fields): unknown {
  if (!isRecord(result)) return result
  // Private whatever the process said: behind the gateway an answer is one caller's (its policy,
  // its credential); how long it holds, the process may know.
  const extra: Fields = CACHEABLE.has(method)
    ? { ttlMs: 0, ...pick(result, 'ttlMs'), cacheScope: 'private' }
    : {}
  const meta = isRecord(result._meta) ? result._meta : {}
  const serverInfo = isRecord(init.serverInfo) ? { [SERVER_INFO]: init.serverInfo } : {}
  return complete({ ...result, ...extra, _meta: { ...meta, ...serverInfo } })
}

/** `server/discover` from the process's `initialize` result. */
function discoverResult(init: Fields): unknown {
  const capabilities = isRecord(init.capabilities) ? { ...init.capabilities } : {}
  // Not translated: the log level of 2025 sessions, and tasks (not in this revision).
  delete capabilities.logging
  delete capabilities.tasks
  return lift(
    'server/discover',
    {
      supportedVersions: MODERN_VERSIONS,
      capabilities,
      ...(typeof init.instructions === 'string' ? { instructions: init.instructions } : {}),
      ttlMs: 0,
      cacheScope: 'private',
    },
    init,
  )
}

function pick(from: Fields, ...keys: string[]): Fields {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]))
}

function complete(result: Fields, resultType = 'complete'): Fields {
  return { ...result, resultType }
}

/** The client capabilities a request's envelope declares. */
function declaredCapabilities(msg: RPCMessage): Fields {
  const meta = isRecord(msg.params) && isRecord(msg.params._meta) ? msg.params._meta : {}
  return isRecord(meta[CLIENT_CAPABILITIES]) ? meta[CLIENT_CAPABILITIES] : {}
}

/** The gateway's error answer to a request of the process. */
function refusal(id: ID, message: string): RPCMessage {
  return { jsonrpc: '2.0', id, error: { code: RPC.internalError, message } }
}

function error(id: ID, message: string): RPCMessage {
  return { jsonrpc: '2.0', id, error: { code: RPC.internalError, message } }
}

/** A JSON answer held as bytes: written in one go, with no stream (see http/bytes-response.ts). */
function json(id: ID | undefined, result: unknown, message?: RPCMessage): Response {
  return new BytesResponse(
    encoder.encode(JSON.stringify(message ?? { jsonrpc: '2.0', id, result })),
    {
      status: 200,
      headers: { 'content-type': 'application/json' },
    },
  )
}

const encoder = new TextEncoder()

function unsupportedVersion(id: ID, requested: string): Response {
  return new Response(
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      error: {
        code: UNSUPPORTED_VERSION,
        message: `Unsupported protocol version: ${requested.slice(0, 40)}`,
        data: { supported: MODERN_VERSIONS, requested: requested.slice(0, 40) },
      },
    }),
    { status: 400, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } },
  )
}
