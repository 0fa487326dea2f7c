/**
 * One stdio process and the client sessions it serves: requests from many sessions go to the one
 * process under the bridge's own ids (remapped back on the way out), progress tokens likewise, and
 * server-to-client requests and notifications reach only the sessions they may concern. The process
 * is initialized once (later sessions get the same answer) and again after a restart.
 * `createStdioUpstream` decides which sessions share a bridge.
 */
import { callDeadline, type CallDeadline } from './call-deadline.js'
import { RPC, validID, type RPCMessage } from './messages.js'
import { serialize, StdioProcess, type StdioConfig } from './stdio-process.js'
import { ResourceSubscriptions } from './subscriptions.js'
import type { UpstreamCall } from './upstream.js'

type ID = string | number

/** A client session as the bridge sees it: where its messages go, and how answers are rewritten. */
export interface BridgeSession {
  /** The client side (served-session.ts). */
  transport: {
    send(message: RPCMessage, options?: { relatedRequestId?: ID }): void
    /** The client cancelled its request `id`: no answer will come for it. */
    forget(id: ID): void
    close(): Promise<void>
  }
  /** Requests whose answers policy rewrites, by the client's id. */
  rewrites: Map<ID, { request: RPCMessage; rewrite: NonNullable<UpstreamCall['rewrite']> }>
  /** The gateway's own session (no client behind it): never asked the server's questions. */
  readonly internal?: boolean
}

/** What a bridge needs from the gateway to run its process. */
export interface BridgeDeps {
  env: NodeJS.ProcessEnv
  log: (message: string) => void
  /** A process died unexpectedly (audit: `gateway_upstream_exited`). */
  onExit?: (restarting: boolean, reason: string) => void
}

interface Pending {
  session: BridgeSession
  id: ID
  method: string
  deadline: CallDeadline
  /** The first `resources/subscribe` of this resource (its outcome is every waiting one's). */
  subscribing?: string
  /**
   * The session cancelled this first subscribe: it runs on for the others, but its answer is no
   * longer the session's, whose id may since name another call (MCP forbids reusing it; a client
   * may still do it).
   */
  withdrawn?: true
}

/** Notifications that say a list changed: safe to tell every session of a shared process. */
const LIST_CHANGED = /^notifications\/(tools|prompts|resources)\/list_changed$/

/** One process and the sessions it serves, with the id bookkeeping between them. */
export class Bridge {
  readonly #process: StdioProcess
  readonly #config: StdioConfig
  readonly #stopWhenEmpty: boolean
  readonly #sessions = new Set<BridgeSession>()
  /**
   * Sessions that keep the process and hear its list changes but are not clients' sessions (those
   * of MCP 2026-07-28 clients, modern-calls.ts): they never count as another user here.
   */
  readonly #quiet = new Set<BridgeSession>()
  /** The sessions' resource subscriptions: one per resource at the process. */
  readonly #subscriptions = new ResourceSubscriptions<BridgeSession>({
    tell: (uri, subscribe) => {
      this.#process.send({
        jsonrpc: '2.0',
        id: `gw-sub-${String(this.#next++)}`,
        method: subscribe ? 'resources/subscribe' : 'resources/unsubscribe',
        params: { uri },
      })
    },
    answer: (session, id, method, error) => {
      const reply = error === undefined ? { result: {} } : { error }
      this.#reply(session, id, method, { jsonrpc: '2.0', id, ...reply })
    },
  })
  readonly #pending = new Map<number, Pending>()
  /** Gateway progress token → the session's own token and the request it belongs to. */
  readonly #progress = new Map<
    string,
    { session: BridgeSession; token: unknown; related: ID; n: number }
  >()
  /** Gateway id of a server-to-client request → the session it went to and the server's id. */
  readonly #serverRequests = new Map<string, { session: BridgeSession; id: ID }>()
  #next = 1
  #init: { params: unknown; result?: unknown; waiting: (() => void)[] } | undefined
  #stopped = false
  readonly #onGone: () => void
  /** The session that sent the latest request: server-to-client requests go there. */
  active: BridgeSession | undefined

  constructor(
    config: StdioConfig,
    deps: BridgeDeps,
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
        // A restarted process knows nobody: initialize it as the first session did, and
        // subscribe it again to what its sessions subscribed to.
        if (generation > 1 && this.#init?.result !== undefined) {
          this.#process.send({
            jsonrpc: '2.0',
            id: `gw-init-${generation}`,
            method: 'initialize',
            params: this.#init.params,
          })
          this.#process.send({ jsonrpc: '2.0', method: 'notifications/initialized' })
          this.#subscriptions.resubscribe()
        }
      },
    })
    this.#process.start()
  }

  /**
   * The process's `initialize` result, for a caller with no session of its own (an MCP
   * 2026-07-28 client, gateway/modern-calls.ts): the result the first session got, or, when no
   * session has initialized the process yet, the answer to `params` sent now. `undefined` when
   * the process refused or did not answer.
   */
  initialized(params: unknown): Promise<unknown> {
    if (this.#init?.result !== undefined) return Promise.resolve(this.#init.result)
    return new Promise((resolve) => {
      const id = `gw-modern-init-${String(this.#next)}`
      const self: BridgeSession = {
        transport: {
          send: (reply) => {
            resolve(reply.result)
            if (reply.result !== undefined) {
              this.fromClient(self, { jsonrpc: '2.0', method: 'notifications/initialized' })
            }
          },
          forget: () => undefined,
          close: () => Promise.resolve(),
        },
        rewrites: new Map(),
        internal: true,
      }
      this.#request(self, { jsonrpc: '2.0', id, method: 'initialize', params }, id, 'initialize')
    })
  }

  /** Whether the process has a request of a session's to answer. */
  get busy(): boolean {
    return this.#pending.size > 0
  }

  /**
   * Whether every session of the process is one user's (`user`, `session` mode): then resource
   * updates match sub-resources too, and go to every 2025 session. On a shared process they go
   * only to sessions subscribed to exactly that resource (a broad subscription would otherwise
   * hear of other users' resources, which its route's `resources` rules never checked).
   */
  get singleUser(): boolean {
    return this.#config.mode !== 'shared'
  }

  /** `quiet`: see `#quiet`; such a session gets only list changes and its resource updates. */
  attach(session: BridgeSession, quiet = false): void {
    if (quiet) this.#quiet.add(session)
    else this.#sessions.add(session)
  }

  detach(session: BridgeSession): void {
    this.#sessions.delete(session)
    this.#quiet.delete(session)
    if (this.active === session) this.active = undefined
    for (const [n, p] of this.#pending) {
      // An initialize, or the first subscribe to a resource, stays: other sessions may be waiting
      // for the shared answer it brings (its answer to this session goes nowhere).
      if (p.session === session && p.method !== 'initialize' && p.subscribing === undefined) {
        p.deadline.clear()
        this.#pending.delete(n)
      }
    }
    for (const [token, entry] of this.#progress) {
      if (entry.session === session) this.#progress.delete(token)
    }
    for (const [key, target] of this.#serverRequests) {
      if (target.session === session) this.#serverRequests.delete(key)
    }
    this.#subscriptions.detach(session)
    if (this.#stopWhenEmpty && this.#sessions.size === 0 && this.#quiet.size === 0) {
      void this.stop()
    }
  }

  /** Ends every session (a 2026-07-28 anchor's listen streams too), then stops the process. */
  close(): Promise<void> {
    return this.#endSessions()
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#failPending()
    await this.#process.stop()
    this.#onGone()
  }

  fromClient(session: BridgeSession, msg: RPCMessage): void {
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
        this.#cancel(session, msg)
        return
      }
      this.#sendFromClient(msg)
      return
    }
    // A response to a server-to-client request.
    const key = String(msg.id)
    const target = this.#serverRequests.get(key)
    if (target?.session !== session) return
    this.#serverRequests.delete(key)
    this.#sendFromClient({ ...msg, id: target.id })
  }

  /** A client's notification or answer, as is; one JSON cannot write is dropped (nobody waits). */
  #sendFromClient(msg: RPCMessage): void {
    const line = serialize(msg)
    if (line !== undefined) this.#process.sendLine(line)
  }

  #initializedSent = false

  /**
   * The client cancelled one of its calls (MCP cancellation): the process is told under the
   * bridge's id, and the call ends here at once. Its deadline and progress are dropped, a late
   * answer goes nowhere, and the session's POST stops waiting for it. Cancelling an `initialize` is
   * not allowed (MCP lifecycle), and other sessions may wait for that one's answer: it is ignored,
   * like a cancellation of a call that is not in flight.
   */
  #cancel(session: BridgeSession, msg: RPCMessage): void {
    const params = msg.params as { requestId?: unknown } | undefined
    const found = this.#find(session, params?.requestId)
    if (!found || found[1].method === 'initialize') return
    const [n, p] = found
    // The first subscribe to a resource: others may wait for its outcome, so it runs on at the
    // process; the session that cancelled it just does not take part in it.
    if (p.subscribing !== undefined) {
      this.#subscriptions.withdraw(session, p.subscribing)
      p.withdrawn = true
      this.#dropProgress(n)
      session.rewrites.delete(p.id)
      session.transport.forget(p.id)
      return
    }
    p.deadline.clear()
    this.#pending.delete(n)
    this.#dropProgress(n)
    session.rewrites.delete(p.id)
    this.#process.send({ ...msg, params: { ...params, requestId: n } })
    session.transport.forget(p.id)
  }

  /**
   * Passes a session's request to the process under a bridge id. The message is serialized before
   * anything about it is kept (subscription, progress token, deadline, pending call): one that
   * cannot be written is answered at once and leaves nothing in flight, no id the session could
   * not reuse and no cancellation later for a request the process never got.
   */
  #request(session: BridgeSession, msg: RPCMessage, id: ID, method: string): void {
    const n = this.#next++
    let params = msg.params
    const meta = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta
    const progressToken = meta?.progressToken !== undefined ? `gw-${String(n)}` : undefined
    if (progressToken !== undefined) {
      params = { ...(params as object), _meta: { ...meta, progressToken } }
    }
    const line = serialize({ ...msg, id: n, params })
    if (line === undefined) {
      const error = { code: RPC.invalidRequest, message: 'Invalid Request: cannot pass it on' }
      this.#reply(session, id, method, { jsonrpc: '2.0', id, error })
      return
    }
    let subscribing: string | undefined
    const uri = (msg.params as { uri?: unknown } | undefined)?.uri
    if (method === 'resources/subscribe' && typeof uri === 'string') {
      if (!this.#subscriptions.subscribe(session, id, uri)) return
      subscribing = uri
    }
    if (method === 'resources/unsubscribe' && typeof uri === 'string') {
      if (!this.#subscriptions.unsubscribe(session, id, uri)) return
    }
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
        session.transport.send(reply)
      }
      if (init.result !== undefined) answer()
      else init.waiting.push(answer)
      return
    }
    if (method === 'initialize') this.#init = { params: msg.params, waiting: [] }
    if (progressToken !== undefined) {
      this.#progress.set(progressToken, { session, token: meta?.progressToken, related: id, n })
    }
    // MCP lifecycle §Timeouts: progress for this call restarts the clock, up to maxTimeoutSeconds.
    const deadline = callDeadline({
      timeoutMs: this.#config.timeoutSeconds * 1000,
      maxMs: this.#config.maxTimeoutSeconds * 1000,
      onTimeout: () => {
        const p = this.#pending.get(n)
        if (!p) return
        this.#pending.delete(n)
        this.#dropProgress(n)
        const error = { code: RPC.internalError, message: 'the MCP server did not answer in time' }
        if (p.withdrawn !== true) this.#reply(session, id, method, { jsonrpc: '2.0', id, error })
        // Too late for everyone; should the process still subscribe, it is told to stop.
        if (subscribing !== undefined) this.#subscriptions.settled(subscribing, error, true)
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
    this.#pending.set(n, {
      session,
      id,
      method,
      deadline,
      ...(subscribing !== undefined ? { subscribing } : {}),
    })
    if (!this.#process.sendLine(line)) {
      deadline.clear()
      this.#pending.delete(n)
      this.#dropProgress(n)
      const error = { code: RPC.internalError, message: 'the MCP server is not running' }
      this.#reply(session, id, method, { jsonrpc: '2.0', id, error })
      if (subscribing !== undefined) this.#subscriptions.settled(subscribing, error)
    }
  }

  #fromServer(msg: RPCMessage): void {
    if (typeof msg.method !== 'string') {
      if (typeof msg.id === 'string' && msg.id.startsWith('gw-')) return
      const n = typeof msg.id === 'number' ? msg.id : undefined
      const p = n === undefined ? undefined : this.#pending.get(n)
      if (!p || n === undefined) return
      p.deadline.clear()
      this.#pending.delete(n)
      this.#dropProgress(n)
      if (p.subscribing !== undefined) {
        this.#subscriptions.settled(
          p.subscribing,
          msg.result !== undefined ? undefined : (msg.error ?? { code: RPC.internalError }),
        )
      }
      if (p.method === 'initialize' && this.#init && msg.result !== undefined) {
        this.#init.result = msg.result
        for (const w of this.#init.waiting.splice(0)) w()
      } else if (p.method === 'initialize' && this.#init && msg.result === undefined) {
        const waiting = this.#init.waiting.splice(0)
        this.#init = undefined
        for (const w of waiting) w()
      }
      if (p.withdrawn !== true) this.#reply(p.session, p.id, p.method, { ...msg, id: p.id })
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
      session.transport.send(
        { ...msg, id: key },
        related !== undefined ? { relatedRequestId: related } : undefined,
      )
      return
    }
    if (msg.method === 'notifications/progress') {
      const params = msg.params as { progressToken?: unknown } | undefined
      const entry = this.#progress.get(String(params?.progressToken))
      if (!entry) return
      this.#pending.get(entry.n)?.deadline.progress()
      entry.session.transport.send(
        { ...msg, params: { ...params, progressToken: entry.token } },
        { relatedRequestId: entry.related },
      )
      return
    }
    if (msg.method === 'notifications/cancelled') return
    // A resource update goes to the sessions subscribed to the resource (on a process of one
    // user, or to one it is in), and there to all of that user's 2025 sessions as well.
    if (msg.method === 'notifications/resources/updated') {
      const uri = (msg.params as { uri?: unknown } | undefined)?.uri
      const to =
        typeof uri === 'string'
          ? this.#subscriptions.holdersOf(uri, this.singleUser)
          : new Set<BridgeSession>()
      if (this.singleUser) for (const s of this.#sessions) to.add(s)
      for (const session of to) session.transport.send(msg)
      return
    }
    // Other notifications concern whoever shares the process. List changes go to everyone. A
    // shared process serves several users: there log messages, which may carry one user's data,
    // go nowhere while more than one party uses it (2026-07-28 clients count as one more).
    const method = typeof msg.method === 'string' ? msg.method : ''
    const changed = LIST_CHANGED.test(method)
    if (changed) for (const session of this.#quiet) session.transport.send(msg)
    if (this.#config.mode === 'shared' && this.#sessions.size + this.#quiet.size > 1 && !changed) {
      return
    }
    for (const session of this.#sessions) session.transport.send(msg)
  }

  /**
   * The session a server-to-client request may go to. The request does not say which call it is
   * for: the one session with calls in flight, if there is exactly one. Otherwise, on a process of
   * one user (`user`, `session` mode), the 2025 session that sent the latest request; never a
   * 2026-07-28 call, which could be another client's.
   */
  #askable(): BridgeSession | undefined {
    // Sessions that can answer: attached (a first subscribe outlives its session) and a client's.
    const waiting = new Set(
      [...this.#pending.values()]
        .filter((p) => p.withdrawn !== true)
        .map((p) => p.session)
        .filter((s) => s.internal !== true && (this.#sessions.has(s) || this.#quiet.has(s))),
    )
    if (waiting.size === 1) return [...waiting][0]
    if (this.#config.mode === 'shared') return undefined
    const active = this.active && this.#sessions.has(this.active) ? this.active : undefined
    return active ?? [...this.#sessions].at(-1)
  }

  #reply(session: BridgeSession, id: ID, method: string, msg: RPCMessage): void {
    const fix = session.rewrites.get(id)
    let out = msg
    if (fix) {
      session.rewrites.delete(id)
      // The request it was for, if the methods agree; else none, and every list is filtered.
      out = fix.rewrite(fix.request.method === method ? fix.request : undefined, msg)
    }
    session.transport.send(out)
  }

  /** Forgets the progress tokens of a call that ended (answered, timed out or not sent). */
  /**
   * Forgets the progress of the bridge's request `n`. By `n`, not by the session's id: a client
   * may reuse the id of a withdrawn first subscribe (MCP forbids it), and that call's progress
   * must live on when the subscribe's answer comes.
   */
  #dropProgress(n: number): void {
    for (const [token, entry] of this.#progress) {
      if (entry.n === n) this.#progress.delete(token)
    }
  }

  /** The session's call `id` in flight, with the bridge's id for it. */
  #find(session: BridgeSession, id: unknown): [number, Pending] | undefined {
    for (const entry of this.#pending) {
      const p = entry[1]
      if (p.session === session && p.id === id && p.withdrawn !== true) return entry
    }
    return undefined
  }

  #latest(session: BridgeSession): ID | undefined {
    let found: ID | undefined
    for (const p of this.#pending.values()) {
      if (p.session === session && p.withdrawn !== true) found = p.id
    }
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
    const stopped = { code: RPC.internalError, message: 'the MCP server stopped; try again' }
    for (const p of pending) {
      if (p.subscribing !== undefined) this.#subscriptions.settled(p.subscribing, stopped)
    }
    this.#initFailed()
    this.#progress.clear()
    this.#initializedSent = false
    if (this.#init?.result !== undefined) this.#initializedSent = true // re-sent on restart
    for (const p of pending) {
      p.deadline.clear()
      if (p.withdrawn === true) continue
      this.#reply(p.session, p.id, p.method, {
        jsonrpc: '2.0',
        id: p.id,
        error: { code: RPC.internalError, message: 'the MCP server stopped; try again' },
      })
    }
  }

  async #endSessions(): Promise<void> {
    const all = [...this.#sessions, ...this.#quiet]
    await Promise.allSettled(all.map((s) => s.transport.close()))
    await this.stop()
  }
}
