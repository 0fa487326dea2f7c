/**
 * The gateway's route handler: each configured route is its own protected resource, guarded by
 * Gatehouse's bearer guard; the request is checked (size, JSON-RPC shape, SEP-2243 headers,
 * policy, the session's owner) before the MCP server behind it sees anything.
 */
import type { GatewayRoute } from '../config/gateway-schema.js'
import type { ResolvedConfig } from '../config/schema.js'
import type { AccessToken } from '../jwt/access-token.js'
import { bearerChallenge } from '../resource/bearer.js'
import type { Guard } from '../resource/guard.js'
import { OAuthError } from '../errors.js'
import { isWhole, withHeaders } from '../http/bytes-response.js'
import { StoreRateLimiter } from '../http/rate-limit.js'
import { readBodyBytes } from '../http/params.js'
import type { ReadinessCheck } from '../ops/health.js'
import { principalKey, principalOf } from '../jwt/access-token.js'
import { GATEWAY_RATE_PREFIX } from '../storage/keys.js'
import type { Store } from '../storage/store.js'
import type { AuditInput, AuditSink } from '../audit-event.js'
import { watchBody } from './body-watch.js'
import {
  allowsBatches,
  headerMismatch,
  isStatelessEra,
  LISTEN,
  messageName,
  parseMessages,
  RPC,
  rpcError,
  unsupportedMediaType,
  validID,
  type RPCMessage,
} from './messages.js'
import { RoutePolicy, type Decision } from './policy.js'
import { SessionBindings } from './session-binding.js'
import type { Upstream, UpstreamCall } from './upstream.js'

/**
 * What the gateway needs of a Gatehouse (`createGatehouse`'s result is one): its resolved
 * configuration and its bearer guard. A port, so that the gateway does not import the presets.
 */
export interface GatewayHost {
  readonly config: ResolvedConfig
  readonly protect: Guard['protect']
  /** Where the gateway's audit events go (the Gatehouse's audit writer). */
  readonly audit: AuditSink
}

export interface GatewayOptions {
  gatehouse: GatewayHost
  /** The store the session owners are kept in (the same one Gatehouse uses). */
  store: Store
  /** Builds the upstream of a route (HTTP or stdio). */
  upstream: (route: GatewayRoute, index: number) => Upstream
  now?: () => number
  /**
   * The caller's groups when the token does not carry them (Gatehouse keeps them with the grant);
   * asked only on routes whose rules name groups.
   */
  groupsOf?: (token: AccessToken) => Promise<readonly string[]>
}

export interface Gateway {
  /** Answers requests for a route's path; `undefined` for any other path. */
  handle(request: Request): Promise<Response> | undefined
  /** `/readyz` checks: each route's MCP server answers (HTTP) or can be started (stdio). */
  readiness(): ReadinessCheck[]
  /** Refuses new sessions, waits (at most `drainSeconds`) for requests in flight, then closes. */
  drain(): Promise<void>
  close(): Promise<void>
  readonly inFlight: number
}

interface RouteEntry {
  route: GatewayRoute
  resource: ResolvedConfig['resources'][number]
  policy: RoutePolicy
  upstream: Upstream
  handler: (request: Request) => Promise<Response>
  /** The route's rate limits, each with the key it counts a caller under. */
  limits: [StoreRateLimiter, (token: AccessToken) => string][]
  /** POSTs with calls in them with the upstream now (against `upstream.maxInFlight`). */
  busy: number
  /** Open event streams (`GET`, 2026-07-28 listen) per caller (against `maxStreamsPerCaller`). */
  streams: Map<string, number>
  /** The request ids each session has in flight through this instance (`idKey`). */
  inFlight: Set<string>
}

/** Request headers a browser-based MCP client may send (CORS preflight). */
const ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'dpop',
].join(', ')
const EXPOSE_HEADERS =
  'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After, DPoP-Nonce'

export function createGateway(options: GatewayOptions): Gateway {
  const { gatehouse } = options
  const config = gatehouse.config
  const gateway = config.gateway
  if (!gateway) throw new TypeError('the configuration has no gateway section')
  const bindings = new SessionBindings(options.store, gateway.sessionTtlSeconds, options.now)
  const origin = new URL(config.issuer).origin
  let draining = false
  let inFlight = 0
  let idle: (() => void) | undefined
  const finished = () => {
    inFlight--
    if (inFlight === 0) idle?.()
  }

  const routes = new Map<string, RouteEntry>()
  gateway.routes.forEach((route, index) => {
    const resource = config.resources.find((r) => r.url === `${origin}${route.path}`)
    if (!resource) throw new TypeError(`no resource for gateway route ${route.path}`)
    const entry: RouteEntry = {
      route,
      resource,
      policy: new RoutePolicy(route),
      upstream: options.upstream(route, index),
      handler: () => Promise.reject(new Error('unreachable')),
      limits: rateLimits(route, options.store, options.now ?? Date.now),
      busy: 0,
      streams: new Map(),
      inFlight: new Set(),
    }
    entry.handler = gatehouse.protect((request, token) => serveRoute(entry, request, token), {
      resource: resource.url,
    })
    routes.set(route.path, entry)
  })

  const challenge = (entry: RouteEntry, scopes: readonly string[]) =>
    bearerChallenge(
      new OAuthError('insufficient_scope', 'this call needs more scope', {
        reason: 'insufficient_scope',
      }),
      { resource: entry.resource, scopes },
    )

  /** An audit event about a caller of a route (docs/operations.md). */
  const audit = (
    entry: RouteEntry,
    token: AccessToken,
    event: Pick<AuditInput, 'event' | 'reason' | 'method' | 'target' | 'scope'>,
  ) => {
    gatehouse.audit.emit({
      outcome: 'failure',
      route: entry.route.path,
      clientId: token.clientId,
      ...(token.machine !== true && token.subject !== undefined ? { subject: token.subject } : {}),
      ...(token.grantId !== undefined ? { grantId: token.grantId } : {}),
      ...event,
    })
  }

  /** The answer for a decision that is not `allow` (audited); `m`: the message refused. */
  const refuse = (
    entry: RouteEntry,
    d: Decision,
    token: AccessToken,
    m?: RPCMessage,
  ): Response | undefined => {
    if (d.kind === 'allow') return undefined
    const target = m ? messageName(m) : undefined
    const about = {
      ...(typeof m?.method === 'string' ? { method: m.method } : {}),
      ...(target !== undefined ? { target: target.slice(0, 256) } : {}),
    }
    if (d.kind === 'step-up') {
      const scopes = [...new Set([...entry.resource.requiredScopes, ...d.scopes])]
      audit(entry, token, {
        event: 'gateway_step_up',
        reason: 'insufficient_scope',
        scope: scopes.join(' '),
        ...about,
      })
      return challenge(entry, d.scopes)
    }
    audit(entry, token, { event: 'gateway_denied', reason: d.reason, ...about })
    // A refused request with an id gets its JSON-RPC error (the client's call fails cleanly).
    const id = m?.id
    return rpcError(validID(id) ? 200 : 403, RPC.forbidden, `Forbidden: ${d.message}`, id)
  }

  /**
   * The answer for the messages of a POST that policy does not allow all of (audited), if any. A
   * message no scope would open is refused as such (a step-up the user consents to would still
   * leave it refused); otherwise the step-up names every scope the messages need together, so
   * that one consent opens the whole batch.
   */
  const refuseBatch = (
    entry: RouteEntry,
    messages: readonly RPCMessage[],
    token: AccessToken,
  ): Response | undefined => {
    const needed = new Set<string>()
    let first: RPCMessage | undefined
    for (const m of messages) {
      const d = entry.policy.message(m, token)
      if (d.kind === 'deny') return refuse(entry, d, token, m)
      if (d.kind !== 'step-up') continue
      first ??= m
      for (const scope of d.scopes) needed.add(scope)
    }
    if (first === undefined) return undefined
    return refuse(entry, { kind: 'step-up', scopes: [...needed] }, token, first)
  }

  /**
   * Counts `times` requests against each of the route's rate limits: `429` with `Retry-After` once
   * one is spent (what was counted stays counted).
   */
  const charge = async (
    entry: RouteEntry,
    token: AccessToken,
    times: number,
  ): Promise<Response | undefined> => {
    for (const [limiter, keyOf] of entry.limits) {
      for (let n = 0; n < times; n++) {
        try {
          await limiter.hit(keyOf(token))
        } catch (error) {
          if (!(error instanceof OAuthError) || error.status !== 429) throw error
          return rpcError(429, RPC.rateLimited, 'Too many requests; try again later', null, {
            'retry-after': error.headers['retry-after'] ?? '1',
          })
        }
      }
    }
    return undefined
  }

  async function serveRoute(
    entry: RouteEntry,
    request: Request,
    verified: AccessToken,
  ): Promise<Response> {
    const { route } = entry
    let token = verified
    if (entry.policy.needsGroups && !Array.isArray(token.claims.groups) && options.groupsOf) {
      token = { ...token, claims: { ...token.claims, groups: await options.groupsOf(token) } }
    }
    const denied = refuse(entry, entry.policy.route(token), token)
    if (denied) return denied
    const limited = await charge(entry, token, 1)
    if (limited) return limited
    const method = request.method
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return rpcError(405, RPC.invalidRequest, 'Method not allowed', null, {
        allow: 'GET, POST, DELETE',
      })
    }
    const sessionId = request.headers.get('mcp-session-id') ?? undefined
    if (sessionId !== undefined) {
      if (sessionId.length > 256 || !/^[\x21-\x7e]+$/.test(sessionId)) {
        return rpcError(400, RPC.invalidRequest, 'Bad Request: malformed Mcp-Session-Id')
      }
      // Another principal's session is answered exactly like one that does not exist.
      const owner = await bindings.check(route.path, sessionId, token)
      if (owner !== 'owner') {
        if (owner === 'foreign') {
          audit(entry, token, { event: 'gateway_session_mismatch', reason: 'session_of_another' })
        }
        return rpcError(404, -32001, 'Session not found')
      }
    }
    const call: UpstreamCall = {
      request,
      token,
      ...(sessionId !== undefined ? { sessionId } : {}),
      opened: (id) => bindings.bind(route.path, id, token),
      ended: (id) => bindings.unbind(route.path, id),
    }
    if (method === 'POST') {
      const unsupported = unsupportedMediaType(request)
      if (unsupported) return unsupported
      const body = await readBodyBytes(request, route.maxBodyBytes)
      if (!body) return rpcError(413, RPC.invalidRequest, 'Request body too large')
      // Batches went in 2025-06-18. Refused from then on: a 2026-07-28 POST that carried several
      // messages would slip the listen and `Mcp-Method` rules, which read one message.
      const messages = parseMessages(body, { batches: allowsBatches(request) })
      if (messages instanceof Response) return messages
      // A 2025-03-26 batch is as many requests as it has messages: else `perSubject: 5` would let
      // one POST run 100 calls.
      const batchLimited = await charge(entry, token, messages.length - 1)
      if (batchLimited) return batchLimited
      const mismatch = headerMismatch(request, messages)
      if (mismatch) return mismatch
      // New sessions, and new listen streams (MCP 2026-07-28 has no sessions), go elsewhere.
      if (draining && messages.some((m) => m.method === 'initialize' || m.method === LISTEN)) {
        return rpcError(503, RPC.internalError, 'The gateway is shutting down', messages[0]?.id, {
          'retry-after': '5',
        })
      }
      const refused = refuseBatch(entry, messages, token)
      if (refused) return refused
      call.body = body
      call.messages = messages
    }
    if (entry.policy.filters) {
      const cacheable = isStatelessEra(request)
      // Every list in every answer is filtered, whichever request the answer says it is for: a
      // stream resumed with `Last-Event-ID` replays earlier answers with none beside them, and an
      // HTTP upstream may answer a request under an id that another POST of the session reused.
      call.rewrite = (_req: RPCMessage | undefined, res: RPCMessage) => {
        if (res.result === undefined) return res
        const result = entry.policy.filterAnyList(res.result, token, cacheable)
        return result === res.result ? res : { ...res, result }
      }
    }
    return withinCap(entry, call)
  }

  /**
   * Hands the call to the upstream unless `maxInFlight` requests already are there: then 503 with
   * `Retry-After` (RFC 9110 §15.6.4, the server is overloaded for now) at once, not a queue. A
   * request counts until its answer has been read to the end or is whole in memory (or the
   * client went away). Only POSTs with calls in them count: notifications and answers (a
   * cancellation, the client's answer to the server's question) are how calls end, so they pass
   * even at the cap, as do `DELETE`s and the open-ended `GET` stream.
   *
   * A request of a session whose id another request of that session still has in flight (through
   * this instance) answers `400 -32600`: MCP never reuses an id within a session (basic
   * §Requests), and the MCP server, answering both under one id, could put one's answer on the
   * other's stream.
   */
  async function withinCap(entry: RouteEntry, call: UpstreamCall): Promise<Response> {
    if (opensStream(call)) return withinStreamCap(entry, call)
    const ids = inFlightKeys(call)
    for (const key of ids) {
      if (entry.inFlight.has(key)) {
        const id = call.messages?.find(
          (m) => typeof m.method === 'string' && validID(m.id) && idKey(call, m.id) === key,
        )?.id
        return rpcError(
          400,
          RPC.invalidRequest,
          'Invalid Request: a request with this id is in flight',
          id,
        )
      }
    }
    const cap = entry.route.upstream.maxInFlight
    const counted = cap !== undefined && carriesCalls(call)
    if (!counted && ids.length === 0) return entry.upstream.handle(call)
    if (counted && entry.busy >= cap) {
      const id = call.messages?.find((m) => validID(m.id))?.id
      return rpcError(503, RPC.busy, 'The MCP server is busy; try again later', id, {
        'retry-after': '1',
      })
    }
    if (counted) entry.busy++
    for (const key of ids) entry.inFlight.add(key)
    let released = false
    const release = () => {
      if (released) return
      released = true
      if (counted) entry.busy--
      for (const key of ids) entry.inFlight.delete(key)
    }
    return heldUntilEnd(entry.upstream.handle(call), release)
  }

  /**
   * Opens an event stream (`GET`, a 2026-07-28 listen) unless the caller already has
   * `maxStreamsPerCaller` open on this route and instance: then 429 with `Retry-After` (RFC 6585
   * §4). Such streams hold no `maxInFlight` slot and have no deadline, so this is what bounds what
   * one caller keeps open. A stream counts from the request until its answer ends.
   */
  async function withinStreamCap(entry: RouteEntry, call: UpstreamCall): Promise<Response> {
    const cap = entry.route.upstream.maxStreamsPerCaller
    const key = principalKey(principalOf(call.token))
    const open = entry.streams.get(key) ?? 0
    // A resume (`Last-Event-ID`) takes over a stream whose connection dropped, which may still
    // look open here: it may go past the cap, though never past twice it.
    const limit = call.request.headers.has('last-event-id') ? 2 * cap : cap
    if (open >= limit) {
      const id = call.messages?.find((m) => validID(m.id))?.id
      return rpcError(429, RPC.rateLimited, 'Too many open streams; close one first', id, {
        'retry-after': '5',
      })
    }
    entry.streams.set(key, open + 1)
    let closed = false
    const close = () => {
      if (closed) return
      closed = true
      const left = (entry.streams.get(key) ?? 1) - 1
      if (left > 0) entry.streams.set(key, left)
      else entry.streams.delete(key)
    }
    return heldUntilEnd(entry.upstream.handle(call), close)
  }

  return {
    handle(request) {
      const entry = routes.get(new URL(request.url).pathname)
      if (!entry) return undefined
      const corsOrigin = allowedOrigin(request, entry)
      if (request.method === 'OPTIONS') return Promise.resolve(preflight(corsOrigin))
      inFlight++
      return entry.handler(request).then(
        (response) => {
          // A GET stream is open-ended: it counts only until its headers are out. So is a
          // 2026-07-28 listen stream, which its client names in `Mcp-Method` (SEP-2243; a header
          // that differs from the body was refused).
          const openEnded =
            request.method === 'GET' ||
            (request.headers.get('mcp-method') === LISTEN && isStatelessEra(request))
          if (openEnded || isWhole(response) || !response.body) {
            finished()
            return withCORS(response, corsOrigin)
          }
          return withCORS(
            new Response(watchBody(response.body, { end: finished }), response),
            corsOrigin,
          )
        },
        (error: unknown) => {
          finished()
          throw error
        },
      )
    },
    readiness() {
      return [...routes.values()].map((e) => ({
        name: `route ${e.route.path}`,
        check: () => e.upstream.ready(),
      }))
    },
    async drain() {
      draining = true
      if (inFlight > 0) {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, gateway.drainSeconds * 1000)
          idle = () => {
            clearTimeout(timer)
            done()
          }
        })
      }
      await this.close()
    },
    async close() {
      draining = true
      await Promise.allSettled([...routes.values()].map((e) => e.upstream.close()))
    },
    get inFlight() {
      return inFlight
    },
  }
}

/** The route's store-backed limiters (none unless `rateLimit` sets one). */
function rateLimits(
  route: GatewayRoute,
  store: Store,
  now: () => number,
): [StoreRateLimiter, (token: AccessToken) => string][] {
  const config = route.rateLimit
  if (!config) return []
  const make = (limit: number) =>
    new StoreRateLimiter({
      store,
      prefix: GATEWAY_RATE_PREFIX,
      limit,
      windowSeconds: config.windowSeconds,
      now,
    })
  const out: [StoreRateLimiter, (token: AccessToken) => string][] = []
  if (config.perRoute !== undefined) out.push([make(config.perRoute), () => `route|${route.path}`])
  if (config.perClient !== undefined) {
    out.push([make(config.perClient), (t) => `client|${route.path}|${t.clientId}`])
  }
  if (config.perSubject !== undefined) {
    out.push([
      make(config.perSubject),
      (t) => `subject|${route.path}|${principalKey(principalOf(t))}`,
    ])
  }
  return out
}

/**
 * The request's `Origin` when the route allows it (its own origin, `allowedOrigins`, or `*`);
 * `undefined` for no `Origin` or one not allowed (the guard then refuses the request itself).
 */
function allowedOrigin(request: Request, entry: RouteEntry): string | undefined {
  const origin = request.headers.get('origin')
  if (origin === null) return undefined
  const allowed = entry.resource.allowedOrigins
  if (allowed.includes('*')) return origin
  if (origin === new URL(entry.resource.url).origin) return origin
  return allowed.some((o) => o !== '*' && new URL(o).origin === origin) ? origin : undefined
}

/** A CORS preflight: allowed for an allowed origin, else 403 without CORS headers. */
function preflight(origin: string | undefined): Response {
  if (origin === undefined) return new Response(null, { status: 403, headers: { vary: 'Origin' } })
  return new Response(null, {
    status: 204,
    headers: {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
      vary: 'Origin',
    },
  })
}

/** Adds the CORS answer headers for an allowed origin (challenges and session ids readable). */
function withCORS(response: Response, origin: string | undefined): Response {
  if (origin === undefined) return response
  const headers = new Headers(response.headers)
  headers.set('access-control-allow-origin', origin)
  headers.set('access-control-expose-headers', EXPOSE_HEADERS)
  headers.append('vary', 'Origin')
  return withHeaders(response, headers)
}

/**
 * The upstream's answer, with `release` called once it is over: at once for an answer without a
 * body or one already whole in memory, else when its body has been read to the end, or the
 * client went away, or the upstream call failed.
 */
async function heldUntilEnd(answer: Promise<Response>, release: () => void): Promise<Response> {
  try {
    const response = await answer
    if (isWhole(response) || !response.body) {
      release()
      return response
    }
    return new Response(watchBody(response.body, { end: release }), response)
  } catch (error) {
    release()
    throw error
  }
}

/**
 * A request id within its session. `1` and `"1"` are two ids to JSON-RPC but one to a server that
 * keys its calls by the id's text, so they count as one (a client never needs both at once).
 */
function idKey(call: UpstreamCall, id: unknown): string {
  return `${call.sessionId ?? ''}\n${String(id)}`
}

/** The keys of the requests (method and id) of a POST in a session; none outside one. */
function inFlightKeys(call: UpstreamCall): string[] {
  if (call.sessionId === undefined || call.messages === undefined) return []
  const keys: string[] = []
  for (const m of call.messages) {
    if (typeof m.method === 'string' && validID(m.id)) keys.push(idKey(call, m.id))
  }
  return keys
}

/** A request for an open-ended event stream: a `GET`, or a 2026-07-28 listen alone in its POST. */
function opensStream(call: UpstreamCall): boolean {
  if (call.request.method === 'GET') return true
  const messages = call.messages
  return messages?.length === 1 && messages[0]?.method === LISTEN && isStatelessEra(call.request)
}

/**
 * A POST with at least one call in it (a request: a method and an id), or one not parsed. A
 * 2026-07-28 `subscriptions/listen` (alone in its POST, as that revision sends every message) is
 * no call: it stays open as long as its client listens, like a 2025 `GET` stream. To an older
 * server it is a call like any other.
 */
function carriesCalls(call: UpstreamCall): boolean {
  if (call.request.method !== 'POST') return false
  const messages = call.messages
  if (messages === undefined) return true
  if (opensStream(call)) return false
  return messages.some((m) => typeof m.method === 'string' && validID(m.id))
}
