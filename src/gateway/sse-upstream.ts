/**
 * A legacy HTTP+SSE MCP server (protocol 2024-11-05) behind a route. Clients still speak
 * Streamable HTTP to the gateway (its own session layer, served-session.ts, one per session);
 * each session opens its own event stream at the server (the SDK's SSE client transport), whose
 * `endpoint` event says where messages are POSTed. The client's requests go to the server under
 * ids of the session's own (1, 2, 3, ...), which are also their progress tokens, mapped back on
 * their answers and progress: a call the gateway has given up on (its deadline passed) keeps its
 * upstream id, so a late answer or progress for it is dropped even when the client has sent a new
 * request with the same id or token since. Everything else passes unchanged, with the route's
 * credential and identity headers on every upstream request, per-request deadlines, and
 * `tools/list` answers filtered by policy. Sessions live in this instance's memory, like stdio
 * ones.
 */
import { randomUUID } from 'node:crypto'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { OAuthError, StoreError } from '../errors.js'
import type { AccessToken } from '../jwt/access-token.js'
import { callDeadline, type CallDeadline } from './call-deadline.js'
import { credentialRefusal, type CredentialHeaders } from './credentials.js'
import type { UpstreamTracing } from './http-upstream.js'
import { EventBuffer, type EventBufferLimits } from './event-buffer.js'
import { RPC, rpcError, validID, type RPCMessage } from './messages.js'
import { httpReachable } from './readiness.js'
import { idle, postRefusal, recordOwner, ServedSession, type Sweepable } from './served-session.js'
import type { Upstream, UpstreamCall } from './upstream.js'

type ID = string | number
type Credential = Awaited<ReturnType<CredentialHeaders>>

export interface SSEUpstreamOptions {
  url: string
  /** Deadline for the `endpoint` event and for each request's answer. */
  timeoutMs: number
  /** Progress restarts a request's deadline, but its answer is cut off after this long. */
  maxTimeoutMs?: number
  /** Events kept per session for `Last-Event-ID` resumption; none: no resumption. */
  eventBuffer?: EventBufferLimits
  idleSeconds: number
  maxSessions: number
  credential: CredentialHeaders
  onError?: (message: string) => void
  onCredentialFailure?: (token: AccessToken, error: unknown) => void
  /** Gatehouse's tracing: a client span and the `traceparent` on each upstream request. */
  tracing?: UpstreamTracing
}

interface Session extends Sweepable {
  id: string
  /** The caller's latest token: the upstream stream's credential is made from it. */
  token: AccessToken
  /** The credential got in `handle` for the client's latest messages: their POSTs carry it. */
  credential: Credential
  /** Forgets the session's binding (the opening call's `ended`), however the session ends. */
  ended: (sessionId: string) => Promise<void>
  server: ServedSession<NonNullable<UpstreamCall['rewrite']>>
  // The legacy transport is what this upstream kind is for.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  client: SSEClientTransport
  /** The upstream id of the session's next request. */
  nextID: number
  /**
   * Requests waiting for the server's answer, by their upstream id, which is also the progress
   * token the server is given for a request that carries one.
   */
  pending: Map<number, Pending>
}

/** A client's request the server has not answered yet. */
interface Pending {
  /** The client's id for it. */
  id: ID
  /** The client's progress token for it, if it asked for progress. */
  progressToken?: unknown
  deadline: CallDeadline
  /** Policy's rewrite of its answer (a filtered `tools/list`), with the request it was for. */
  rewrite?: { request: RPCMessage; apply: NonNullable<UpstreamCall['rewrite']> }
  /** It is the session's `initialize`, which a client may not cancel. */
  initialize?: true
}

/** Stops waiting for the request sent upstream as `upstream`; `undefined` if none waits. */
function settle(s: Session, upstream: number): Pending | undefined {
  const p = s.pending.get(upstream)
  if (!p) return undefined
  p.deadline.clear()
  s.pending.delete(upstream)
  return p
}

/** The upstream id of the client's request `id` still waiting for its answer. */
function upstreamIDOf(s: Session, id: unknown): number | undefined {
  for (const [upstream, p] of s.pending) if (p.id === id) return upstream
  return undefined
}

export function createSSEUpstream(options: SSEUpstreamOptions): Upstream {
  const sessions = new Map<string, Session>()
  const all = new Set<Session>()
  let closing = false

  const end = async (s: Session) => {
    if (!all.delete(s)) return
    for (const p of s.pending.values()) p.deadline.clear()
    s.pending.clear()
    sessions.delete(s.id)
    await s.client.close().catch(() => undefined)
    await s.server.close()
    await s.ended(s.id).catch(() => undefined)
  }

  /** The caller's credential; one that cannot be had is audited. */
  const credentialOf = async (token: AccessToken): Promise<Credential> => {
    try {
      return await options.credential(token)
    } catch (error) {
      options.onCredentialFailure?.(token, error)
      throw error
    }
  }

  /**
   * The caller's credential for a request of theirs, got once: the messages are POSTed upstream
   * in the background, so one that cannot be had is answered here, like the HTTP upstream does
   * (under the id of the call's first request).
   */
  const credentialFor = async (call: UpstreamCall): Promise<Credential | Response> => {
    try {
      return await credentialOf(call.token)
    } catch (error) {
      if (error instanceof OAuthError && error.code === 'invalid_token') throw error
      if (error instanceof StoreError) throw error // 503: a retry is safe
      const firstId = call.messages?.find((m) => validID(m.id))?.id
      const refused = credentialRefusal(error, firstId)
      if (refused) return refused
      options.onError?.('no upstream credential for the caller')
      return rpcError(502, RPC.internalError, 'the MCP server is unavailable', firstId)
    }
  }

  const toClient = (s: Session, msg: RPCMessage) => {
    if (typeof msg.method !== 'string' && validID(msg.id)) {
      // An answer to nothing waiting (a call the gateway gave up on) goes nowhere.
      const p = typeof msg.id === 'number' ? settle(s, msg.id) : undefined
      if (!p) {
        options.onError?.('upstream answered a request that no call waits for')
        return
      }
      const answer = { ...msg, id: p.id }
      const fix = p.rewrite
      s.server.send(fix ? fix.apply(fix.request, answer) : answer)
      return
    }
    let related: ID | undefined
    let out = msg
    if (msg.method === 'notifications/progress') {
      // Progress for a call still waiting, under the token the client gave it; any other is stale.
      const params = msg.params as { progressToken?: unknown } | undefined
      const token = params?.progressToken
      const p = typeof token === 'number' ? s.pending.get(token) : undefined
      if (p?.progressToken === undefined) return
      related = p.id
      out = { ...msg, params: { ...params, progressToken: p.progressToken } }
      // MCP lifecycle §Timeouts: progress for the call restarts its clock (up to the maximum).
      p.deadline.progress()
    } else if (validID(msg.id)) {
      // A request from the server (sampling, elicitation): on the stream of the latest call.
      related = [...s.pending.values()].at(-1)?.id
    }
    s.server.send(out, related !== undefined ? { relatedRequestId: related } : undefined)
  }

  const toServer = (s: Session, msg: RPCMessage, rewrite?: UpstreamCall['rewrite']) => {
    let out = msg
    if (typeof msg.method === 'string' && validID(msg.id)) {
      const id = msg.id
      const upstream = s.nextID++
      out = { ...msg, id: upstream }
      // The server reports progress under the upstream id, so that a token the client uses again
      // after a call timed out never carries the old call's progress to the new one.
      const params = msg.params as { _meta?: { progressToken?: unknown } } | undefined
      const token = params?._meta?.progressToken
      if (token !== undefined) {
        out.params = { ...params, _meta: { ...params?._meta, progressToken: upstream } }
      }
      const deadline = callDeadline({
        timeoutMs: options.timeoutMs,
        maxMs: options.maxTimeoutMs ?? options.timeoutMs,
        onTimeout: () => {
          if (!settle(s, upstream)) return
          options.onError?.('upstream timed out')
          const error = {
            code: RPC.internalError,
            message: 'the MCP server did not answer in time',
          }
          s.server.send({ jsonrpc: '2.0', id, error })
          const cancelled = {
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: upstream, reason: 'timed out at the gateway' },
          }
          // The gateway's own message: a credential of its own (the call's may be old by now).
          void credentialOf(s.token)
            .then((own) => {
              s.credential = own
              return s.client.send(cancelled as JSONRPCMessage)
            })
            .catch(() => undefined)
        },
      })
      s.pending.set(upstream, {
        id,
        ...(token !== undefined ? { progressToken: token } : {}),
        deadline,
        ...(rewrite ? { rewrite: { request: msg, apply: rewrite } } : {}),
        ...(msg.method === 'initialize' ? { initialize: true } : {}),
      })
    } else if (msg.method === 'notifications/cancelled') {
      // The client cancels by its id: the server knows the call by the session's. The call ends
      // here at once (a late answer goes nowhere), except an initialize, which MCP does not let a
      // client cancel: that cancellation is ignored, like one of a call not in flight.
      const params = msg.params as { requestId?: unknown } | undefined
      const upstream = upstreamIDOf(s, params?.requestId)
      if (upstream === undefined || s.pending.get(upstream)?.initialize === true) return
      const p = settle(s, upstream)
      out = { ...msg, params: { ...params, requestId: upstream } }
      if (p) s.server.forget(p.id)
    }
    const sent = out
    s.client.send(sent as JSONRPCMessage).catch(() => {
      options.onError?.('upstream refused a message')
      if (typeof sent.method === 'string' && typeof sent.id === 'number') {
        const p = settle(s, sent.id)
        if (!p) return
        const error = { code: RPC.internalError, message: 'the MCP server is unavailable' }
        s.server.send({ jsonrpc: '2.0', id: p.id, error })
      }
    })
  }

  const open = async (call: UpstreamCall): Promise<Session | Response> => {
    if (all.size >= options.maxSessions) {
      options.onError?.('session refused: maxSessions reached')
      return rpcError(503, RPC.internalError, 'Too many sessions; try again later', null, {
        'retry-after': '10',
      })
    }
    const credential = await credentialFor(call)
    if (credential instanceof Response) return credential
    const session = { token: call.token, credential } as Session
    // Every upstream request carries the caller's credential: a POST (a message) the one got for
    // it, the stream (and its reconnections) one made from the caller's latest token.
    const withCredential: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers)
      headers.delete('authorization')
      const method = init?.method ?? 'GET'
      const own = method === 'POST' ? session.credential : await credentialOf(session.token)
      for (const [name, value] of own) headers.set(name, value)
      const tracing = options.tracing
      const send = () => {
        // W3C Trace Context: the MCP server's spans join the caller's trace (as HTTP routes do).
        const traceparent = tracing?.traceparent()
        if (traceparent !== undefined) headers.set('traceparent', traceparent)
        return fetch(input, { ...init, headers, redirect: 'manual' })
      }
      if (tracing?.enabled !== true) return send()
      return tracing.span(
        `${method} mcp upstream`,
        {
          kind: 'client',
          attributes: {
            'http.request.method': method,
            'server.address': new URL(options.url).host,
          },
        },
        async (span) => {
          const response = await send()
          span.setAttribute('http.response.status_code', response.status)
          return response
        },
      )
    }
    const limits = options.eventBuffer
    const events = limits && limits.maxEvents > 0 ? new EventBuffer(limits) : undefined
    const id = randomUUID()
    Object.assign(session, {
      id,
      lastSeen: Date.now(),
      ended: (sessionId: string) => call.ended(sessionId),
      nextID: 1,
      pending: new Map(),
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      client: new SSEClientTransport(new URL(options.url), { fetch: withCredential }),
      server: new ServedSession({
        id,
        events,
        // Policy rewrites the answers of the requests it was given for, once they are sent.
        onMessage: (m, rewrite) => {
          toServer(session, m, rewrite)
        },
        // DELETE or idle: the session is over, upstream too.
        onClose: () => end(session),
      }),
    } satisfies Omit<Session, 'token' | 'credential'>)
    all.add(session)
    session.client.onmessage = (m) => {
      toClient(session, m)
    }
    session.client.onerror = () => {
      options.onError?.('upstream event stream failed')
    }
    // The server closed its stream: the session is over (the client starts a new one).
    session.client.onclose = () => {
      void end(session)
    }
    try {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        session.client.start(),
        new Promise((_, fail) => {
          timer = setTimeout(() => {
            fail(new Error('timeout'))
          }, options.timeoutMs)
        }),
      ]).finally(() => {
        clearTimeout(timer)
      })
    } catch {
      options.onError?.('upstream event stream could not be opened')
      await end(session)
      return rpcError(502, RPC.internalError, 'the MCP server is unavailable')
    }
    sessions.set(id, session)
    // Dropped if its owner cannot be recorded: then no binding is forgotten (recordOwner).
    const abandon = async () => {
      session.ended = () => Promise.resolve()
      await end(session)
    }
    return (await recordOwner(call, id, abandon)) ?? session
  }

  const sweep = setInterval(
    () => {
      const now = Date.now()
      const limits = {
        idleSeconds: options.idleSeconds,
        maxTimeoutSeconds: (options.maxTimeoutMs ?? options.timeoutMs) / 1000,
      }
      for (const s of all) if (idle(s, s.server, now, limits)) void end(s)
    },
    Math.max(500, Math.min(60_000, (options.idleSeconds * 1000) / 2)),
  )
  sweep.unref()

  return {
    async handle(call) {
      if (closing) return rpcError(503, RPC.internalError, 'The gateway is shutting down')
      let session: Session | Response | undefined
      if (call.sessionId !== undefined) {
        session = sessions.get(call.sessionId)
        if (!session) return rpcError(404, -32001, 'Session not found')
      } else if (call.messages?.some((m) => m.method === 'initialize') === true) {
        const refused = postRefusal(call.request, call.messages)
        if (refused) return refused
        session = await open(call)
        if (session instanceof Response) return session
      } else {
        return rpcError(400, RPC.invalidRequest, 'Bad Request: Mcp-Session-Id header is required')
      }
      session.token = call.token
      session.lastSeen = Date.now()
      // A new session got the credential for its first messages when it opened.
      if (call.sessionId !== undefined && call.messages !== undefined) {
        const credential = await credentialFor(call)
        if (credential instanceof Response) return credential
        session.credential = credential
      }
      const response = await session.server.handle(
        call.request,
        call.messages,
        call.body,
        call.rewrite,
      )
      // A refused `initialize` leaves no session behind (it held a slot).
      if (call.sessionId === undefined && response.status !== 200) await end(session)
      return response
    },
    ready: () => httpReachable(options.url, Math.min(options.timeoutMs, 2000)),
    async close() {
      closing = true
      clearInterval(sweep)
      await Promise.allSettled([...all].map((s) => end(s)))
    },
  }
}
