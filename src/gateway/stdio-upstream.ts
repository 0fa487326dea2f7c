/**
 * A stdio MCP server behind a route. The gateway speaks Streamable HTTP to clients (through the
 * MCP SDK's Web-standard server transport, one per session) and newline-delimited JSON-RPC to the
 * process. In `shared` mode one process serves every session: request ids and progress tokens are
 * remapped per session so that answers and notifications reach the caller that asked, the process
 * is initialized once (later sessions get the same answer) and restarted with backoff if it dies.
 * In `session` mode each session has its own process, stopped when the session ends.
 *
 * Sessions of stdio routes live in this instance's memory (the process is here); their owners are
 * still recorded in the store, so another instance answers 404 rather than serving them.
 */
import { randomUUID } from 'node:crypto'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { callDeadline, type CallDeadline } from './call-deadline.js'
import { EventBuffer, resumeRequest } from './event-buffer.js'
import { RPC, requestIDs, rpcError, validID, type RPCMessage } from './messages.js'
import { commandSpawnable } from './readiness.js'
import { StdioProcess, type StdioConfig } from './stdio-process.js'
import type { Upstream, UpstreamCall } from './upstream.js'
import { principalKey, principalOf, type AccessToken } from '../jwt/access-token.js'

type ID = string | number

interface SessionEntry {
  id: string | undefined
  /** Milliseconds since the epoch of the last request. */
  lastSeen: number
  transport: WebStandardStreamableHTTPServerTransport
  /** The session's recent events, for `Last-Event-ID` (none when `eventBuffer.maxEvents` is 0). */
  events: EventBuffer | undefined
  bridge: Bridge
  /** Requests whose answers policy rewrites, by the client's id. */
  rewrites: Map<ID, { request: RPCMessage; rewrite: NonNullable<UpstreamCall['rewrite']> }>
}

interface Pending {
  session: SessionEntry
  id: ID
  method: string
  deadline: CallDeadline
}

export interface StdioDeps {
  env: NodeJS.ProcessEnv
  log: (message: string) => void
  userToken?: (token: AccessToken) => Promise<string>
  /** A process died unexpectedly (audit: `gateway_upstream_exited`). */
  onExit?: (restarting: boolean, reason: string) => void
  /** The caller's credential for a `user` process could not be had (audit). */
  onCredentialFailure?: (token: AccessToken, error: unknown) => void
}

export function createStdioUpstream(config: StdioConfig, deps: StdioDeps): Upstream {
  const sessions = new Map<string, SessionEntry>()
  let shared: Bridge | undefined
  const perUser = new Map<string, Bridge>()
  let bridges = 0
  let closing = false

  const newBridge = (
    restart: boolean,
    stopWhenEmpty: boolean,
    extraEnv: Record<string, string> = {},
    onGone: () => void = () => undefined,
  ): Bridge => {
    bridges++
    return new Bridge(config, deps, { restart, stopWhenEmpty, extraEnv }, () => {
      bridges--
      onGone()
    })
  }
  const tooMany = () => {
    deps.log('session refused: maxProcesses reached')
    return rpcError(503, RPC.internalError, 'Too many sessions; try again later', null, {
      'retry-after': '10',
    })
  }

  const open = async (call: UpstreamCall): Promise<SessionEntry | Response> => {
    let bridge: Bridge
    if (config.mode === 'shared') {
      shared ??= newBridge(true, false)
      bridge = shared
    } else if (config.mode === 'user') {
      // The user, whichever client they use (the client is part of the session's owner still).
      const who = principalOf(call.token)
      const key =
        who.subject === undefined
          ? principalKey(who)
          : JSON.stringify([who.issuer ?? null, who.subject, who.machine === true])
      const mine = perUser.get(key)
      if (mine) bridge = mine
      else {
        if (bridges >= config.maxProcesses) return tooMany()
        const extraEnv: Record<string, string> = {}
        if (config.userTokenEnv !== undefined) {
          if (!deps.userToken) {
            deps.log('userTokenEnv needs the OAuth/OIDC proxy (config.upstream)')
            return rpcError(502, RPC.internalError, 'the MCP server cannot be started')
          }
          // Throws OAuthError invalid_token when the sign-in at the IdP ended: the guard
          // answers 401 and the client signs in again.
          try {
            extraEnv[config.userTokenEnv] = await deps.userToken(call.token)
          } catch (error) {
            deps.onCredentialFailure?.(call.token, error)
            throw error
          }
        }
        const again = perUser.get(key) // another request of this user may have won the race
        if (again) bridge = again
        else {
          const created = newBridge(true, true, extraEnv, () => {
            if (perUser.get(key) === created) perUser.delete(key)
          })
          perUser.set(key, created)
          bridge = created
        }
      }
    } else {
      if (bridges >= config.maxProcesses) return tooMany()
      bridge = newBridge(false, true)
    }
    const events =
      config.eventBuffer.maxEvents > 0 ? new EventBuffer(config.eventBuffer) : undefined
    const entry: SessionEntry = {
      id: undefined,
      lastSeen: Date.now(),
      bridge,
      rewrites: new Map(),
      events,
      transport: new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        ...(events ? { eventStore: events } : {}),
        onsessioninitialized: async (id) => {
          entry.id = id
          sessions.set(id, entry)
          await call.opened(id)
        },
        onsessionclosed: async (id) => {
          sessions.delete(id)
          bridge.detach(entry)
          await call.ended(id)
        },
      }),
    }
    entry.transport.onclose = () => {
      // The process of a `session` route died, or the session went idle: it is gone.
      bridge.detach(entry)
      if (entry.id !== undefined && sessions.get(entry.id) === entry) {
        sessions.delete(entry.id)
        void call.ended(entry.id).catch(() => undefined)
      }
    }
    entry.transport.onmessage = (message) => {
      bridge.fromClient(entry, message)
    }
    await entry.transport.start()
    bridge.attach(entry)
    return entry
  }

  // Idle sessions are closed (their process too in `session` mode); the timer keeps no one alive.
  const sweep = setInterval(
    () => {
      const limit = Date.now() - config.idleSeconds * 1000
      for (const entry of sessions.values()) {
        if (entry.lastSeen < limit) void entry.transport.close().catch(() => undefined)
      }
    },
    Math.max(500, Math.min(60_000, (config.idleSeconds * 1000) / 2)),
  )
  sweep.unref()

  return {
    async handle(call) {
      if (closing) return rpcError(503, RPC.internalError, 'The gateway is shutting down')
      let entry: SessionEntry | Response | undefined
      if (call.sessionId !== undefined) {
        entry = sessions.get(call.sessionId)
        // The owner is right (checked by the route) but the process is not here: another
        // instance, or a session that ended with its process.
        if (!entry) return rpcError(404, -32001, 'Session not found')
      } else if (call.messages?.some((m) => m.method === 'initialize') === true) {
        entry = await open(call)
        if (entry instanceof Response) return entry
      } else {
        return rpcError(400, RPC.invalidRequest, 'Bad Request: Mcp-Session-Id header is required')
      }
      if (call.rewrite && call.messages) {
        for (const m of call.messages) {
          if (validID(m.id) && typeof m.method === 'string') {
            entry.rewrites.set(m.id, { request: m, rewrite: call.rewrite })
          }
        }
      }
      entry.bridge.active = entry
      entry.lastSeen = Date.now()
      let request = call.request
      if (call.sessionId !== undefined) {
        const resumed = resumeRequest(entry.events, request, call.sessionId)
        if (resumed instanceof Response) return resumed
        request = resumed
      }
      const parsedBody = call.body
        ? (JSON.parse(new TextDecoder().decode(call.body)) as unknown)
        : undefined
      const forget = entry.events?.expect(requestIDs(call.messages))
      const response = await entry.transport.handleRequest(
        request,
        parsedBody === undefined ? {} : { parsedBody },
      )
      if (response.status !== 200) forget?.()
      return response
    },
    ready: () =>
      Promise.resolve(!closing).then(
        (open) =>
          open && commandSpawnable(config.command, config.cwd, config.env.PATH ?? deps.env.PATH),
      ),
    async close() {
      closing = true
      clearInterval(sweep)
      const all = [...sessions.values()]
      sessions.clear()
      await Promise.allSettled(all.map((s) => s.transport.close()))
      await Promise.allSettled(all.map((s) => s.bridge.stop()))
      await Promise.allSettled([...perUser.values()].map((b) => b.stop()))
      await shared?.stop()
    },
  }
}

/** Notifications that say a list changed: safe to tell every session of a shared process. */
const LIST_CHANGED = /^notifications\/(tools|prompts|resources)\/list_changed$/

/** One process and the sessions it serves, with the id bookkeeping between them. */
class Bridge {
  readonly #process: StdioProcess
  readonly #config: StdioConfig
  readonly #stopWhenEmpty: boolean
  readonly #sessions = new Set<SessionEntry>()
  readonly #pending = new Map<number, Pending>()
  /** Gateway progress token → the session's own token and the request it belongs to. */
  readonly #progress = new Map<
    string,
    { session: SessionEntry; token: unknown; related: ID; n: number }
  >()
  /** Gateway id of a server-to-client request → the session it went to and the server's id. */
  readonly #serverRequests = new Map<string, { session: SessionEntry; id: ID }>()
  #next = 1
  #init: { params: unknown; result?: unknown; waiting: (() => void)[] } | undefined
  #stopped = false
  readonly #onGone: () => void
  /** The session that sent the latest request: server-to-client requests go there. */
  active: SessionEntry | undefined

  constructor(
    config: StdioConfig,
    deps: StdioDeps,
    how: { restart: boolean; stopWhenEmpty: boolean; extraEnv: Record<string, string> },
    onGone: () => void,
  ) {
    const { restart } = how
    this.#config = config
    this.#stopWhenEmpty = how.stopWhenEmpty
    this.#onGone = onGone
    this.#process = new StdioProcess({
      config,
      env: deps.env,
      extraEnv: how.extraEnv,
      log: deps.log,
      restart,
      onMessage: (m) => {
        this.#fromServer(m)
      },
      onExit: (restarting, reason) => {
        deps.onExit?.(restarting, reason)
        this.#failPending()
        if (!restarting) void this.#endSessions()
      },
      onStart: (generation) => {
        // A restarted process knows nobody: initialize it as the first session did.
        if (generation > 1 && this.#init?.result !== undefined) {
          this.#process.send({
            jsonrpc: '2.0',
            id: `gw-init-${generation}`,
            method: 'initialize',
            params: this.#init.params,
          })
          this.#process.send({ jsonrpc: '2.0', method: 'notifications/initialized' })
        }
      },
    })
    this.#process.start()
  }

  attach(session: SessionEntry): void {
    this.#sessions.add(session)
  }

  detach(session: SessionEntry): void {
    this.#sessions.delete(session)
    if (this.active === session) this.active = undefined
    for (const [n, p] of this.#pending) {
      if (p.session === session) {
        p.deadline.clear()
        this.#pending.delete(n)
      }
    }
    if (this.#stopWhenEmpty && this.#sessions.size === 0) void this.stop()
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#failPending()
    await this.#process.stop()
    this.#onGone()
  }

  fromClient(session: SessionEntry, msg: RPCMessage): void {
    if (typeof msg.method === 'string' && validID(msg.id)) {
      this.#request(session, msg, msg.id, msg.method)
      return
    }
    if (typeof msg.method === 'string') {
      if (msg.method === 'notifications/initialized') {
        // The shared process was initialized by the first session only.
        if (this.#init?.result !== undefined && this.#initializedSent) return
        this.#initializedSent = true
      }
      if (msg.method === 'notifications/cancelled') {
        const params = msg.params as { requestId?: unknown } | undefined
        const n = this.#find(session, params?.requestId)
        if (n === undefined) return
        this.#process.send({ ...msg, params: { ...params, requestId: n } })
        return
      }
      this.#process.send(msg)
      return
    }
    // A response to a server-to-client request.
    const key = String(msg.id)
    const target = this.#serverRequests.get(key)
    if (target?.session !== session) return
    this.#serverRequests.delete(key)
    this.#process.send({ ...msg, id: target.id })
  }

  #initializedSent = false

  #request(session: SessionEntry, msg: RPCMessage, id: ID, method: string): void {
    if (method === 'initialize' && this.#init) {
      const init = this.#init
      const answer = () => {
        const reply =
          init.result !== undefined
            ? { jsonrpc: '2.0', id, result: init.result }
            : {
                jsonrpc: '2.0',
                id,
                error: { code: RPC.internalError, message: 'the MCP server stopped; try again' },
              }
        void session.transport.send(reply as JSONRPCMessage).catch(() => undefined)
      }
      if (init.result !== undefined) answer()
      else init.waiting.push(answer)
      return
    }
    if (method === 'initialize') this.#init = { params: msg.params, waiting: [] }
    const n = this.#next++
    let params = msg.params
    const meta = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta
    if (meta?.progressToken !== undefined) {
      const token = `gw-${String(n)}`
      this.#progress.set(token, { session, token: meta.progressToken, related: id, n })
      params = { ...(params as object), _meta: { ...meta, progressToken: token } }
    }
    // MCP lifecycle §Timeouts: progress for this call restarts the clock, up to maxTimeoutSeconds.
    const deadline = callDeadline({
      timeoutMs: this.#config.timeoutSeconds * 1000,
      maxMs: this.#config.maxTimeoutSeconds * 1000,
      onTimeout: () => {
        if (!this.#pending.delete(n)) return
        this.#dropProgress(session, id)
        this.#reply(session, id, method, {
          jsonrpc: '2.0',
          id,
          error: { code: RPC.internalError, message: 'the MCP server did not answer in time' },
        })
        // Sessions waiting for the shared answer fail too (else they would wait for ever); the
        // next initialize is sent again. An initialize is never cancelled (MCP lifecycle).
        if (method === 'initialize') {
          this.#initFailed()
          return
        }
        // Tell the server to stop working on what nobody awaits any more.
        this.#process.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: n, reason: 'timed out at the gateway' },
        })
      },
    })
    this.#pending.set(n, { session, id, method, deadline })
    if (!this.#process.send({ ...msg, id: n, params })) {
      deadline.clear()
      this.#pending.delete(n)
      this.#dropProgress(session, id)
      this.#reply(session, id, method, {
        jsonrpc: '2.0',
        id,
        error: { code: RPC.internalError, message: 'the MCP server is not running' },
      })
    }
  }

  #fromServer(msg: RPCMessage): void {
    if (typeof msg.method !== 'string') {
      if (typeof msg.id === 'string' && msg.id.startsWith('gw-init-')) return
      const n = typeof msg.id === 'number' ? msg.id : undefined
      const p = n === undefined ? undefined : this.#pending.get(n)
      if (!p || n === undefined) return
      p.deadline.clear()
      this.#pending.delete(n)
      this.#dropProgress(p.session, p.id)
      if (p.method === 'initialize' && this.#init && msg.result !== undefined) {
        this.#init.result = msg.result
        for (const w of this.#init.waiting.splice(0)) w()
      } else if (p.method === 'initialize' && this.#init && msg.result === undefined) {
        const waiting = this.#init.waiting.splice(0)
        this.#init = undefined
        for (const w of waiting) w()
      }
      this.#reply(p.session, p.id, p.method, { ...msg, id: p.id })
      return
    }
    if (validID(msg.id)) {
      // A request from the server (sampling, elicitation, roots). Every session of a per-session
      // or per-user process is the same user's; a shared process serves several users, so there
      // it goes only to the one session with requests in flight. With none or several, nobody
      // can be told apart: the server gets an error, and no other user's session ever sees it.
      const session = this.#askable()
      if (!session) {
        this.#process.send({
          jsonrpc: '2.0',
          id: msg.id,
          error: { code: -32603, message: 'no single client session can answer this request' },
        })
        return
      }
      const key = `gw-s-${String(this.#next++)}`
      this.#serverRequests.set(key, { session, id: msg.id })
      const related = this.#latest(session)
      void session.transport.send(
        { ...msg, id: key } as JSONRPCMessage,
        related !== undefined ? { relatedRequestId: related } : undefined,
      )
      return
    }
    if (msg.method === 'notifications/progress') {
      const params = msg.params as { progressToken?: unknown } | undefined
      const entry = this.#progress.get(String(params?.progressToken))
      if (!entry) return
      this.#pending.get(entry.n)?.deadline.progress()
      void entry.session.transport.send(
        { ...msg, params: { ...params, progressToken: entry.token } } as JSONRPCMessage,
        { relatedRequestId: entry.related },
      )
      return
    }
    if (msg.method === 'notifications/cancelled') return
    // Other notifications concern whoever shares the process. A shared process serves several
    // users: there only list changes go to everyone; logging and resource updates may carry one
    // user's data and go nowhere while more than one session is attached.
    const method = typeof msg.method === 'string' ? msg.method : ''
    if (this.#config.mode === 'shared' && this.#sessions.size > 1 && !LIST_CHANGED.test(method)) {
      return
    }
    for (const session of this.#sessions) void session.transport.send(msg as JSONRPCMessage)
  }

  /** The session a server-to-client request may go to, if exactly one can be told apart. */
  #askable(): SessionEntry | undefined {
    if (this.#config.mode !== 'shared') return this.active ?? [...this.#sessions].at(-1)
    const waiting = new Set([...this.#pending.values()].map((p) => p.session))
    return waiting.size === 1 ? [...waiting][0] : undefined
  }

  #reply(session: SessionEntry, id: ID, method: string, msg: RPCMessage): void {
    const fix = session.rewrites.get(id)
    let out = msg
    if (fix) {
      session.rewrites.delete(id)
      if (fix.request.method === method) out = fix.rewrite(fix.request, msg)
    }
    void session.transport.send(out as JSONRPCMessage).catch(() => undefined)
  }

  /** Forgets the progress tokens of a call that ended (answered, timed out or not sent). */
  #dropProgress(session: SessionEntry, id: ID): void {
    for (const [token, entry] of this.#progress) {
      if (entry.session === session && entry.related === id) this.#progress.delete(token)
    }
  }

  #find(session: SessionEntry, id: unknown): number | undefined {
    for (const [n, p] of this.#pending) if (p.session === session && p.id === id) return n
    return undefined
  }

  #latest(session: SessionEntry): ID | undefined {
    let found: ID | undefined
    for (const p of this.#pending.values()) if (p.session === session) found = p.id
    return found
  }

  /** An initialize that never got its answer: those waiting for it fail, the next one retries. */
  #initFailed(): void {
    if (this.#init && this.#init.result === undefined) {
      const waiting = this.#init.waiting.splice(0)
      this.#init = undefined
      for (const w of waiting) w()
    }
  }

  #failPending(): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    this.#initFailed()
    this.#progress.clear()
    this.#initializedSent = false
    if (this.#init?.result !== undefined) this.#initializedSent = true // re-sent on restart
    for (const p of pending) {
      p.deadline.clear()
      this.#reply(p.session, p.id, p.method, {
        jsonrpc: '2.0',
        id: p.id,
        error: { code: RPC.internalError, message: 'the MCP server stopped; try again' },
      })
    }
  }

  async #endSessions(): Promise<void> {
    const all = [...this.#sessions]
    await Promise.allSettled(all.map((s) => s.transport.close()))
    await this.stop()
  }
}
