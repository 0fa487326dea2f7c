/**
 * A Streamable HTTP MCP server behind a route. Requests go through with an allow-listed set of
 * headers plus the route's own credential; JSON and SSE responses stream back as they arrive
 * (an event stream is parsed event by event only where policy filters lists). Failures of the upstream
 * become a JSON-RPC-shaped 502/504 that carries none of the upstream's text.
 */
import { OAuthError, StoreError } from '../errors.js'
import { BytesResponse, takeBytes } from '../http/bytes-response.js'
import { departed, Ending, onDeparture } from '../http/ending.js'
import type { AccessToken } from '../jwt/access-token.js'
import { answerDeadline, type AnswerDeadline } from './answer-deadline.js'
import { watchBody } from './body-watch.js'
import { credentialRefusal, type CredentialHeaders } from './credentials.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import { createHTTPClient, type UpstreamFetch } from './http-client.js'
import { isStatelessEra, LISTEN, RPC, rpcError, validID, type RPCMessage } from './messages.js'
import { networkCause, safeURL } from './network-cause.js'
import { httpReachable } from './readiness.js'
import { rewriteSSE } from './sse-rewrite.js'
import type { Upstream, UpstreamCall } from './upstream.js'

export interface HTTPUpstreamOptions {
  url: string
  /** Deadline for the answer (headers, then the responses in an event stream). */
  timeoutMs: number
  /** The answer is cut off after this long, however much progress is reported. */
  maxTimeoutMs?: number
  /** The route's own headers for the caller (credential, identity). */
  credential: CredentialHeaders
  /** Sees upstream failures (never sent to clients). */
  onError?: (message: string) => void
  /** The caller's upstream credential could not be had (audit: `gateway_credential_failed`). */
  onCredentialFailure?: (token: AccessToken, error: unknown) => void
  /** Sends to the upstream instead of the built-in client (tests: a failing network). */
  fetch?: typeof fetch
  /** The request's trace (Gatehouse's `tracing`): a client span and the `traceparent` sent on. */
  tracing?: UpstreamTracing
}

/** What the upstream needs of Gatehouse's tracing (ops/tracing.ts), structurally. */
export interface UpstreamTracing {
  readonly enabled: boolean
  span<R>(
    name: string,
    options: { kind?: 'client'; attributes?: Record<string, string | number | boolean> },
    fn: (span: {
      setAttribute(name: string, value: string | number | boolean): void
    }) => Promise<R>,
  ): Promise<R>
  traceparent(): string | undefined
}

export function createHTTPUpstream(options: HTTPUpstreamOptions): Upstream {
  const client = options.fetch ? undefined : createHTTPClient()
  const doFetch: UpstreamFetch = client?.fetch ?? options.fetch ?? fetch
  const active = new Set<Ending>()
  /**
   * The calls whose event-stream answers pass through this instance now, by session and id, so
   * that the client's `notifications/cancelled` ends them (MCP cancellation). Only calls made in a
   * session: without one an id names no call of the caller's alone.
   */
  const streaming = new Map<string, AnswerDeadline>()
  const callKey = (session: string, id: unknown) => `${session}\n${JSON.stringify(id)}`
  /** `notifications/cancelled` for a call whose answer came too late (best effort, no answer). */
  const cancelAtServer = async (
    id: string | number,
    session: string | null | undefined,
    incoming: Headers,
    own: readonly (readonly [string, string])[],
  ) => {
    const headers = upstreamRequestHeaders(incoming, own)
    headers.set('content-type', 'application/json')
    headers.set('accept', 'application/json, text/event-stream')
    headers.delete('mcp-method')
    headers.delete('mcp-name')
    if (session) headers.set('mcp-session-id', session)
    const message = {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'timed out at the gateway' },
    }
    try {
      const res = await doFetch(options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(message),
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      })
      await res.body?.cancel()
    } catch {
      // Best effort: the server may be gone.
    }
  }
  /**
   * The client cancels calls of its session whose answers stream through here: each ends at the
   * gateway now (the cancellation still goes on to the server, which stops working on it).
   */
  const cancelCalls = (session: string, messages: readonly RPCMessage[] | undefined) => {
    for (const m of messages ?? []) {
      if (m.method !== 'notifications/cancelled') continue
      const id = (m.params as { requestId?: unknown } | undefined)?.requestId
      if (validID(id)) streaming.get(callKey(session, id))?.cancel(id)
    }
  }
  return {
    async handle(call: UpstreamCall): Promise<Response> {
      const { request } = call
      const firstId = call.messages?.find((m) => validID(m.id))?.id
      let own: Awaited<ReturnType<CredentialHeaders>>
      try {
        own = await options.credential(call.token)
      } catch (error) {
        options.onCredentialFailure?.(call.token, error)
        // The user's sign-in at the IdP ended: the guard answers 401 and the client signs in again.
        if (error instanceof OAuthError && error.code === 'invalid_token') throw error
        // The store failed (the IdP token is kept there): 503, a retry is safe.
        if (error instanceof StoreError) throw error
        const refused = credentialRefusal(error, firstId)
        if (refused) return refused
        options.onError?.('no upstream credential for the caller')
        return rpcError(502, RPC.internalError, 'the MCP server is unavailable', firstId)
      }
      if (call.sessionId !== undefined) cancelCalls(call.sessionId, call.messages)
      // The deadline, the client leaving and the gateway closing end the upstream call: an
      // `Ending` rather than an `AbortController` (~7 µs each on Node 20; src/http/ending.ts).
      const ending = new Ending()
      active.add(ending)
      const startedAt = Date.now()
      const timer = setTimeout(() => {
        ending.end(new Error('timeout'))
      }, options.timeoutMs)
      const unfollow = onDeparture(request, () => {
        ending.end(new Error('the client left'))
      })
      const tracing = options.tracing
      const send = async (): Promise<Response> => {
        const headers = upstreamRequestHeaders(request.headers, own)
        // The body is UTF-8 JSON, as policy read it (the route refused any other charset): a
        // server that decodes by the stated charset must not read it differently.
        if (call.body) headers.set('content-type', 'application/json')
        // W3C Trace Context: the MCP server's spans join the caller's trace.
        const traceparent = tracing?.traceparent()
        if (traceparent !== undefined && !headers.has('traceparent')) {
          headers.set('traceparent', traceparent)
        }
        return doFetch(options.url, {
          method: request.method,
          headers,
          ...(call.body ? { body: call.body } : {}),
          redirect: 'manual',
          // The gateway's own client ends the call by the `Ending`; another one gets its signal.
          ...(client ? { ending } : { signal: ending.signal }),
        })
      }
      let upstream: Response
      try {
        upstream =
          tracing?.enabled === true
            ? await tracing.span(
                `${request.method} mcp upstream`,
                {
                  kind: 'client',
                  attributes: {
                    'http.request.method': request.method,
                    'server.address': new URL(options.url).host,
                  },
                },
                async (span) => {
                  const response = await send()
                  span.setAttribute('http.response.status_code', response.status)
                  return response
                },
              )
            : await send()
      } catch (error) {
        active.delete(ending)
        unfollow()
        const left = departed(request)
        const timedOut = ending.ended && !left
        options.onError?.(
          timedOut
            ? `upstream ${safeURL(options.url)} timed out`
            : left
              ? 'the client left before the MCP server answered'
              : `upstream ${safeURL(options.url)} unreachable (${networkCause(error)})`,
        )
        return timedOut
          ? rpcError(504, RPC.internalError, 'the MCP server did not answer in time', firstId)
          : rpcError(502, RPC.internalError, 'the MCP server is unavailable', firstId)
      } finally {
        clearTimeout(timer)
      }
      const done = () => {
        active.delete(ending)
        unfollow()
      }
      const status = upstream.status
      // The upstream's own auth failures and server errors are the operator's business: its
      // challenge would confuse the client's OAuth, and its text may hold internals.
      if (status >= 500 || status === 401 || status === 403 || (status >= 300 && status < 400)) {
        await upstream.body?.cancel().catch(() => undefined)
        done()
        options.onError?.(`upstream answered ${status}`)
        return rpcError(502, RPC.internalError, 'the MCP server failed', firstId)
      }
      const sessionId = upstream.headers.get('mcp-session-id')
      const initialize = call.messages?.some((m) => m.method === 'initialize') === true
      if (sessionId !== null && initialize && status < 300 && !(await call.opened(sessionId))) {
        await upstream.body?.cancel().catch(() => undefined)
        done()
        options.onError?.('upstream reused a session id of another principal')
        return rpcError(502, RPC.internalError, 'the MCP server failed', firstId)
      }
      if (call.sessionId !== undefined) {
        if (status === 404 || (request.method === 'DELETE' && status < 300)) {
          await call.ended(call.sessionId)
        }
      }
      const headers = clientResponseHeaders(upstream.headers)
      const whole = takeBytes(upstream)
      if (whole !== undefined) {
        // The whole answer is here (a small JSON one): the call is over, nothing to track.
        done()
        const out = rewriteWhole(whole, call)
        // The stated length holds only for the upstream's bytes as they came.
        if (out !== whole) headers.delete('content-length')
        return new BytesResponse(out, { status, headers })
      }
      let stream: ReadableStream<Uint8Array> | null = upstream.body
      let stopClock: () => void = () => undefined
      // The calls whose answers the deadline waits for: a 2026-07-28 listen stream has none.
      const listening = isStatelessEra(request)
      const ids = (call.messages ?? []).filter(
        (m) => validID(m.id) && typeof m.method === 'string' && !(listening && m.method === LISTEN),
      )
      const type = upstream.headers.get('content-type') ?? ''
      if (stream && ids.length > 0 && type.startsWith('text/event-stream')) {
        const session = sessionId ?? call.sessionId
        const deadline = answerDeadline(stream, {
          ids: ids.map((m) => m.id as string | number),
          progressTokens: ids
            .map((m) => (m.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta)
            .map((meta) => meta?.progressToken)
            .filter((t) => t !== undefined),
          timeoutMs: options.timeoutMs,
          maxMs: Math.max(options.timeoutMs, options.maxTimeoutMs ?? options.timeoutMs),
          startedAt,
          onTimeout: (late) => {
            options.onError?.('upstream timed out')
            // MCP lifecycle §Timeouts: tell the server to stop working on what nobody awaits. From
            // 2026-07-28 on, closing the answer's stream (done here) is the cancellation over
            // HTTP, and no notifications/cancelled is expected (MCP cancellation).
            if (isStatelessEra(request)) return
            for (const id of late) void cancelAtServer(id, session, request.headers, own)
          },
        })
        stream = deadline.body
        const inSession = call.sessionId
        const tracked = inSession === undefined ? [] : ids.map((m) => callKey(inSession, m.id))
        for (const key of tracked) streaming.set(key, deadline)
        stopClock = () => {
          deadline.stop()
          for (const key of tracked) if (streaming.get(key) === deadline) streaming.delete(key)
        }
      }
      const body = rewrite(stream, upstream.headers, call)
      // The stated length holds only for the upstream's bytes as they came, and an event stream
      // has none: its deadline may end it with an event of the gateway's own (answer-deadline.ts).
      if (body !== upstream.body || type.startsWith('text/event-stream')) {
        headers.delete('content-length')
      }
      if (!body) {
        stopClock()
        done()
        return new Response(null, { status, headers })
      }
      const end = () => {
        stopClock()
        done()
      }
      return new Response(watchBody(body, { end }), { status, headers })
    },
    ready: () => httpReachable(options.url, Math.min(options.timeoutMs, 2000), options.fetch),
    async close(): Promise<void> {
      for (const call of active) call.end(new Error('closing'))
      active.clear()
      await client?.close()
    },
  }
}

/** The body to send back: as it came, or with every list in its answers filtered for the caller. */
function rewrite(
  body: ReadableStream<Uint8Array> | null,
  upstreamHeaders: Headers,
  call: UpstreamCall,
): ReadableStream<Uint8Array> | null {
  const apply = answerRewrite(call)
  if (!body || !apply) return body
  const type = upstreamHeaders.get('content-type') ?? ''
  if (type.startsWith('text/event-stream')) return body.pipeThrough(rewriteSSE(apply))
  if (type.startsWith('application/json')) return jsonRewrite(body, apply)
  return body
}

/** A whole JSON answer (the HTTP client collects only JSON whole), rewritten where policy must. */
function rewriteWhole(body: Uint8Array<ArrayBuffer>, call: UpstreamCall): Uint8Array<ArrayBuffer> {
  const apply = answerRewrite(call)
  return apply ? new TextEncoder().encode(rewriteJSON(new TextDecoder().decode(body), apply)) : body
}

/**
 * What policy does to a parsed answer of this call (one message, or each message of a batch), or
 * `undefined` when it leaves them alone. Each response goes to the rewrite with the request of its
 * id, if this call has one (a `GET` resumed with `Last-Event-ID` replays the answers of earlier
 * `POST`s, with none), and the gateway's rewrite filters every list in it either way. Requests
 * and notifications of the server pass as they are, and so does anything that is not a message:
 * the client has nothing to read from it either.
 */
function answerRewrite(call: UpstreamCall): ((parsed: unknown) => unknown) | undefined {
  const { rewrite: fix, messages } = call
  if (!fix) return undefined
  const requests = new Map<string | number, RPCMessage>()
  for (const m of messages ?? []) {
    if (validID(m.id) && typeof m.method === 'string') requests.set(m.id, m)
  }
  const one = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
    const msg = value as RPCMessage
    if (msg.method !== undefined || !('result' in msg)) return msg
    return fix(validID(msg.id) ? requests.get(msg.id) : undefined, msg)
  }
  return (parsed) => (Array.isArray(parsed) ? parsed.map(one) : one(parsed))
}

/** A JSON body (one message or a batch) rewritten once whole; answers are small. */
function jsonRewrite(
  body: ReadableStream<Uint8Array>,
  apply: (parsed: unknown) => unknown,
): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async start(controller) {
      const text = await new Response(body).text()
      controller.enqueue(new TextEncoder().encode(rewriteJSON(text, apply)))
      controller.close()
    },
  })
}

/**
 * `text` with policy applied. Only a parse failure passes the text on untouched (not JSON: there is
 * no list in it, and the client reports it); a failure of the policy itself throws, so the answer
 * is refused rather than sent unfiltered.
 */
function rewriteJSON(text: string, apply: (parsed: unknown) => unknown): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return text
  }
  return JSON.stringify(apply(parsed))
}
